import { randomBytes } from 'node:crypto'
import { closeSync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { sha256 } from '../load/catalogue.js'
import { errnoCode, fsFailure, InputError } from '../load/input-error.js'
import { decisionSchema, type Decision } from './router.js'
import { redact } from '../text/safe.js'

/**
 * The run journal: every finished request, appended as one JSON line the
 * moment it finishes. A killed run, run again, finds its answers here and
 * sends only what is missing. Holds decisions and usage, never a key.
 *
 * One file per (router cacheKey × catalogue fingerprint), so a changed
 * description or model starts a fresh journal and can never be answered
 * from a stale one. Each line is written with a single write() on an
 * O_APPEND descriptor, which keeps lines whole when two runs share a cache.
 */
const headerSchema = z.object({ routecheckJournal: z.literal(1), cacheKey: z.string(), catalogue: z.string() })
const entrySchema = z.object({ key: z.string(), decision: decisionSchema })
/**
 * --batch adds line types, written the moment they happen: a batch about to be created (the
 * intent: the custom_ids it will hold, their count, the time, a nonce), a batch created (its id,
 * the custom_ids it holds, the intent it settles), an intent settled without a batch, and a
 * batch whose results were all taken in. A run killed while it waits, run again, reattaches to
 * the batches not yet taken in; one killed during an upload finds its intent unsettled and looks
 * for the batch among the account's (batch.ts). Either way it does not pay twice. Readers without
 * them skip such lines (with a warning) and send those requests afresh.
 */
const batchLineSchema = z.object({
  batch: z.object({
    id: z.string().min(1),
    created: z.string(),
    customIds: z.array(z.string()),
    /** the nonce of the intent it settles */
    intent: z.string().optional(),
    /** found among the account's batches after an interrupted upload: it holds the intent's custom_ids as far as the list can tell */
    recovered: z.literal(true).optional(),
  }),
})
const batchDoneSchema = z.object({ batchDone: z.string().min(1) })
// `created` bounds the list a rerun reads: a time, or the line is skipped.
const intentLineSchema = z.object({ batchIntent: z.object({ nonce: z.string().min(1), created: z.iso.datetime(), requests: z.number().int().positive(), customIds: z.array(z.string()) }) })
const intentDoneSchema = z.object({ batchIntentDone: z.string().min(1) })

/** A Message Batch a run created, as the journal has it. */
export type JournalBatch = {
  id: string
  created: string
  customIds: readonly string[]
  /** its results were all taken in */
  done: boolean
  /** reattached after an interrupted upload: its custom_ids are the intent's, not known from the API's answer */
  recovered: boolean
}

/** A batch about to be created, noted (and synced to disk) before its upload starts; settled by its batch line or an intent-done line. */
export type BatchIntent = { nonce: string; created: string; requests: number; customIds: readonly string[] }

export type Journal = {
  file: string
  get(prompt: string, repeat: number): Decision | undefined
  append(prompt: string, repeat: number, decision: Decision): void
  /** entries read from disk when opened */
  loaded: number
  /** a cut-off last line (a run killed mid-write) was removed */
  repairedTail: boolean
  /** lines that could not be read and were skipped */
  skippedLines: number[]
  /** a finished request found by its key (a batch result names its request by the key's custom_id) */
  getKey(key: string): Decision | undefined
  appendKey(key: string, decision: Decision): void
  /** the batches created by runs on this journal, in the order they were created */
  batches(): readonly JournalBatch[]
  /** notes a batch the moment it is created (or found after an interrupted upload), settling its intent */
  appendBatch(batch: { id: string; customIds: readonly string[]; intent?: string; recovered?: boolean }): void
  /** notes that a batch's results were all taken in */
  batchDone(id: string): void
  /** the batches about to be created that no line settled yet: uploads a killed run may have left without an id, oldest first */
  intents(): readonly BatchIntent[]
  /** notes, durably, a batch about to be created, before its upload starts */
  appendIntent(customIds: readonly string[]): BatchIntent
  /** settles an intent that left no batch to follow (none reached the API, or no telling which did) */
  intentDone(nonce: string): void
  /** why appending stopped (a full disk), if it did: the run goes on, but what it finishes after that is not kept */
  readonly writeFailure: string | undefined
  close(): void
}

export function attemptKey(prompt: string, repeat: number): string {
  return `${sha256(prompt).slice(0, 32)}:${repeat}`
}

/**
 * Which journal a request belongs to: the router's settings and the catalogue, hashed. The
 * journal file is named by it, and each batch custom_id carries its first 12 hex.
 */
function journalIdentity(cacheKey: string | undefined, catalogueFingerprint: string): string {
  return sha256(`${cacheKey ?? ''}\n${catalogueFingerprint}`)
}

/** The part of a batch custom_id that names its journal (the router's settings and the catalogue). */
export function batchTag(cacheKey: string | undefined, catalogueFingerprint: string): string {
  return journalIdentity(cacheKey, catalogueFingerprint).slice(0, 12)
}

/**
 * A Message Batch's custom_id for a request (the API allows ^[a-zA-Z0-9_-]{1,64}$; this is at most
 * 32 + 1 + 4 + 1 + 12): its journal key, ':' as '_', then its journal's tag. The tag is why a batch
 * found after an interrupted upload can be trusted: a batch another run uploaded for other
 * descriptions (or another model) holds the same prompts under other custom_ids, so none of its
 * answers is read as this run's.
 */
export function batchCustomId(key: string, tag: string): string {
  return `${key.replace(':', '_')}_${tag}`
}

/** The journal key of a custom_id of this journal's (`tag`), or undefined for another journal's. */
export function keyOfCustomId(customId: string, tag: string): string | undefined {
  const at = customId.lastIndexOf('_')
  return at > 0 && customId.slice(at + 1) === tag ? customId.slice(0, at).replace('_', ':') : undefined
}

export function journalPath(cacheDir: string, cacheKey: string, catalogueFingerprint: string): string {
  return path.join(cacheDir, `${journalIdentity(cacheKey, catalogueFingerprint).slice(0, 24)}.jsonl`)
}

/** Opens (or starts) the journal. `readOnly` looks without writing anything, for --dry-run. */
export function openJournal(cacheDir: string, cacheKey: string, catalogueFingerprint: string, opts: { readOnly?: boolean } = {}): Journal {
  const file = journalPath(cacheDir, cacheKey, catalogueFingerprint)
  checkJournalPaths(cacheDir, file)
  const entries = new Map<string, Decision>()
  const ledger = newLedgerState()
  const skippedLines: number[] = []
  let repairedTail = false
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw cannotUse(file, 'the run journal', e)
    // no journal yet
  }

  if (text.length > 0) {
    if (!opts.readOnly) {
      const whole = repairTail(file, text, 'the run journal')
      repairedTail = whole.length < text.length
      text = whole
    }
    const lines = text.split('\n')
    lines.pop() // the part after the last newline: empty, or a cut-off line in read-only mode
    const header = headerSchema.safeParse(safeJson(lines[0] ?? ''))
    if (!header.success || header.data.cacheKey !== cacheKey || header.data.catalogue !== catalogueFingerprint) {
      throw new InputError([{ file, line: 1, message: 'this is not a routecheck run journal for this router and catalogue (its first line is unreadable or belongs to another run)', fix: 'delete the file (its requests will be sent again), or run with --no-cache' }])
    }
    lines.slice(1).forEach((line, i) => {
      const json = safeJson(line)
      const entry = entrySchema.safeParse(json)
      if (entry.success) {
        entries.set(entry.data.key, entry.data.decision)
        return
      }
      if (readBatchLine(json, ledger)) return
      if (!headerSchema.safeParse(json).success) skippedLines.push(i + 2) // a second header: two runs started the file at once
    })
  }

  const get = (prompt: string, repeat: number) => entries.get(attemptKey(prompt, repeat))
  const reading = { file, loaded: entries.size, repairedTail, skippedLines, get, getKey: (key: string) => entries.get(key), ...ledgerReading(ledger) }
  if (opts.readOnly) {
    return { ...reading, writeFailure: undefined, append: () => {}, appendKey: () => {}, ...READ_ONLY_LEDGER, close: () => {} }
  }
  let fd: number
  try {
    mkdirSync(cacheDir, { recursive: true })
    fd = openSync(file, 'a')
  } catch (e) {
    throw cannotUse(file, 'the run journal', e)
  }
  const { write, line, failure } = lineWriter(fd)
  if (text.length === 0) write(`${JSON.stringify({ routecheckJournal: 1, cacheKey, catalogue: catalogueFingerprint, created: new Date().toISOString() })}\n`)
  const appendKey = (key: string, decision: Decision) => {
    entries.set(key, decision)
    line({ key, decision })
  }
  return {
    ...reading,
    get writeFailure() {
      return failure()
    },
    append: (prompt, repeat, decision) => appendKey(attemptKey(prompt, repeat), decision),
    appendKey,
    ...batchWriter(ledger, line),
    close: () => closeSync(fd),
  }
}

