import type { Config } from '../load/config.js'
import { NONE } from '../load/dataset.js'
import { definedFigures, scoreCases, type LabelScore } from '../score/metrics.js'
import type { CaseVote } from '../score/votes.js'
import type { BaselineCase, BaselineDataset } from './baseline.js'
import type { NewNearDuplicate } from './near-duplicates.js'
import { NEAR_DUPLICATE_SCORE } from '../overlap/index.js'
import { mcnemarExact, pairedBootstrapInterval } from '../score/stats.js'
import { pct } from '../text/format.js'
import { coverageFix, shortCoverageText, type AgentCoverage } from './coverage.js'

export type GateThresholds = Config['gate']

/** A case as the gate sees it on one side: its majority decision and votes. */
export type SideCase = Pick<BaselineCase, 'id' | 'expected' | 'decision' | 'votes' | 'split' | 'flipped' | 'promptHash'>

export type AgentChanges = {
  changed: string[]
  added: string[]
  removed: string[]
  /** files in the candidate that Claude Code would drop */
  invalid: Array<{ file: string; line: number; reason: string }>
}

export type Flip = {
  id: string
  expected: string[]
  before: string | null
  after: string | null
  direction: 'broke' | 'fixed'
  /** every repeat agreed, before and after */
  stable: boolean
  /** the repeats disagree on one side (or on a re-test): noise, held at the baseline decision for the rules */
  flaky: boolean
  /** its re-test was stopped (--max-cost) or failed before every answer came, and none disagreed: no evidence either way (see compareRetested) */
  untested?: true
}

export type AgentDelta = {
  label: string
  /** cases credited to the agent in the baseline */
  support: number
  f1Before: number
  f1After: number
  delta: number
  recallBefore: number
  recallAfter: number
  precisionBefore: number
  precisionAfter: number
  /** cases credited to it in the candidate, and cases routed to it before and after: which figures are 0/0 (definedFigures) */
  supportAfter: number
  predictedBefore: number
  predictedAfter: number
}

/** An agent's figures before and after where they exist (definedFigures): "–" in the tables, not 0.00, for 0/0. */
export function agentDeltaFigures(a: AgentDelta): { before: ReturnType<typeof definedFigures>; after: ReturnType<typeof definedFigures> } {
  return {
    before: definedFigures({ precision: a.precisionBefore, recall: a.recallBefore, f1: a.f1Before, support: a.support, predicted: a.predictedBefore }),
    after: definedFigures({ precision: a.precisionAfter, recall: a.recallAfter, f1: a.f1After, support: a.supportAfter, predicted: a.predictedAfter }),
  }
}

/** A case of the candidate's dataset that the baseline lacks or has otherwise: routed and shown, never compared. */
export type UncomparedCase = { id: string; expected: string[]; decision: string | null; correct: boolean | null }

export type DatasetComparison = {
  path: string
  /** cases compared: in both runs with the same id, prompt and labels, and decided in both */
  cases: number
  /** cases only the candidate has: routed, shown apart, not compared */
  added: UncomparedCase[]
  /** ids only the baseline has */
  removed: string[]
  /** same id, other labels or another prompt: shown apart, not compared */
  changed: UncomparedCase[]
  accuracy: {
    before: number
    after: number
    delta: number
    /** paired bootstrap 95% interval of `delta` */
    interval: [number, number]
    /** exact McNemar p-value of the broke/fixed split */
    mcnemarP: number
    broke: number
    fixed: number
    /** accuracy with flaky cases held at their baseline decision: what the rules judge */
    settledBefore: number
    settledAfter: number
  }
  perAgent: AgentDelta[]
  flips: Flip[]
  flaky: string[]
  /** flips whose re-test is unfinished: judged in the candidate's favour here (see compareRetested); absent when none */
  untested?: string[]
}

export type GateFailure = {
  rule: 'accuracy-drop' | 'agent-f1-drop' | 'stable-flips' | 'new-near-duplicate' | 'changed-agent-cases'
  message: string
  agents: string[]
  dataset?: string
  /** what to do about it, where the message alone does not say */
  fix?: string
}

export type GateVerdict = {
  passed: boolean
  failures: GateFailure[]
  newNearDuplicates: Array<[string, string]>
  /**
   * The rules pass with the untested flips judged in the candidate's favour and fail with them
   * judged against it: no verdict until their re-tests finish (passed is false, failures empty).
   */
  incomplete?: { untested: number; failures: GateFailure[] }
}

/** Which agents changed, by routing fingerprint. */
export function diffAgents(baseline: ReadonlyArray<{ name: string; fingerprint: string }>, candidate: ReadonlyArray<{ name: string; fingerprint: string }>, invalid: AgentChanges['invalid']): AgentChanges {
  const before = new Map(baseline.map((a) => [a.name, a.fingerprint]))
  const after = new Map(candidate.map((a) => [a.name, a.fingerprint]))
  return {
    changed: [...after].filter(([n, f]) => before.has(n) && before.get(n) !== f).map(([n]) => n),
    added: [...after.keys()].filter((n) => !before.has(n)),
    removed: [...before.keys()].filter((n) => !after.has(n)),
    invalid,
  }
}

