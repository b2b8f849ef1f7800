import { mkdir, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Case } from '../load/dataset.js'
import type { Attempt } from '../route/run.js'
import type { Flip } from '../gate/compare.js'
import type { GateOutcome } from './gate-text.js'
import { renderHtml } from './html.js'
import { renderJunit } from './junit.js'
import { renderMarkdown } from './markdown.js'
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
  return [
    await writeAtomic(path.join(dir, 'results.jsonl'), resultsJsonl(files.attempts, files.cases)),
    await writeAtomic(path.join(dir, 'summary.json'), summaryJson(files.summary)),
    ...(await writeReports(dir, files.summary, files.cases)),
  ]
}

/** report.md, junit.xml and report.html of one run; with a gate outcome, its before/after and flips too. */
export async function writeReports(dir: string, summary: Summary, cases: readonly Pick<Case, 'id' | 'prompt'>[], gate?: GateOutcome): Promise<string[]> {
  const prompts = new Map([[summary.dataset.path, new Map(cases.map((c) => [c.id, c.prompt]))]])
  const comparison = gate?.comparisons.find((c) => c.path === summary.dataset.path)
  const flips = new Map<string, readonly Flip[]>(comparison ? [[summary.dataset.path, comparison.flips]] : [])
  const gateForThis = gate && comparison ? { ...gate, comparisons: [comparison] } : gate
  return [
    await writeAtomic(path.join(dir, 'report.md'), renderMarkdown([summary], gateForThis)),
    await writeAtomic(path.join(dir, 'junit.xml'), renderJunit([summary], prompts, flips)),
    await writeAtomic(path.join(dir, 'report.html'), renderHtml(summary, gateForThis, { prompts: prompts.get(summary.dataset.path) })),
  ]
}

export async function writeAtomic(file: string, text: string): Promise<string> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, text)
  await rename(tmp, file)
  return file
}
