import { UsageError } from '../load/input-error.js'
import { promptHash, type Baseline, type BaselineDataset } from './baseline.js'
import { baselineWhere, type BaselineRef } from './baseline-ref.js'
import { descriptionNeighbours, newNearDuplicates, type NewNearDuplicate } from './near-duplicates.js'
import { compareDataset, comparedPairs, decideGate, diffAgents, type AgentChanges, type DatasetComparison, type GateThresholds, type GateVerdict, type SideCase } from './compare.js'
import { changeCoverage, type AgentCoverage, type CoverageCase } from './coverage.js'
import { compareRetested, type Retest } from './retest.js'

/** Everything the gate decided, as every report shows it. */
export type GateOutcome = {
  baselineFile: string
  /** --baseline-ref: the revision the baseline was read at, and whether the working tree's differs */
  baselineRef?: BaselineRef
  routerId: string
  changes: AgentChanges
  comparisons: DatasetComparison[]
  verdict: GateVerdict
  /** each agent the change edits or adds: the cases labelled for it, compared or not, and those routed to it */
  coverage: AgentCoverage[]
  /** the baseline's agents and their descriptions, for report.html's description diff */
  baselineAgents?: Array<{ name: string; description: string }>
  /** baseline cases with no decision, compared as nothing (allowed by --allow-incomplete) */
  undecidedBaselineCases?: number
  /** the stable flips re-tested, those the re-test showed to be noise, and those whose re-test is unfinished; absent without a re-test */
  retest?: { flips: number; noise: number; untested: number }
}

export type OutcomeInput = {
  baseline: Baseline
  baselineFile: string
  baselineRef?: BaselineRef | undefined
  /** the agents as they are now; `description` is needed for the near-duplicate rule */
  agents: ReadonlyArray<{ name: string; fingerprint: string; file: string; description?: string | undefined }>
  invalid: AgentChanges['invalid']
  /** each candidate run: a dataset of the baseline and its cases' decisions (with their prompts and tags, where known) */
  runs: ReadonlyArray<{ path: string; cases: ReadonlyArray<SideCase & { prompt?: string | undefined; tags?: readonly string[] | undefined }> }>
  thresholds: GateThresholds
  retest?: Retest | undefined
  /** sees every dataset's first comparison before any is re-tested (--batch: one batch for all the re-tests) */
  beforeRetest?: ((firsts: ReadonlyArray<{ comparison: DatasetComparison; baseline: BaselineDataset }>) => Promise<void>) | undefined
}

/**
 * The gate, from a baseline and candidate runs: which agents changed, each
 * dataset compared case by case (flips re-tested when a `retest` is given),
 * and the four rules' verdict.
 */
export async function buildOutcome(input: OutcomeInput): Promise<GateOutcome> {
  const { baseline } = input
  const names = agentNames(baseline.agents, input.agents)
  const firsts = input.runs.map((run) => {
    const base = baseline.datasets.find((d) => d.path === run.path)!
    const cases = run.cases.map(({ prompt, tags, ...c }) => ({ ...c, tags: tags ?? [], ...(prompt !== undefined ? { promptHash: promptHash(prompt) } : {}) }))
    const first = compareDataset(base, cases, names)
    if (first.cases === 0) {
      throw new UsageError(`cannot compare: ${run.path} shares no case with ${baselineWhere(input.baselineFile, input.baselineRef)} (same id, prompt and labels); make a new baseline with routecheck baseline`)
    }
    return { base, cases, first }
  })
  if (input.retest) await input.beforeRetest?.(firsts.map((x) => ({ comparison: x.first, baseline: x.base })))
  const comparisons: DatasetComparison[] = []
  const against: DatasetComparison[] = []
  const tally = { flips: 0, noise: 0, untested: 0 }
  for (const x of firsts) {
    const judged = await compareRetested(x.base, x.cases, names, input.retest, x.first)
    comparisons.push(judged.comparison)
    against.push(judged.against ?? judged.comparison)
    tally.flips += judged.tally.flips
    tally.noise += judged.tally.noise
    tally.untested += judged.untested.length
  }
  // The fourth rule reads the descriptions alone; agents known without them (an old summary) cannot add a pair.
  const described = input.agents.flatMap((a) => (a.description !== undefined ? [{ name: a.name, description: a.description, fingerprint: a.fingerprint }] : []))
  const pairs = described.length === input.agents.length ? newNearDuplicates(baseline.agents, described) : []
  const undecided = baseline.datasets.reduce((n, d) => n + d.cases.filter((c) => c.decision === null).length, 0)
  const changes = diffAgents(baseline.agents, input.agents, input.invalid)
  const coverage = changeCoverage(
    changes,
    firsts.map((x) => ({ path: x.base.path, cases: coverageCases(x.base, x.cases) })),
    (agent) => (described.length === input.agents.length ? descriptionNeighbours(described, agent) : []),
  )
  return {
    baselineFile: input.baselineFile,
    ...(input.baselineRef ? { baselineRef: input.baselineRef } : {}),
    routerId: baseline.router.id,
    changes,
    comparisons,
    verdict: verdictOf(comparisons, against, pairs, input.thresholds, tally.untested, coverage),
    coverage,
    baselineAgents: baseline.agents.map(({ name, description }) => ({ name, description })),
    ...(undecided > 0 ? { undecidedBaselineCases: undecided } : {}),
    ...(input.retest ? { retest: tally } : {}),
  }
}

/**
 * The rules' verdict. With untested flips (re-tests stopped by --max-cost or failed): a failure
 * with them judged in the candidate's favour stands, and so does a pass with them judged against
 * it; between the two the gate has no verdict, since a flip not re-tested is no evidence of a
 * regression and no proof of noise.
 */
function verdictOf(favour: DatasetComparison[], against: DatasetComparison[], pairs: NewNearDuplicate[], t: GateThresholds, untested: number, coverage: readonly AgentCoverage[]): GateVerdict {
  const verdict = decideGate(favour, pairs, t, coverage)
  if (untested === 0 || !verdict.passed) return verdict
  const worst = decideGate(against, pairs, t, coverage)
  return worst.passed ? verdict : { ...verdict, passed: false, incomplete: { untested, failures: worst.failures } }
}

/**
 * One dataset's cases as coverage counts them: the compared ones (decided on both sides, as the
 * comparison counts them) with both decisions, and the ones routed now but not compared (new,
 * relabelled or reworded) with the decision now.
 */
function coverageCases(base: BaselineDataset, cases: ReadonlyArray<SideCase & { tags: readonly string[] }>): CoverageCase[] {
  const pairs = comparedPairs(base, cases)
  const paired = new Set(pairs.map(({ a }) => a.id))
  const compared = pairs.filter(({ b, a }) => b.decision !== null && a.decision !== null).map(({ b, a }) => ({ expected: a.expected, tags: a.tags, before: b.decision, after: a.decision }))
  // New ids, and ids of the baseline that are no longer the same case (relabelled or reworded).
  const notCompared = cases.filter((c) => !paired.has(c.id)).map((c) => ({ expected: c.expected, tags: c.tags, after: c.decision }))
  return [...compared, ...notCompared]
}

/** Every agent name the baseline or the candidate knows, sorted: the labels a comparison scores. */
export function agentNames(...lists: ReadonlyArray<ReadonlyArray<{ name: string }>>): string[] {
  return [...new Set(lists.flatMap((l) => l.map((a) => a.name)))].sort()
}
