import path from 'node:path'
import { loadAgentFolders, type Catalogue, type InvalidAgentFile } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { loadDataset } from '../load/dataset.js'
import { UsageError } from '../load/input-error.js'
import { routeCases } from '../route/run.js'
import { completion, openRunJournal, prepareEval, runDatasets, type EvalOptions, type RunEnv, type Setup } from '../run/evaluate.js'
import { readRuns } from '../run/read.js'
import type { Summary } from '../run/record.js'
import { voteByCase } from '../score/votes.js'
import { DEFAULT_BASELINE, readBaseline, type Baseline } from './baseline.js'
import { hasChanges, diffAgents, type DatasetComparison } from './compare.js'
import { agentNames, buildOutcome, type GateOutcome } from './outcome.js'

export type GateRequest = EvalOptions & {
  /** the baseline file (default reports/baseline.json) */
  baseline?: string | undefined
  /** pass at once, sending nothing, when no agent's routing fields and no dataset changed */
  onlyIfChanged?: boolean | undefined
  /** accept a baseline with undecided cases; the verdict says so */
  allowIncomplete?: boolean | undefined
  /** saved run folders to judge instead of routing now; `dataset` then names baseline datasets to compare */
  runDirs: readonly string[]
}

export type GateCheck =
  | { kind: 'unchanged'; baselineFile: string }
  | { kind: 'fatal'; message: string; unreachable: boolean }
  | {
      kind: 'checked'
      outcome: GateOutcome
      summaries: Summary[]
      /** where each routed dataset's run folder is; absent when the runs were read from folders */
      outFor?: (dataset: string) => string
      catalogue: Catalogue
      invalid: InvalidAgentFile[]
      completion: { complete: boolean; notes: string[] }
    }

/**
 * The gate use case: compare the agents as they are now with the baseline,
 * routing the baseline's datasets (or reading saved runs), re-testing flips
 * of model routers, and applying the rules. Printing and the run folders'
 * reports are the caller's.
 */
export async function checkGate(request: GateRequest, env: RunEnv, signal?: AbortSignal): Promise<GateCheck> {
  const baselineFile = request.baseline ?? DEFAULT_BASELINE
  const baseline = await readBaseline(baselineFile, { allowIncomplete: request.allowIncomplete })
  const { config } = await loadConfig(request.config)
  const current = await loadAgentFolders(request.agents ?? config.agents, { skipInvalid: true, env: env.env })
  const changes = diffAgents(baseline.agents, current.catalogue.agents, current.invalid)

  const wanted = pickDatasets(baseline, request.dataset, baselineFile)
  if (request.onlyIfChanged && !hasChanges(changes) && !(await datasetsChanged(wanted, baseline, current.catalogue))) {
    return { kind: 'unchanged', baselineFile }
  }

  let setup: Setup | undefined
  try {
    let summaries: Summary[]
    if (request.runDirs.length > 0) {
      summaries = await readRuns(request.runDirs)
    } else {
      setup = await prepareEval({ ...request, dataset: wanted.map((d) => d.path) }, env, { skipInvalid: true, alsoKnownAgents: baseline.agents.map((a) => a.name) })
      refuseMismatch(baseline, baselineFile, setup.router.id, setup.datasets)
      const repeatsOf = new Map(wanted.map((d) => [d.path, d.repeats]))
      const run = await runDatasets(setup, env, { repeatsFor: (d) => request.repeats ?? repeatsOf.get(d.path) ?? 1, ...(signal ? { signal } : {}) })
      if (run.fatal) return { kind: 'fatal', ...run.fatal }
      summaries = run.summaries
    }
    refuseMismatch(baseline, baselineFile, summaries[0]?.router.id ?? baseline.router.id, summaries.map((s) => s.dataset))

    const routed = setup
    const outcome = await buildOutcome({
      baseline,
      baselineFile,
      agents: current.catalogue.agents,
      invalid: current.invalid,
      runs: summaries.map((s) => ({ path: s.dataset.path, cases: s.cases })),
      thresholds: config.gate,
      retest: routed && !routed.router.deterministic ? (comparison, base) => retestFlips(routed, env, comparison, base.repeats) : undefined,
    })
    return {
      kind: 'checked',
      outcome,
      summaries,
      ...(routed ? { outFor: routed.plan.outFor } : {}),
      catalogue: current.catalogue,
      invalid: current.invalid,
      completion: completion(summaries, request.maxCost),
    }
  } finally {
    await setup?.router.close?.()
  }
}