export function hasChanges(c: AgentChanges): boolean {
  return c.changed.length + c.added.length + c.removed.length + c.invalid.length > 0
}

const unanimous = (c: SideCase) => !c.flipped && !c.split

/** The pairs the gate compares: a baseline case and the candidate's case of the same id, while it is the same case (its labels, and its prompt where both sides know it). */
export function comparedPairs<C extends SideCase>(baseline: Pick<BaselineDataset, 'cases'>, candidate: readonly C[]): Array<{ b: SideCase; a: C }> {
  const after = new Map(candidate.map((c) => [c.id, c]))
  return baseline.cases.flatMap((b) => {
    const a = after.get(b.id)
    return a && sameCase(b, a) ? [{ b, a }] : []
  })
}

const sameCase = (b: SideCase, a: SideCase) => b.expected.join('\u0000') === a.expected.join('\u0000') && (b.promptHash === undefined || a.promptHash === undefined || b.promptHash === a.promptHash)

function asVote(c: SideCase): CaseVote {
  const decidedRepeats = Object.values(c.votes).reduce((a, b) => a + b, 0)
  return { decision: c.decision, votes: c.votes, split: c.split, flipped: c.flipped, decidedRepeats }
}

/**
 * Compares one dataset's candidate run with the baseline, case by case.
 * `retestVotes` holds extra repeats of flipped cases (model routers): a case
 * whose re-test disagrees with itself is flaky, not a regression.
 */
export function compareDataset(
  baseline: BaselineDataset,
  candidate: readonly SideCase[],
  agentNames: readonly string[],
  retestVotes: ReadonlyMap<string, Record<string, number>> = new Map(),
): DatasetComparison {
  const after = new Map(candidate.map((c) => [c.id, c]))
  const before = new Map(baseline.cases.map((c) => [c.id, c]))
  const pairs = comparedPairs(baseline, candidate)
  const correct = (c: SideCase) => c.decision !== null && c.expected.includes(c.decision)
  const uncompared = (c: SideCase): UncomparedCase => ({ id: c.id, expected: c.expected, decision: c.decision, correct: c.decision === null ? null : correct(c) })

  const flips: Flip[] = []
  const flaky = new Set<string>()
  for (const { b, a } of pairs) {
    const retest = retestVotes.get(a.id)
    const retestDisagrees = retest !== undefined && Object.keys(retest).length > 1
    const retestOverturns = retest !== undefined && a.decision !== null && Object.keys(retest).length === 1 && !(a.decision in retest)
    const isFlaky = !unanimous(b) || !unanimous(a) || retestDisagrees || retestOverturns
    if (isFlaky) flaky.add(a.id)
    if (b.decision === null || a.decision === null || correct(b) === correct(a)) continue
    flips.push({
      id: a.id,
      expected: a.expected,
      before: b.decision,
      after: a.decision,
      direction: correct(b) ? 'broke' : 'fixed',
      stable: unanimous(b) && unanimous(a) && !retestDisagrees && !retestOverturns,
      flaky: isFlaky,
    })
  }

  const decidedBoth = pairs.filter(({ b, a }) => b.decision !== null && a.decision !== null)
  const diffs = decidedBoth.map(({ b, a }) => Number(correct(a)) - Number(correct(b)))
  const mean = (xs: readonly boolean[]) => (xs.length === 0 ? 0 : xs.filter(Boolean).length / xs.length)
  // Settled: a flaky case keeps its baseline decision, so noise cannot fail the gate.
  const settled = pairs.map(({ b, a }) => (flaky.has(a.id) ? { ...a, decision: b.decision, votes: b.votes, split: b.split, flipped: b.flipped } : a))

  const scoreSide = (side: readonly SideCase[]) => scoreCases(side.map((c) => ({ id: c.id, expected: c.expected, vote: asVote(c) })), agentNames)
  const scoredBefore = scoreSide(pairs.map(({ b }) => b))
  const afterSettled = scoreSide(settled)
  const afterRaw = scoreSide(pairs.map(({ a }) => a))
  const byLabel = (rows: LabelScore[]) => new Map(rows.map((r) => [r.label, r]))
  const beforeRows = byLabel(scoredBefore.perLabel)
  const afterRows = byLabel(afterSettled.perLabel)

  return {
    path: baseline.path,
    cases: decidedBoth.length,
    added: candidate.filter((c) => !before.has(c.id)).map(uncompared),
    removed: baseline.cases.filter((b) => !after.has(b.id)).map((b) => b.id),
    changed: candidate.filter((c) => before.has(c.id) && !sameCase(before.get(c.id)!, c)).map(uncompared),
    accuracy: {
      before: scoredBefore.metrics.accuracy,
      after: afterRaw.metrics.accuracy,
      delta: afterRaw.metrics.accuracy - scoredBefore.metrics.accuracy,
      interval: pairedBootstrapInterval(diffs),
      mcnemarP: mcnemarExact(diffs.filter((d) => d < 0).length, diffs.filter((d) => d > 0).length),
      broke: diffs.filter((d) => d < 0).length,
      fixed: diffs.filter((d) => d > 0).length,
      settledBefore: scoredBefore.metrics.accuracy,
      settledAfter: afterSettled.metrics.accuracy,
    },
    perAgent: agentNames.map((label) => {
      const x = beforeRows.get(label)!
      const y = afterRows.get(label)!
      return {
        label,
        support: x.support,
        f1Before: x.f1,
        f1After: y.f1,
        delta: y.f1 - x.f1,
        recallBefore: x.recall,
        recallAfter: y.recall,
        precisionBefore: x.precision,
        precisionAfter: y.precision,
        supportAfter: y.support,
        predictedBefore: x.predicted,
        predictedAfter: y.predicted,
      }
    }),
    flips,
    flaky: [...flaky],
  }
}