/** The batches a journal notes: created (the moment the API returns the id) and taken in. `Journal` is one; so is the drafting requests' ledger. */
export type BatchLedger = Pick<Journal, 'batches' | 'appendBatch' | 'batchDone' | 'intents' | 'appendIntent' | 'intentDone'>

/** The file of the drafting requests' batches (generate, improve, probes), beside their answers in the cache folder. */
export function batchLedgerPath(cacheDir: string): string {
  return path.join(cacheDir, 'tool-calls', 'batches.jsonl')
}

/**
 * The ledger of the drafting requests' batches: the run journal's batch lines alone, in a file of
 * their own. Their answers are kept one file each (tool-call.ts); only which batch holds which
 * request needs a journal, so that a killed `generate --batch`, run again, reattaches instead of
 * submitting twice. `readOnly` looks without writing, for --dry-run.
 */
export function openBatchLedger(cacheDir: string, opts: { readOnly?: boolean } = {}): BatchLedger & { file: string; close(): void } {
  const file = batchLedgerPath(cacheDir)
  const what = 'the ledger of drafting batches'
  checkJournalPaths(cacheDir, file, what)
  let text = ''
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw cannotUse(file, what, e)
  }
  if (!opts.readOnly) text = repairTail(file, text, what)
  const ledger = newLedgerState()
  // Lines that are not batch lines (none are written) are skipped: the ledger only ever saves a resubmission.
  for (const l of text.split('\n')) readBatchLine(safeJson(l), ledger)
  const reading = { file, ...ledgerReading(ledger) }
  if (opts.readOnly) return { ...reading, ...READ_ONLY_LEDGER, close: () => {} }
  let fd: number
  try {
    mkdirSync(path.dirname(file), { recursive: true })
    fd = openSync(file, 'a')
  } catch (e) {
    throw cannotUse(file, what, e)
  }
  return { ...reading, ...batchWriter(ledger, lineWriter(fd).line), close: () => closeSync(fd) }
}

