import { judgePair } from './advice.js'
import type { OverlapCase, ProbePair, ProbeReport } from './schema.js'

/**
 * Probe evidence: for each probed pair, where the prompts aimed at its two
 * agents went. A pair's verdict is judged on its two-by-two block (prompts
 * aimed at either and routed to either) by the function that judges a
 * cluster's pairs, so a probed pair inside a cluster reads the same in both
 * places; pairs outside any cluster (probed from under the line, or flagged
 * pairs the probes set apart) get their verdict here.
 */

/** What `overlap --probe` probed: the pairs, and who wrote the prompts. */
export type ProbeSpec = Omit<ProbeReport, 'pairs'> & {
  pairs: ReadonlyArray<{ a: string; b: string; flagged: boolean }>
}

export function probeEvidence(spec: ProbeSpec, cases: readonly OverlapCase[], scores: (a: string, b: string) => { text: number; copyText: number }, mergeText: number): ProbeReport {
  const aimedAt = new Map<string, OverlapCase[]>()
  for (const c of cases) {
    const label = c.expected[0]!
    const list = aimedAt.get(label)
    if (list) list.push(c)
    else aimedAt.set(label, [c])
  }
  const pairs = spec.pairs.map(({ a, b, flagged }): ProbePair => {
    const own = [...(aimedAt.get(a) ?? []), ...(aimedAt.get(b) ?? [])]
    const other = (label: string) => (label === a ? b : a)
    const right = own.filter((c) => c.decision === c.expected[0]).length
    const across = own.filter((c) => c.decision === other(c.expected[0]!)).length
    const judged = judgePair(a, b, scores(a, b), right, across, mergeText)
    return {
      a,
      b,
      text: judged.text,
      flagged,
      verdict: judged.verdict,
      prompts: judged.prompts,
      right: judged.right,
      ...(judged.interval ? { interval: judged.interval } : {}),
      routed: { [a]: tally(aimedAt.get(a) ?? []), [b]: tally(aimedAt.get(b) ?? []) },
      cases: own.map((c) => ({ id: c.id, prompt: c.prompt ?? '', expected: c.expected[0]!, decision: c.decision })),
    }
  })
  return { ...spec, pairs }
}

/** Decided prompts per destination, most first (then by name). */
function tally(cases: readonly OverlapCase[]): Record<string, number> {
  const counts = new Map<string, number>()
  for (const c of cases) if (c.decision !== null) counts.set(c.decision, (counts.get(c.decision) ?? 0) + 1)
  return Object.fromEntries([...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)))
}
