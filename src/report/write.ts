import path from 'node:path'
import type { Case } from '../load/dataset.js'
import type { Flip } from '../gate/compare.js'
import type { GateOutcome } from '../gate/outcome.js'
import { writeAtomic } from '../run/files.js'
import type { Summary } from '../run/record.js'
import { renderHtml } from './html.js'
import { renderJunit } from './junit.js'
import { renderMarkdown } from './markdown.js'

/**
 * The reports of one run folder: report.md, junit.xml and report.html; with a
 * gate outcome, its before/after and flips too, and gate.json.
 */
export async function writeReports(dir: string, summary: Summary, cases: readonly Pick<Case, 'id' | 'prompt'>[], gate?: GateOutcome): Promise<string[]> {
  const prompts = new Map([[summary.dataset.path, new Map(cases.map((c) => [c.id, c.prompt]))]])
  const comparison = gate?.comparisons.find((c) => c.path === summary.dataset.path)
  const flips = new Map<string, readonly Flip[]>(comparison ? [[summary.dataset.path, comparison.flips]] : [])
  const gateForThis = gate && comparison ? { ...gate, comparisons: [comparison] } : gate
  const written = [
    await writeAtomic(path.join(dir, 'report.md'), renderMarkdown([summary], gateForThis)),
    await writeAtomic(path.join(dir, 'junit.xml'), renderJunit([summary], prompts, flips)),
    await writeAtomic(path.join(dir, 'report.html'), renderHtml(summary, gateForThis, { prompts: prompts.get(summary.dataset.path) })),
  ]
  if (gate) {
    const record = { passed: gate.verdict.passed, failures: gate.verdict.failures, changes: gate.changes, comparison }
    written.push(await writeAtomic(path.join(dir, 'gate.json'), `${JSON.stringify(record, null, 2)}\n`))
  }
  return written
}