/**
 * One write() per line on an O_APPEND descriptor (whole lines when two runs share the file), every
 * line redacted. A disk that fills while routing stops the journal, not the run: the answers are
 * kept in memory and the run folder says the rest.
 */
function lineWriter(fd: number): { write(chunk: string): void; line(value: unknown, durable?: boolean): void; failure(): string | undefined } {
  let failure: string | undefined
  const write = (chunk: string, durable = false) => {
    if (failure !== undefined) return
    try {
      writeSync(fd, chunk)
    } catch (e) {
      if (errnoCode(e) === undefined) throw e
      failure = fsFailure(e)
      return
    }
    if (!durable) return
    // A written line survives a killed process; synced, it survives the machine going down too. A file system that cannot sync keeps the written line.
    try {
      fdatasyncSync(fd)
    } catch (e) {
      if (errnoCode(e) === undefined) throw e
    }
  }
  return { write, line: (value, durable) => write(`${redact(JSON.stringify(value))}\n`, durable), failure: () => failure }
}

/** What a journal or ledger knows of its batches, as its lines say. */
type LedgerState = { batches: Map<string, JournalBatch>; intents: Map<string, BatchIntent> }

const newLedgerState = (): LedgerState => ({ batches: new Map(), intents: new Map() })

function ledgerReading(state: LedgerState): Pick<BatchLedger, 'batches' | 'intents'> {
  return { batches: () => [...state.batches.values()], intents: () => [...state.intents.values()] }
}

/** --dry-run's ledger: reads, writes nothing. */
const READ_ONLY_LEDGER: Pick<BatchLedger, 'appendBatch' | 'batchDone' | 'appendIntent' | 'intentDone'> = {
  appendBatch: () => {},
  batchDone: () => {},
  appendIntent: (customIds) => newIntent(customIds),
  intentDone: () => {},
}

function newIntent(customIds: readonly string[]): BatchIntent {
  return { nonce: randomBytes(8).toString('hex'), created: new Date().toISOString(), requests: customIds.length, customIds: [...customIds] }
}

/** The batch lines' writer. The intent and batch lines are synced to disk: one each a batch, and what stands between a kill and a second bill. */
function batchWriter(state: LedgerState, line: (value: unknown, durable?: boolean) => void): Pick<BatchLedger, 'appendBatch' | 'batchDone' | 'appendIntent' | 'intentDone'> {
  return {
    appendBatch({ id, customIds, intent, recovered }) {
      const batch = { id, created: new Date().toISOString(), customIds: [...customIds], ...(intent !== undefined ? { intent } : {}), ...(recovered ? { recovered } : {}) }
      applyBatch(state, batch)
      line({ batch }, true)
    },
    batchDone(id) {
      const known = state.batches.get(id)
      if (known) known.done = true
      line({ batchDone: id })
    },
    appendIntent(customIds) {
      const intent = newIntent(customIds)
      state.intents.set(intent.nonce, intent)
      line({ batchIntent: intent }, true)
      return intent
    },
    intentDone(nonce) {
      state.intents.delete(nonce)
      line({ batchIntentDone: nonce })
    },
  }
}

