import { mkdir, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Case } from '../load/dataset.js'
import type { Attempt } from '../route/run.js'
import { summaryJson, type Summary } from './summary.js'

/** results.jsonl: one line per case × repeat, with the gold set beside the decision. */
export function resultsJsonl(attempts: readonly Attempt[], cases: readonly Case[]): string {
  const expected = new Map(cases.map((c) => [c.id, c.expected]))
  return attempts
    .map((a) => {
      const gold = expected.get(a.caseId) ?? []
      const d = a.decision
      const line = d
        ? { id: a.caseId, repeat: a.repeat, expected: gold, ...d, correct: d.invalid === undefined && gold.includes(d.agent) }
        : { id: a.caseId, repeat: a.repeat, expected: gold, error: a.error ?? 'no decision' }
      return `${JSON.stringify(line)}\n`
    })
    .join('')
}

/**
 * Writes the run's files. Each goes to a temporary name first and is renamed
 * into place, so a reader (or a killed process) never sees half a file.
 */
export async function writeRunFolder(dir: string, files: { summary: Summary; attempts: readonly Attempt[]; cases: readonly Case[] }): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const written = [
    await writeAtomic(path.join(dir, 'results.jsonl'), resultsJsonl(files.attempts, files.cases)),
    await writeAtomic(path.join(dir, 'summary.json'), summaryJson(files.summary)),
  ]
  return written
}

export async function writeAtomic(file: string, text: string): Promise<string> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, text)
  await rename(tmp, file)
  return file
}
