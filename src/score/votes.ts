import type { Decision, DecisionKind } from '../route/router.js'
import type { Attempt } from '../route/run.js'
import { decidedLabel } from '../route/run.js'

/** A case's repeats reduced to one decision (DESIGN "Runs"). */
export type CaseVote = {
  /** the majority label; null when every repeat errored */
  decision: string | null
  votes: Record<string, number>
  /** the top of the vote was a tie, broken by the earliest repeat */
  split: boolean
  /** at least two repeats decided, and they disagree */
  flipped: boolean
  decidedRepeats: number
  /** the first error message, when any repeat errored */
  error?: string
  /** the winning repeat's runner-up, where the router gives one */
  runnerUp?: string
  /** the winning repeat's gap between its best and second-best score, where the router scores */
  margin?: number
  /** what the winning repeat did, where the router says (custom or built-in agent, another tool, a text answer) */
  decisionKind?: DecisionKind
  /** the tool the main assistant called itself, when `kind` is "tool" */
  tool?: string
}

/** Majority vote over one case's attempts. Ties go to the label the earliest repeat chose. */
export function majorityVote(attempts: readonly Attempt[]): CaseVote {
  if (attempts.length === 1) return singleVote(attempts[0]!)
  const ordered = [...attempts].sort((a, b) => a.repeat - b.repeat)
  const votes: Record<string, number> = {}
  const firstRepeat = new Map<string, Attempt>()
  for (const a of ordered) {
    if (!a.decision) continue
    const label = decidedLabel(a.decision)
    votes[label] = (votes[label] ?? 0) + 1
    if (!firstRepeat.has(label)) firstRepeat.set(label, a)
  }
  const error = ordered.find((a) => a.error !== undefined)?.error
  const labels = [...firstRepeat.keys()] // in order of first appearance
  const decidedRepeats = Object.values(votes).reduce((s, n) => s + n, 0)
  if (labels.length === 0) return undecided(votes, decidedRepeats, error)
  const top = Math.max(...labels.map((l) => votes[l]!))
  const leaders = labels.filter((l) => votes[l] === top)
  const decision = leaders[0]!
  return decided(decision, votes, leaders.length > 1, labels.length > 1, decidedRepeats, error, firstRepeat.get(decision)!.decision!)
}

/**
 * majorityVote of one attempt (every case of a run with one repeat), made
 * without the sort, map and arrays the general vote needs: the same object,
 * key for key.
 */
function singleVote(a: Attempt): CaseVote {
  const d = a.decision
  if (!d) return undecided({}, 0, a.error)
  const decision = decidedLabel(d)
  return decided(decision, { [decision]: 1 }, false, false, 1, a.error, d)
}

// The vote objects are built key by key, in summary.json's order: an object spread per optional key cost a
// runtime call each, 1 µs a case at 100,000 cases.
function undecided(votes: Record<string, number>, decidedRepeats: number, error: string | undefined): CaseVote {
  const vote: CaseVote = { decision: null, votes, split: false, flipped: false, decidedRepeats }
  if (error) vote.error = error
  return vote
}

function decided(decision: string, votes: Record<string, number>, split: boolean, flipped: boolean, decidedRepeats: number, error: string | undefined, winner: Decision): CaseVote {
  const vote: CaseVote = { decision, votes, split, flipped, decidedRepeats }
  if (error) vote.error = error
  if (winner.runnerUp !== undefined) vote.runnerUp = winner.runnerUp
  if (winner.scores) vote.margin = scoreMargin(winner.scores)
  if (winner.kind) vote.decisionKind = winner.kind
  if (winner.tool) vote.tool = winner.tool
  return vote
}

/** The gap between the best and second-best score (0 where there are fewer than two), in one pass. */
function scoreMargin(scores: Record<string, number>): number {
  let first = Number.NEGATIVE_INFINITY
  let second = Number.NEGATIVE_INFINITY
  for (const key in scores) {
    const x = scores[key]!
    if (x > first) {
      second = first
      first = x
    } else if (x > second) second = x
  }
  return (first === Number.NEGATIVE_INFINITY ? 0 : first) - (second === Number.NEGATIVE_INFINITY ? 0 : second)
}

/** Groups attempts by case and votes each, keeping the dataset's case order. */
export function voteByCase<C extends { id: string; expected: string[] }>(cases: readonly C[], attempts: readonly Attempt[]): Array<{ id: string; expected: string[]; vote: CaseVote }> {
  const groups = attemptsByCase(cases, attempts)
  return cases.map((c, i) => ({ id: c.id, expected: c.expected, vote: majorityVote(groups[i]!) }))
}

/**
 * Each case's attempts, in the cases' order. A run's attempts come in case
 * order (routeCases, merge), so one walk finds them, without a map of
 * 100,000 ids; attempts in any other order are grouped through one.
 */
function attemptsByCase(cases: ReadonlyArray<{ id: string }>, attempts: readonly Attempt[]): Attempt[][] {
  const groups: Attempt[][] = []
  let next = 0
  for (const c of cases) {
    const from = next
    while (next < attempts.length && attempts[next]!.caseId === c.id) next++
    groups.push(attempts.slice(from, next))
  }
  if (next === attempts.length) return groups
  const byCase = new Map<string, Attempt[]>()
  for (const a of attempts) {
    const list = byCase.get(a.caseId)
    if (list) list.push(a)
    else byCase.set(a.caseId, [a])
  }
  return cases.map((c) => byCase.get(c.id) ?? [])
}
