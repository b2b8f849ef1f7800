import { seededRandom } from '../gate/stats.js'
import { wilsonInterval } from '../score/wilson.js'
import { INVALID_LABEL } from '../score/metrics.js'
import type { Summary } from './summary.js'

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
  return { primary, flip, ...f1Bootstrap(s, resamples) }
}

/** Percentile bootstrap of macro- and micro-F1, on the credited-label confusion the summary's figures come from. */
function f1Bootstrap(s: Summary, resamples: number): Pick<HeadlineIntervals, 'macroF1' | 'microF1'> {
  const labels = s.confusion.labels
  const at = new Map(labels.map((l, i) => [l, i]))
  const agents = s.perLabel.length // the confusion's first labels are the agents, then none and (invalid)
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
  const n = rows.length
  if (n === 0 || agents === 0) return { macroF1: null, microF1: null }
  const random = seededRandom(0x5eed ^ n)
  const tp = new Int32Array(agents)
  const support = new Int32Array(agents)
  const predicted = new Int32Array(agents)
  const macro = new Float64Array(resamples)
  const micro = new Float64Array(resamples)
  for (let rep = 0; rep < resamples; rep++) {
    tp.fill(0)
    support.fill(0)
    predicted.fill(0)
    for (let i = 0; i < n; i++) {
      const pick = Math.floor(random() * n)
      const r = rows[pick]!
      const k = cols[pick]!
      if (r < agents) support[r]! += 1
      if (k < agents) predicted[k]! += 1
      if (r === k && r < agents) tp[r]! += 1
    }
    let f1Sum = 0
    let active = 0
    let tpAll = 0
    let predAll = 0
    let supAll = 0
    for (let a = 0; a < agents; a++) {
      if (support[a] === 0 && predicted[a] === 0) continue
      active++
      f1Sum += f1(tp[a]!, predicted[a]!, support[a]!)
      tpAll += tp[a]!
      predAll += predicted[a]!
      supAll += support[a]!
    }
    macro[rep] = active === 0 ? 0 : f1Sum / active
    micro[rep] = f1(tpAll, predAll, supAll)
  }
  return { macroF1: percentiles(macro), microF1: percentiles(micro) }
}

function f1(tp: number, predicted: number, support: number): number {
  const p = predicted === 0 ? 0 : tp / predicted
  const r = support === 0 ? 0 : tp / support
  return p + r === 0 ? 0 : (2 * p * r) / (p + r)
}

function percentiles(xs: Float64Array): [number, number] {
  const sorted = Float64Array.from(xs).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!
  return [at(0.025), at(0.975)]
}
