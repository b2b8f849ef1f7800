import { z } from 'zod'
import { BUILTIN_AGENTS, isBuiltinAgent } from '../load/builtin-agents.js'
import { NONE } from '../load/dataset.js'
import { decisionKinds, type DecisionKinds } from './kinds.js'
import type { CaseVote } from './votes.js'
import { harmonicMean, wilsonInterval } from './stats.js'

/** Column of the confusion matrix for decisions naming an agent the catalogue lacks. */
export const INVALID_LABEL = '(invalid)'

export type ScoredCase = {
  id: string
  expected: string[]
  decision: string | null
  correct: boolean | null
  /** c_i: the decision when it was acceptable, else the primary gold label */
  credited: string
  invalid?: boolean
} & Omit<CaseVote, 'decision'>

const interval = z.tuple([z.number(), z.number()])

/** One row of the per-label report. The schema is shared with summary.json's reader, so the shape is written once. */
export const labelScoreSchema = z.object({
  label: z.string(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  support: z.number().int(),
  predicted: z.number().int(),
  precisionInterval: interval,
  recallInterval: interval,
  confusedWith: z.array(z.object({ label: z.string(), count: z.number().int() })),
})
export type LabelScore = z.infer<typeof labelScoreSchema>

/**
 * An agent's figures where they exist, for showing: precision needs a case
 * routed to the agent, recall a case credited to it, F1 either. summary.json
 * keeps 0 for 0/0 (`ratio`, scikit-learn's zero_division=0); a report shows
 * an undefined figure as "–", never as 0.00, which would read as an agent
 * that is always wrong.
 */
export function definedFigures(r: Pick<LabelScore, 'precision' | 'recall' | 'f1' | 'support' | 'predicted'>): { precision: number | undefined; recall: number | undefined; f1: number | undefined } {
  return {
    precision: r.predicted > 0 ? r.precision : undefined,
    recall: r.support > 0 ? r.recall : undefined,
    f1: r.support + r.predicted > 0 ? r.f1 : undefined,
  }
}

/** The headline figures of a run (DESIGN "Scoring"). */
export const runMetricsSchema = z.looseObject({
  accuracy: z.number(),
  accuracyInterval: interval,
  primaryAccuracy: z.number(),
  macroF1: z.number(),
  microF1: z.number(),
  flipRate: z.number(),
  splitRate: z.number(),
  errored: z.number().int(),
  decided: z.number().int(),
  invalid: z.number().int(),
  none: z.looseObject({ support: z.number().int(), recall: z.number(), falseDelegationRate: z.number(), predicted: z.number().int(), precision: z.number() }),
})

export type Scores = {
  metrics: z.infer<typeof runMetricsSchema>
  perLabel: LabelScore[]
  noneLabel: LabelScore
  confusion: { labels: string[]; matrix: number[][] }
  cases: ScoredCase[]
  decisionKinds: DecisionKinds | null
}

/**
 * The credited label (DESIGN "Scoring"): a decision the gold set accepts is
 * credited to itself; any other decision is charged to the primary label.
 * This keeps multi-label gold sets from counting as misses of their
 * secondary agents.
 */
export function creditedLabel(expected: readonly string[], decision: string): string {
  return expected.includes(decision) ? decision : expected[0]!
}

/** Scores a run: one majority vote per case, against the catalogue's agent names. */
export function scoreCases(cases: ReadonlyArray<{ id: string; expected: string[]; vote: CaseVote }>, catalogueNames: readonly string[]): Scores {
  // Gold labels naming an agent the catalogue no longer has (the gate compares across such changes) still get a row,
  // and so do Claude Code's own agents where a label or a decision names them.
  // (In one pass into one set: arrays of every case's labels were 3 of the phase's 100,000-element copies.)
  const named = new Set<string>()
  for (const c of cases) {
    for (const l of c.expected) named.add(l)
    if (c.vote.decision !== null && isBuiltinAgent(c.vote.decision)) named.add(c.vote.decision)
  }
  const extra = [...named].filter((l) => l !== NONE && !catalogueNames.includes(l)).sort()
  const agentNames = [...catalogueNames, ...extra]
  const known = new Set([...catalogueNames, ...BUILTIN_AGENTS, NONE])
  // The vote copied whole after the case's own keys (its `decision` is already in place, with the same value): no copy of it without `decision` per case.
  const scored: ScoredCase[] = cases.map(({ id, expected, vote }) => {
    const decision = vote.decision
    if (decision === null) return Object.assign({ id, expected, decision: null, correct: null, credited: expected[0]! }, vote)
    const own = { id, expected, decision, correct: expected.includes(decision), credited: creditedLabel(expected, decision) }
    return Object.assign(known.has(decision) ? own : { ...own, invalid: true }, vote)
  })
  const decided = scored.filter((c) => c.decision !== null)
  const invalidCount = decided.filter((c) => c.invalid).length
  const labels = [...agentNames, NONE, ...(invalidCount > 0 ? [INVALID_LABEL] : [])]
  const at = new Map(labels.map((l, i) => [l, i]))
  const matrix = labels.map(() => labels.map(() => 0))
  for (const c of decided) {
    const column = c.invalid ? INVALID_LABEL : c.decision!
    matrix[at.get(c.credited)!]![at.get(column)!]! += 1
  }

  const labelScore = (label: string): LabelScore => {
    const i = at.get(label)!
    const row = matrix[i]!
    const tp = row[i]!
    const support = sum(row)
    const predicted = sum(matrix.map((r) => r[i]!))
    const precision = ratio(tp, predicted)
    const recall = ratio(tp, support)
    const confusedWith = row
      .map((count, j) => ({ label: labels[j]!, count }))
      .filter((x, j) => j !== i && x.count > 0)
      .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1))
    return {
      label,
      precision,
      recall,
      f1: harmonicMean(precision, recall),
      support,
      predicted,
      precisionInterval: wilsonInterval(tp, predicted),
      recallInterval: wilsonInterval(tp, support),
      confusedWith,
    }
  }

  const perLabel = agentNames.map(labelScore)
  const active = perLabel.filter((l) => l.support > 0 || l.predicted > 0)
  const tpAll = sum(active.map((l) => matrix[at.get(l.label)!]![at.get(l.label)!]!))
  const microP = ratio(tpAll, sum(active.map((l) => l.predicted)))
  const microR = ratio(tpAll, sum(active.map((l) => l.support)))
  const noneLabel = labelScore(NONE)
  const correct = decided.filter((c) => c.correct).length
  const withRepeats = decided.filter((c) => c.decidedRepeats >= 2)

  return {
    metrics: {
      accuracy: ratio(correct, decided.length),
      accuracyInterval: wilsonInterval(correct, decided.length),
      primaryAccuracy: ratio(decided.filter((c) => c.decision === c.expected[0]).length, decided.length),
      macroF1: active.length === 0 ? 0 : sum(active.map((l) => l.f1)) / active.length,
      microF1: harmonicMean(microP, microR),
      flipRate: ratio(withRepeats.filter((c) => c.flipped).length, withRepeats.length),
      splitRate: ratio(withRepeats.filter((c) => c.split).length, withRepeats.length),
      errored: scored.length - decided.length,
      decided: decided.length,
      invalid: invalidCount,
      none: {
        support: noneLabel.support,
        recall: noneLabel.recall,
        falseDelegationRate: noneLabel.support === 0 ? 0 : 1 - noneLabel.recall,
        predicted: noneLabel.predicted,
        precision: noneLabel.precision,
      },
    },
    perLabel,
    noneLabel,
    confusion: { labels, matrix },
    cases: scored,
    decisionKinds: decisionKinds(scored),
  }
}

function sum(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0)
}

/** k/n, with 0 for an empty denominator (scikit-learn's zero_division=0). */
function ratio(k: number, n: number): number {
  return n === 0 ? 0 : k / n
}

