import { quantile } from '../score/stats.js'
import type { OverlapCase, SignalName } from './schema.js'

/**
 * The run signals: what a routed, labelled dataset says about a pair of
 * agents. Every count is over cases; labels that are not agents of the
 * catalogue (`none`, invalid names) are ignored.
 */

export type PairRunStats = {
  /** cases with primary a routed to b, plus primary b routed to a */
  routedAcross: Array<{ id: string; expected: string; decision: string }>
  /** cases whose expected set holds both */
  coAccepted: string[]
  /** cases whose repeats voted for both */
  splitVotes: string[]
  /** cases whose decision and runner-up are the two, by a margin under the run's low-margin line */
  lowMargins: string[]
}

export type RunSignals = {
  /** which run signals this set of cases can give */
  available: Set<SignalName>
  /** per agent: decided cases whose primary it is */
  support: Map<string, number>
  /** per agent: cases whose expected set holds it */
  accepted: Map<string, number>
  /** per agent: ids of cases whose primary it is and which it was routed */
  wins: Map<string, string[]>
  /** per unordered pair (`pairKey`) */
  pairs: Map<string, PairRunStats>
  /** the margin at or under which a decision counts as a coin toss */
  lowMarginLine: number | undefined
}

export function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
}


export function collectRunSignals(
  cases: readonly OverlapCase[],
  agentNames: ReadonlySet<string>,
  opts: { lowMarginQuantile: number; lowMargin?: number | undefined },
): RunSignals {
  const available = new Set<SignalName>()
  const support = new Map<string, number>()
  const accepted = new Map<string, number>()
  const wins = new Map<string, string[]>()
  const pairs = new Map<string, PairRunStats>()
  const stats = (a: string, b: string): PairRunStats => {
    const key = pairKey(a, b)
    let s = pairs.get(key)
    if (!s) pairs.set(key, (s = { routedAcross: [], coAccepted: [], splitVotes: [], lowMargins: [] }))
    return s
  }
  const isAgent = (label: string | null | undefined): label is string => typeof label === 'string' && agentNames.has(label)

  // A signal is there when some case can feed it: cases labelled none alone say nothing about any pair.
  if (cases.some((c) => c.decision !== null && isAgent(c.expected[0]))) available.add('confusion')
  if (cases.some((c) => c.expected.some(isAgent))) available.add('coAcceptance')
  const margins = cases.flatMap((c) => (isAgent(c.decision) && isAgent(c.runnerUp) && c.margin !== undefined ? [c.margin] : []))
  if (margins.length > 0) available.add('lowMargins')
  const lowMarginLine = margins.length === 0 ? undefined : (opts.lowMargin ?? quantile(margins, opts.lowMarginQuantile))
  if (cases.some((c) => Object.values(c.votes ?? {}).reduce((s, n) => s + n, 0) >= 2)) available.add('splitVotes')

  for (const c of cases) {
    const expected = [...new Set(c.expected.filter(isAgent))]
    for (const label of expected) accepted.set(label, (accepted.get(label) ?? 0) + 1)
    for (let x = 0; x < expected.length; x++) for (let y = x + 1; y < expected.length; y++) stats(expected[x]!, expected[y]!).coAccepted.push(c.id)

    const primary = c.expected[0]
    if (c.decision !== null && isAgent(primary)) {
      support.set(primary, (support.get(primary) ?? 0) + 1)
      if (c.decision === primary) {
        let list = wins.get(primary)
        if (!list) wins.set(primary, (list = []))
        list.push(c.id)
      } else if (isAgent(c.decision)) {
        stats(primary, c.decision).routedAcross.push({ id: c.id, expected: primary, decision: c.decision })
      }
    }

    const voted = Object.entries(c.votes ?? {})
      .filter(([label, n]) => n > 0 && isAgent(label))
      .map(([label]) => label)
    for (let x = 0; x < voted.length; x++) for (let y = x + 1; y < voted.length; y++) stats(voted[x]!, voted[y]!).splitVotes.push(c.id)

    if (lowMarginLine !== undefined && isAgent(c.decision) && isAgent(c.runnerUp) && c.decision !== c.runnerUp && c.margin !== undefined && c.margin <= lowMarginLine) {
      stats(c.decision, c.runnerUp).lowMargins.push(c.id)
    }
  }
  return { available, support, accepted, wins, pairs, lowMarginLine }
}
