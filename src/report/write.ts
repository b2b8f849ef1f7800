import path from 'node:path'
import type { Case } from '../load/dataset.js'
import type { Flip } from '../gate/compare.js'
import type { GateOutcome } from '../gate/outcome.js'
import { RUN_FILES, writeAtomic } from '../run/files.js'
import type { Summary } from '../run/record.js'
import { junitChunks } from './junit.js'
import { renderMarkdown } from './markdown.js'
import { phaseEnd } from '../text/timing.js'

/**
 * The reports of one run folder: report.md, junit.xml, report.html and
 * confusion.csv; with a gate outcome, its before/after and flips too, and
 * gate.json. They are written into the run's staging folder, which replaces
 * the earlier run folder whole, so a gate.json an earlier gate left there
 * is gone with it: no stale verdict beside a new run.
 */
export async function writeReports(dir: string, summary: Summary, cases: readonly Pick<Case, 'id' | 'prompt'>[], gate?: GateOutcome): Promise<string[]> {
  // The cases' prompts by id, for a summary whose cases lack theirs: made only if one does (a map of 100,000 ids cost more than the lookups it served).
  let byId: Map<string, string> | undefined
  const promptsById = { get: (id: string) => (byId ??= new Map(cases.map((c) => [c.id, c.prompt]))).get(id) }
  const prompts = new Map([[summary.dataset.path, promptsById]])
  const comparison = gate?.comparisons.find((c) => c.path === summary.dataset.path)
  const flips = new Map<string, readonly Flip[]>(comparison ? [[summary.dataset.path, comparison.flips]] : [])
  const gateForThis = gate && comparison ? { ...gate, comparisons: [comparison] } : gate
  const written: string[] = []
  const write = async (name: string, text: () => string | Iterable<string>) => {
    written.push(await writeAtomic(path.join(dir, name), text()))
    phaseEnd(name)
  }
  await write(RUN_FILES.markdown, () => renderMarkdown([summary], gateForThis))
  await write(RUN_FILES.junit, () => junitChunks([summary], prompts, flips))
  // Loaded when the page is written, not when the command starts: it is the largest module routecheck has (the page's own script and styles).
  const { renderHtmlChunks } = await import('./html.js')
  await write(RUN_FILES.html, () => renderHtmlChunks(summary, gateForThis, { prompts: prompts.get(summary.dataset.path) }))
  await write(RUN_FILES.confusion, () => confusionCsv(summary.confusion))
  if (gate) {
    const record = {
      passed: gate.verdict.passed,
      failures: gate.verdict.failures,
      changes: gate.changes,
      coverage: gate.coverage,
      ...(gate.baselineRef ? { baselineRef: gate.baselineRef } : {}),
      comparison,
      ...(gate.verdict.incomplete ? { incomplete: gate.verdict.incomplete } : {}),
      ...(gate.retest ? { retest: gate.retest } : {}),
    }
    written.push(await writeAtomic(path.join(dir, RUN_FILES.gate), `${JSON.stringify(record, null, 2)}\n`))
  }
  return written
}

/**
 * confusion.csv: the confusion matrix for a spreadsheet or pandas
 * (`read_csv(f, index_col=0)`). The header row holds the decisions, the
 * first column the credited labels (the decision when acceptable, else the
 * labeller's first choice), the cells the case counts; `none` and
 * `(invalid)` included, as in summary.json.
 */
export function confusionCsv(confusion: Summary['confusion']): string {
  const { labels, matrix } = confusion
  const rows = [['credited \\ decided', ...labels], ...labels.map((l, i) => [l, ...labels.map((_, j) => String(matrix[i]?.[j] ?? 0))])]
  return `${rows.map((r) => r.map(csvField).join(',')).join('\n')}\n`
}

/** RFC 4180 quoting; a field a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe. */
function csvField(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}
