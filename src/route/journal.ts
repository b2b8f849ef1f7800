import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
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
 * --batch adds two line types, written the moment they happen: a batch created (its id and the
 * custom_ids it holds), and a batch whose results were all taken in. A run killed in between,
 * run again, reattaches to the batches not yet taken in instead of paying for them twice.
 * Readers without them skip such lines (with a warning) and send those requests afresh.
 */
const batchLineSchema = z.object({ batch: z.object({ id: z.string().min(1), created: z.string(), customIds: z.array(z.string()) }) })
const batchDoneSchema = z.object({ batchDone: z.string().min(1) })

/** A Message Batch a run created, as the journal has it. */
export type JournalBatch = { id: string; created: string; customIds: readonly string[]; /** its results were all taken in */ done: boolean }

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
  /** notes a batch the moment it is created */
  appendBatch(batch: { id: string; customIds: readonly string[] }): void
  /** notes that a batch's results were all taken in */
  batchDone(id: string): void
  /** why appending stopped (a full disk), if it did: the run goes on, but what it finishes after that is not kept */
  readonly writeFailure: string | undefined
  close(): void
}

export function attemptKey(prompt: string, repeat: number): string {
  return `${sha256(prompt).slice(0, 32)}:${repeat}`
}

/** A Message Batch's custom_id for a request (the API allows ^[a-zA-Z0-9_-]{1,64}$): its journal key, ':' as '_'. */
export function batchCustomId(key: string): string {
  return key.replace(':', '_')
}

export function keyOfCustomId(customId: string): string {
  return customId.replace('_', ':')
}

export function journalPath(cacheDir: string, cacheKey: string, catalogueFingerprint: string): string {
  return path.join(cacheDir, `${sha256(`${cacheKey}\n${catalogueFingerprint}`).slice(0, 24)}.jsonl`)
}

/** Opens (or starts) the journal. `readOnly` looks without writing anything, for --dry-run. */
export function openJournal(cacheDir: string, cacheKey: string, catalogueFingerprint: string, opts: { readOnly?: boolean } = {}): Journal {
  const file = journalPath(cacheDir, cacheKey, catalogueFingerprint)
  checkJournalPaths(cacheDir, file)
  const entries = new Map<string, Decision>()
  const batches = new Map<string, JournalBatch>()
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
      if (readBatchLine(json, batches)) return
      if (!headerSchema.safeParse(json).success) skippedLines.push(i + 2) // a second header: two runs started the file at once
    })
  }

  const get = (prompt: string, repeat: number) => entries.get(attemptKey(prompt, repeat))
  const reading = { file, loaded: entries.size, repairedTail, skippedLines, get, getKey: (key: string) => entries.get(key), batches: () => [...batches.values()] }
  if (opts.readOnly) {
    return { ...reading, writeFailure: undefined, append: () => {}, appendKey: () => {}, appendBatch: () => {}, batchDone: () => {}, close: () => {} }
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
    ...batchWriter(batches, line),
    close: () => closeSync(fd),
  }
}

/** The batches a journal notes: created (the moment the API returns the id) and taken in. `Journal` is one; so is the drafting requests' ledger. */
export type BatchLedger = Pick<Journal, 'batches' | 'appendBatch' | 'batchDone'>

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
  const batches = new Map<string, JournalBatch>()
  // Lines that are not batch lines (none are written) are skipped: the ledger only ever saves a resubmission.
  for (const l of text.split('\n')) readBatchLine(safeJson(l), batches)
  const reading = { file, batches: () => [...batches.values()] }
  if (opts.readOnly) return { ...reading, appendBatch: () => {}, batchDone: () => {}, close: () => {} }
  let fd: number
  try {
    mkdirSync(path.dirname(file), { recursive: true })
    fd = openSync(file, 'a')
  } catch (e) {
    throw cannotUse(file, what, e)
  }
  return { ...reading, ...batchWriter(batches, lineWriter(fd).line), close: () => closeSync(fd) }
}

/**
 * One write() per line on an O_APPEND descriptor (whole lines when two runs share the file), every
 * line redacted. A disk that fills while routing stops the journal, not the run: the answers are
 * kept in memory and the run folder says the rest.
 */
function lineWriter(fd: number): { write(chunk: string): void; line(value: unknown): void; failure(): string | undefined } {
  let failure: string | undefined
  const write = (chunk: string) => {
    if (failure !== undefined) return
    try {
      writeSync(fd, chunk)
    } catch (e) {
      if (errnoCode(e) === undefined) throw e
      failure = fsFailure(e)
    }
  }
  return { write, line: (value) => write(`${redact(JSON.stringify(value))}\n`), failure: () => failure }
}

function batchWriter(batches: Map<string, JournalBatch>, line: (value: unknown) => void): Pick<BatchLedger, 'appendBatch' | 'batchDone'> {
  return {
    appendBatch({ id, customIds }) {
      const batch = { id, created: new Date().toISOString(), customIds: [...customIds] }
      batches.delete(id)
      batches.set(id, { ...batch, done: false })
      line({ batch })
    },
    batchDone(id) {
      const known = batches.get(id)
      if (known) known.done = true
      line({ batchDone: id })
    },
  }
}

/** Reads a batch line or a batch-done line into `batches`; false for any other line. */
function readBatchLine(json: unknown, batches: Map<string, JournalBatch>): boolean {
  const batch = batchLineSchema.safeParse(json)
  // A batch line starts a batch; one under an id seen before (a server reusing ids) starts it afresh.
  if (batch.success) {
    batches.delete(batch.data.batch.id)
    batches.set(batch.data.batch.id, { ...batch.data.batch, done: false })
    return true
  }
  const done = batchDoneSchema.safeParse(json)
  if (!done.success) return false
  const known = batches.get(done.data.batchDone)
  if (known) known.done = true
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