/** The gate's comparison of a saved run with the baseline, as `routecheck gate RUN_DIR` makes it (for `routecheck report --baseline`). */
export async function gateOutcomeForRun(summary: Summary, baselineFile: string, configFile: string | undefined): Promise<GateOutcome> {
  const baseline = await readBaseline(baselineFile)
  const { config } = await loadConfig(configFile)
  refuseMismatch(baseline, baselineFile, summary.router.id, [summary.dataset])
  return buildOutcome({
    baseline,
    baselineFile,
    agents: summary.agents,
    invalid: summary.invalidAgents,
    runs: [{ path: summary.dataset.path, cases: summary.cases }],
    thresholds: config.gate,
  })
}

/** Whether any of the baseline's datasets reads differently now (a missing or unreadable one counts as changed). */
async function datasetsChanged(wanted: Baseline['datasets'], baseline: Baseline, catalogue: Catalogue): Promise<boolean> {
  const names = agentNames(baseline.agents, catalogue.agents)
  for (const d of wanted) {
    try {
      if ((await loadDataset(d.path, names)).fingerprint !== d.fingerprint) return true
    } catch {
      return true
    }
  }
  return false
}

function pickDatasets(baseline: Baseline, wanted: readonly string[] | undefined, baselineFile: string): Baseline['datasets'] {
  if (!wanted) return baseline.datasets
  const norm = (p: string) => path.normalize(p)
  return wanted.map((w) => {
    const hit = baseline.datasets.find((d) => norm(d.path) === norm(w) || path.basename(d.path) === w)
    if (!hit) throw new UsageError(`${w} is not in ${baselineFile} (it has ${baseline.datasets.map((d) => d.path).join(', ')}); make a new baseline to add it`)
    return hit
  })
}

/** The gate compares like with like: the same router, and datasets the baseline has. */
function refuseMismatch(baseline: Baseline, baselineFile: string, routerId: string, datasets: ReadonlyArray<{ path: string }>): void {
  if (routerId !== baseline.router.id) {
    throw new UsageError(`cannot compare: ${baselineFile} was made with router ${baseline.router.id}, this run uses ${routerId}; pass the same --router/--model/--style, or make a new baseline`)
  }
  // A dataset that changed is compared on the cases it shares with the baseline; buildOutcome refuses one that shares none.
  for (const d of datasets) {
    if (!baseline.datasets.some((b) => b.path === d.path)) throw new UsageError(`cannot compare: ${d.path} is not in ${baselineFile}`)
  }
}

/**
 * Routes each flipped case `repeats` more times, on fresh repeat indices. A
 * model router's flip that its own re-test does not reproduce is noise.
 */
async function retestFlips(setup: Setup, env: RunEnv, comparison: DatasetComparison, repeats: number): Promise<Map<string, Record<string, number>>> {
  const ids = new Set(comparison.flips.filter((f) => !f.flaky).map((f) => f.id))
  const dataset = setup.datasets.find((d) => d.path === comparison.path)
  if (ids.size === 0 || !dataset) return new Map()
  const times = Math.max(3, repeats)
  env.warn(`re-testing ${ids.size} flipped case(s) ${times} more times each to tell regressions from noise\n`)
  const retested = dataset.cases.filter((c) => ids.has(c.id))
  const journal = openRunJournal(setup, env)
  try {
    const attempts = await routeCases(retested, setup.loaded.catalogue, setup.router, {
      repeats: times,
      firstRepeat: 1000,
      concurrency: setup.plan.concurrency,
      timeoutMs: setup.plan.timeoutMs,
      ...(journal ? { journal } : {}),
    })
    return new Map(voteByCase(retested, attempts).map((c) => [c.id, c.vote.votes]))
  } finally {
    journal?.close()
  }
}