/**
 * The rules of DESIGN "Gate", and the opt-in fifth (gate.minChangedAgentCases) on the
 * change's `coverage`. Each failure names the agents it is about.
 */
export function decideGate(comparisons: readonly DatasetComparison[], nearDuplicates: readonly NewNearDuplicate[], t: GateThresholds, coverage: readonly AgentCoverage[] = []): GateVerdict {
  const failures: GateFailure[] = []
  for (const c of comparisons) {
    const drop = c.accuracy.settledBefore - c.accuracy.settledAfter
    if (drop > t.maxAccuracyDrop + 1e-12) {
      const broken = c.flips.filter((f) => f.direction === 'broke' && !f.flaky)
      failures.push({
        rule: 'accuracy-drop',
        dataset: c.path,
        message: `accuracy fell ${pct(drop)} (${pct(c.accuracy.settledBefore)} → ${pct(c.accuracy.settledAfter)}), more than maxAccuracyDrop ${pct(t.maxAccuracyDrop)}; ${broken.length} case(s) broke, mostly ${topAgents(broken).join(', ')}`,
        agents: topAgents(broken),
      })
    }
    for (const a of c.perAgent) {
      if (a.support >= t.minSupport && -a.delta > t.maxAgentF1Drop + 1e-12) {
        failures.push({
          rule: 'agent-f1-drop',
          dataset: c.path,
          message: `${a.label}: F1 fell ${a.f1Before.toFixed(2)} → ${a.f1After.toFixed(2)} (−${(-a.delta).toFixed(2)} > maxAgentF1Drop ${t.maxAgentF1Drop}) on ${a.support} cases`,
          agents: [a.label],
        })
      }
    }
    const stableBroken = c.flips.filter((f) => f.direction === 'broke' && f.stable && !f.flaky)
    if (stableBroken.length > t.maxStableFlips) {
      failures.push({
        rule: 'stable-flips',
        dataset: c.path,
        message: `${stableBroken.length} case(s) went from right to wrong with every repeat agreeing (maxStableFlips ${t.maxStableFlips}): ${stableBroken
          .slice(0, 8)
          .map((f) => `${f.id} ${f.before} → ${f.after}`)
          .join(', ')}${stableBroken.length > 8 ? ', …' : ''}`,
        agents: topAgents(stableBroken),
      })
    }
  }
  if (t.failOnNewNearDuplicates) {
    for (const p of nearDuplicates) {
      const was = p.before === undefined ? 'a new pair' : `was ${p.before.toFixed(2)}`
      failures.push({
        rule: 'new-near-duplicate',
        message: `the edit to ${p.edited.join(' and ')} made ${p.a} and ${p.b} near-duplicates: text ${p.after.toFixed(2)} (${was}; the line is ${NEAR_DUPLICATE_SCORE}), sharing ${p.sharedTerms.slice(0, 6).join(', ')}; a model router cannot tell them apart`,
        agents: [...p.edited, ...[p.a, p.b].filter((n) => !p.edited.includes(n))],
      })
    }
  }
  // Last: the rules above judge what the router did, this one what the datasets let them see.
  for (const a of coverage) {
    if (a.ownCases < t.minChangedAgentCases) {
      failures.push({ rule: 'changed-agent-cases', message: shortCoverageText(a, t.minChangedAgentCases), agents: [a.agent], fix: coverageFix([a]) })
    }
  }
  return { passed: failures.length === 0, failures, newNearDuplicates: nearDuplicates.map((p) => [p.a, p.b]) }
}

/** The agents a set of flips is about: the wrongly chosen ones and the ones that lost the cases, most frequent first. */
function topAgents(flips: readonly Flip[]): string[] {
  const counts = new Map<string, number>()
  for (const f of flips) {
    for (const name of [f.expected[0]!, f.direction === 'broke' ? f.after : f.before]) {
      if (name && name !== NONE) counts.set(name, (counts.get(name) ?? 0) + 1)
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 4).map(([n]) => n)
}

