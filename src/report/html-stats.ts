import { f1Bootstrap, wilsonInterval } from '../score/stats.js'
import { INVALID_LABEL } from '../score/metrics.js'
import type { Summary } from '../run/record.js'

/**
 * Intervals for the report's headline figures that summary.json does not
 * carry: Wilson intervals for the proportions (primary accuracy, flip rate),
 * and a percentile bootstrap over cases for macro- and micro-F1, which are
 * not proportions. The bootstrap is seeded, so a report is reproducible.
 */

export type HeadlineIntervals = {
  primary: [number, number]
  flip: [number, number] | null
  macroF1: [number, number] | null
  microF1: [number, number] | null
}

export const BOOTSTRAP_RESAMPLES = 1000

export function headlineIntervals(s: Summary, resamples = BOOTSTRAP_RESAMPLES): HeadlineIntervals {
  const decided = s.cases.filter((c) => c.decision !== null)
  const primary = wilsonInterval(decided.filter((c) => c.decision === c.expected[0]).length, decided.length)
  const withRepeats = decided.filter((c) => c.decidedRepeats >= 2)
  const flip = withRepeats.length === 0 ? null : wilsonInterval(withRepeats.filter((c) => c.flipped).length, withRepeats.length)
  return { primary, flip, ...f1Intervals(s, resamples) }
}

/** The F1 bootstrap on the credited-label confusion the summary's figures come from. */
function f1Intervals(s: Summary, resamples: number): Pick<HeadlineIntervals, 'macroF1' | 'microF1'> {
  const at = new Map(s.confusion.labels.map((l, i) => [l, i]))
  const rows: number[] = []
  const cols: number[] = []
  for (const c of s.cases) {
    if (c.decision === null) continue
    const r = at.get(c.credited)
    const k = at.get(c.invalid ? INVALID_LABEL : c.decision)
    if (r === undefined || k === undefined) continue
    rows.push(r)
    cols.push(k)
  }
  // The confusion's first labels are the agents, then none and (invalid).
  return f1Bootstrap(rows, cols, s.perLabel.length, resamples) ?? { macroF1: null, microF1: null }
}
