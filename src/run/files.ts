import { open, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Case } from '../load/dataset.js'
import { errnoCode, fsFailure } from '../load/input-error.js'
import type { Attempt } from '../route/run.js'
import { redact } from '../text/safe.js'
import { summaryJsonChunks, type Summary } from './record.js'

/** The files of a run folder, by what they hold: every writer and reader of a run folder names them from here. */
export const RUN_FILES = {
  summary: 'summary.json',
  results: 'results.jsonl',
  html: 'report.html',
  markdown: 'report.md',
  junit: 'junit.xml',
  confusion: 'confusion.csv',
  /** written by the gate only */
  gate: 'gate.json',
  /** written by overlap --probe only: the probe prompts it routed */
  probes: 'probes.csv',
} as const

/** The run folder `overlap --probe` writes under the config's `out`. */
export const PROBE_FOLDER = 'probes'

/**
 * results.jsonl, a line at a time: one per case × repeat, with the gold set
 * beside the decision, and how it was got (`tries`; `cached` from the
 * journal; `notSent`), so `routecheck merge` can rebuild the attempts exactly.
 */
export function* resultsLines(attempts: readonly Attempt[], cases: readonly Pick<Case, 'id' | 'expected'>[]): Generator<string> {
  const goldOf = inCaseOrder(cases)
  for (const a of attempts) {
    const gold = goldOf(a)
    const d = a.decision
    // Built with Object.assign and key by key, not spreads: a spread of the decision between the line's own keys was
    // a runtime call costing 2 µs a line. The keys land in the same order (a key already there keeps its place).
    const line: Record<string, unknown> = { id: a.caseId, repeat: a.repeat, expected: gold }
    if (d) {
      Object.assign(line, d)
      line.correct = d.invalid === undefined && gold.includes(d.agent)
    } else line.error = a.error ?? 'no decision'
    line.tries = a.tries
    if (a.cached) line.cached = true
    if (a.notSent) line.notSent = true
    if (a.errorKind) line.errorKind = a.errorKind
    yield `${JSON.stringify(line)}\n`
  }
}

/**
 * Each attempt's gold set. Attempts come in case order, then repeat order
 * (RoutedRun), so the cases are walked beside them; attempts in another
 * order are looked up by id.
 */
function inCaseOrder(cases: readonly Pick<Case, 'id' | 'expected'>[]): (a: Attempt) => readonly string[] {
  let byId: Map<string, readonly string[]> | undefined
  let at = 0
  return (a) => {
    if (!byId) {
      if (cases[at]?.id !== a.caseId && cases[at + 1]?.id === a.caseId) at++
      if (cases[at]?.id === a.caseId) return cases[at]!.expected
      byId = new Map(cases.map((c) => [c.id, c.expected]))
    }
    return byId.get(a.caseId) ?? []
  }
}

/** The keys resultsLines puts around a decision: what is left of a line without them is the decision itself. */
export const RESULT_LINE_KEYS = ['id', 'repeat', 'expected', 'correct', 'error', 'tries', 'cached', 'notSent', 'errorKind'] as const

/**
 * The run record, in two steps. results.jsonl goes first, so the caller can
 * drop what only it needed (every agent's score of every request) before
 * building the summary.
 */
export function writeResults(dir: string, attempts: readonly Attempt[], cases: readonly Pick<Case, 'id' | 'expected'>[]): Promise<string> {
  return writeAtomic(path.join(dir, RUN_FILES.results), resultsLines(attempts, cases))
}

export function writeSummary(dir: string, summary: Summary): Promise<string> {
  return writeAtomic(path.join(dir, RUN_FILES.summary), summaryJsonChunks(summary))
}

/**
 * A file routecheck could not write: the disk is full, the file system
 * read-only, permission denied. One sentence naming the path and the
 * cause; the CLI exits 3 (the run's work is not lost: it is in the journal).
 */