/** A batch line: starts a batch (one under an id seen before, a server reusing ids, afresh) and settles its intent. */
function applyBatch(state: LedgerState, batch: z.infer<typeof batchLineSchema>['batch']): void {
  const { intent, recovered, ...rest } = batch
  state.batches.delete(batch.id)
  state.batches.set(batch.id, { ...rest, done: false, recovered: recovered === true })
  if (intent !== undefined) state.intents.delete(intent)
}

/** Reads a batch, batch-done, intent or intent-done line into `state`; false for any other line. */
function readBatchLine(json: unknown, state: LedgerState): boolean {
  const batch = batchLineSchema.safeParse(json)
  if (batch.success) {
    applyBatch(state, batch.data.batch)
    return true
  }
  const done = batchDoneSchema.safeParse(json)
  if (done.success) {
    const known = state.batches.get(done.data.batchDone)
    if (known) known.done = true
    return true
  }
  const intent = intentLineSchema.safeParse(json)
  if (intent.success) {
    state.intents.set(intent.data.batchIntent.nonce, intent.data.batchIntent)
    return true
  }
  const intentDone = intentDoneSchema.safeParse(json)
  if (!intentDone.success) return false
  state.intents.delete(intentDone.data.batchIntentDone)
  return true
}

/** A last line without its newline was cut off mid-write (a run killed while writing): dropped, so the next append starts clean. */
function repairTail(file: string, text: string, what: string): string {
  if (text.length === 0 || text.endsWith('\n')) return text
  const keep = text.slice(0, text.lastIndexOf('\n') + 1)
  try {
    const fd = openSync(file, 'r+')
    ftruncateSync(fd, Buffer.byteLength(keep))
    closeSync(fd)
  } catch (e) {
    throw cannotUse(file, what, e)
  }
  return keep
}

const NO_CACHE = 'or run with --no-cache'
const WORDS = { file: 'a file', dir: 'a folder', other: 'neither a file nor a folder' } as const

/**
 * The cache folder must be a folder (or not exist yet) and the journal a file
 * (or not exist yet): anything else is bad input naming the path, found
 * before a request is sent or a file written.
 */
function checkJournalPaths(cacheDir: string, file: string, what = 'the run journal'): void {
  const journal = checkCacheFolder(cacheDir) ? kindOf(file) : undefined
  if (journal !== undefined && journal !== 'file') {
    throw new InputError([{ file, message: `${what} is ${journal === 'under-file' ? 'inside a file' : WORDS[journal]}, not a file`, fix: `remove it (the requests it would hold are sent again), ${NO_CACHE}` }])
  }
}

/**
 * Whether the cache folder (config `cacheDir`) exists: true when it is a folder, false when it is
 * not there yet; anything else is bad input naming it. For whatever else keeps files there
 * (the captured requests), to call before writing.
 */
export function checkCacheFolder(cacheDir: string): boolean {
  const dir = kindOf(cacheDir)
  if (dir !== undefined && dir !== 'dir') {
    const what = dir === 'under-file' ? `lies under ${fileOnTheWay(cacheDir)}, which is a file, not a folder` : `is ${WORDS[dir]}, not a folder`
    throw new InputError([{ file: cacheDir, message: `the cache folder (config "cacheDir") ${what}`, fix: `remove or rename that file, set "cacheDir" in routecheck.config.json to a folder, ${NO_CACHE}` }])
  }
  return dir === 'dir'
}

/** The first part of the path that is a file. */
function fileOnTheWay(p: string): string {
  let at = path.dirname(p)
  while (kindOf(at) === 'under-file' && path.dirname(at) !== at) at = path.dirname(at)
  return at
}

/** What is at a path: nothing (undefined), a file, a folder, something else, or a file where a folder on the way should be. */
function kindOf(p: string): keyof typeof WORDS | 'under-file' | undefined {
  try {
    const st = statSync(p)
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other'
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT') return undefined
    if (code === 'ENOTDIR') return 'under-file'
    throw cannotUse(p, 'the cache folder', e)
  }
}

/** A file-system error as bad input naming the path; any other error as it is. */
function cannotUse(p: string, what: string, e: unknown): unknown {
  if (errnoCode(e) === undefined) return e
  return new InputError([{ file: p, message: `${what} cannot be used (${fsFailure(e)})`, fix: `check the path and its permissions, set "cacheDir" in routecheck.config.json, ${NO_CACHE}` }])
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line)
  } catch {
    return undefined
  }
}
