import { createWriteStream } from 'node:fs'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import path from 'node:path'
import type { Case } from '../load/dataset.js'
import type { Attempt } from '../route/run.js'
import { redact } from '../text/safe.js'
import { summaryJsonChunks, type Summary } from './record.js'

/** results.jsonl, a line at a time: one per case × repeat, with the gold set beside the decision. */
export function* resultsLines(attempts: readonly Attempt[], cases: readonly Case[]): Generator<string> {
  const expected = new Map(cases.map((c) => [c.id, c.expected]))
  for (const a of attempts) {
    const gold = expected.get(a.caseId) ?? []
    const d = a.decision
    const line = d
      ? { id: a.caseId, repeat: a.repeat, expected: gold, ...d, correct: d.invalid === undefined && gold.includes(d.agent) }
      : { id: a.caseId, repeat: a.repeat, expected: gold, error: a.error ?? 'no decision' }
    yield `${JSON.stringify(line)}\n`
  }
}

/**
 * The run record, in two steps. results.jsonl goes first, so the caller can
 * drop what only it needed (every agent's score of every request) before
 * building the summary.
 */
export async function writeResults(dir: string, attempts: readonly Attempt[], cases: readonly Case[]): Promise<string> {
  await mkdir(dir, { recursive: true })
  return writeAtomic(path.join(dir, 'results.jsonl'), resultsLines(attempts, cases))
}

export function writeSummary(dir: string, summary: Summary): Promise<string> {
  return writeAtomic(path.join(dir, 'summary.json'), summaryJsonChunks(summary))
}

/** Each file goes to a temporary name first and is renamed into place, so a reader (or a killed process) never sees half a file. */
export async function writeAtomic(file: string, text: string | Iterable<string>): Promise<string> {
  const tmp = `${file}.${process.pid}.tmp`
  // Every file routecheck writes passes the one redaction step: no key or token ever lands on disk.
  if (typeof text === 'string') await writeFile(tmp, redact(text))
  else await writeChunks(tmp, redacted(text))
  await rename(tmp, file)
  return file
}

function* redacted(chunks: Iterable<string>): Generator<string> {
  for (const chunk of chunks) yield redact(chunk)
}

/** Streams pieces to a file, waiting when the stream asks to, so big files are never one string in memory. */
async function writeChunks(file: string, chunks: Iterable<string>): Promise<void> {
  const out = createWriteStream(file)
  try {
    for (const chunk of chunks) if (!out.write(chunk)) await once(out, 'drain')
  } finally {
    out.end()
    await once(out, 'close')
  }
}