export class WriteError extends Error {
  override name = 'WriteError'
  readonly file: string
  /** the cause in words, with its errno code: "no space left on the device (ENOSPC)" */
  readonly reason: string
  readonly code: string | undefined
  constructor(file: string, reason: string, code: string | undefined, message = `could not write ${file}: ${reason}`) {
    super(message)
    this.file = file
    this.reason = reason
    this.code = code
  }
  /** A file-system error while writing `file`, in words; any other error as it is. */
  static of(file: string, e: unknown): unknown {
    if (e instanceof WriteError || errnoCode(e) === undefined) return e
    return new WriteError(file, fsFailure(e), errnoCode(e))
  }
}

/** Writes are gathered into pieces of this size: big enough that a 50 MB summary.json is ~800 writes, small enough never to matter in memory. */
const WRITE_CHUNK_BYTES = 64 * 1024
/** Room for a write's UTF-8 (at most 3 bytes a character) with a piece of up to 21,000 characters past WRITE_CHUNK_BYTES. */
const ENCODE_BUFFER_BYTES = 256 * 1024

/**
 * Each file goes to a temporary name first and is renamed into place, so a
 * reader (or a killed process) never sees half a file. A failed write
 * (disk full, read-only) removes the temporary file and throws a WriteError
 * naming the file. `keep` is written first byte for byte, unredacted: a
 * file's own bytes that routecheck adds to (`generate --append`) are the
 * user's, not routecheck's to change.
 */
export async function writeAtomic(file: string, text: string | Iterable<string>, keep?: Uint8Array): Promise<string> {
  const tmp = `${file}.${process.pid}.tmp`
  try {
    await writeChunks(tmp, typeof text === 'string' ? [text] : text, keep)
    await rename(tmp, file)
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined)
    throw WriteError.of(file, e)
  }
  return file
}

/**
 * Writes pieces to a file through one descriptor, joined into writes of
 * about WRITE_CHUNK_BYTES, each redacted whole: every file routecheck writes
 * passes the one redaction step, so no key or token ever lands on disk. A
 * piece is never split, so a secret inside one is always seen whole. (A
 * 20,000-line results.jsonl was 20,000 stream writes and redactions, a tenth
 * of a lexical run's time.) The next write is made while the last one is
 * still going to the disk, and every failure (ENOSPC, EFBIG, EIO) is a
 * rejection here, never a stream's unhandled 'error' (an error close()
 * reports, as NFS does, counts too).
 */
async function writeChunks(file: string, chunks: Iterable<string>, keep?: Uint8Array): Promise<void> {
  const handle = await open(file, 'w')
  let writing: Promise<unknown> | undefined = keep && keep.length > 0 ? handle.write(keep) : undefined
  // One buffer the text is encoded into, each write's turn: a new buffer a write was 50 MB of them at 100,000 prompts.
  const bytes = Buffer.allocUnsafe(ENCODE_BUFFER_BYTES)
  const write = async (pieces: string[]) => {
    // Joined into one flat string before redaction reads it, rather than grown piece by piece into a rope to flatten.
    const text = redact(pieces.length === 1 ? pieces[0]! : pieces.join(''))
    await writing
    // A UTF-16 code unit is at most 3 bytes of UTF-8; a longer text is written as it is.
    writing = text.length * 3 <= bytes.length ? handle.write(bytes, 0, bytes.write(text, 0, 'utf8')) : handle.write(text)
  }
  try {
    let pending: string[] = []
    let size = 0
    for (const chunk of chunks) {
      pending.push(chunk)
      size += chunk.length
      if (size >= WRITE_CHUNK_BYTES) {
        await write(pending)
        pending = []
        size = 0
      }
    }
    if (size > 0) await write(pending)
    await writing
  } finally {
    // A failure while the pieces are made leaves no write running behind it, nor its rejection unheard.
    await writing?.catch(() => undefined)
    await handle.close()
  }
}
