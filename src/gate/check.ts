import path from 'node:path'
import { loadAgentFolders, type Catalogue, type InvalidAgentFile } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { loadDataset } from '../load/dataset.js'
import { InputError, UsageError } from '../load/input-error.js'
import { completion, dryRunReport, finishRuns, prepareEval, runDatasets, type EvalOptions, type RunEnv, type Setup } from '../run/evaluate.js'
import { expandRunFolders, readRuns, refuseShards } from '../run/read.js'
import type { Summary } from '../run/record.js'
import { DEFAULT_BASELINE, readBaseline, type Baseline, type BaselineDataset } from './baseline.js'
import { hasChanges, diffAgents, type DatasetComparison } from './compare.js'
import { agentNames, buildOutcome, type GateOutcome } from './outcome.js'
import type { RetestVotes } from './retest.js'
import { gateRetest, retestDryRunLines, retestNotes, type GateRetest, type RetestAccount } from './retest-routing.js'

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

/** The run folders the gate routed into, staged: the caller writes its reports into each and puts them in place (or discards them all). */
export type StagedRuns = {
  finish: (reports: (summary: Summary, staging: string) => Promise<void>, onRun?: (summary: Summary, dir: string, done: { dropped: string[] }) => void) => Promise<void>
  discard: () => Promise<void>
}

export type GateCheck =
  | { kind: 'unchanged'; baselineFile: string }
  /** --dry-run: what the gate would send, its re-tests' bound included; nothing sent */
  | { kind: 'dry-run'; text: string }
  | { kind: 'fatal'; message: string; unreachable: boolean }
  | {
      /** gate --shard K/N: this machine's shard of the gate's run, routed and not judged (merge the shards, then gate the merged folders) */
      kind: 'shard'
      summaries: Summary[]
      staged: StagedRuns
      completion: { complete: boolean; notes: string[] }
    }
  | {
      kind: 'checked'
      outcome: GateOutcome
      summaries: Summary[]
      /** the routed datasets' run folders; absent when the runs were read from folders */
      staged?: StagedRuns
      /** the saved run folders read, one per summary, when the runs were read from folders */
      savedDirs?: string[]
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

  if (request.runDirs.length > 0 && request.shard) throw new UsageError('--shard routes a shard of the gate\'s run; to gate saved run folders, merge the shards first (routecheck merge) and give the merged folders')
  const repeatsOf = new Map(wanted.map((d) => [d.path, d.repeats]))
  const repeatsFor = (d: { path: string }) => request.repeats ?? repeatsOf.get(d.path) ?? 1
  if (request.dryRun) return { kind: 'dry-run', text: await dryRun(request, env, wanted, baseline, baselineFile, repeatsFor) }
  let setup: Setup | undefined
  let staged: StagedRuns | undefined
  let saved: ReturnType<typeof savedRunsRetest> | undefined
  let retester: GateRetest | undefined
  let savedDirs: string[] = []
  let handedOver = false
  try {
    let summaries: Summary[] = []
    if (request.runDirs.length > 0) {
      // In the baseline's order of datasets, as the gate routes them, whatever order the folders come in.
      const dirs = await expandRunFolders(request.runDirs)
      const read = await readRuns(dirs)
      const rank = (p: string) => baseline.datasets.findIndex((d) => d.path === p) >>> 0
      const order = read.map((s, i) => ({ s, dir: dirs[i]! })).sort((a, b) => rank(a.s.dataset.path) - rank(b.s.dataset.path))
      summaries = order.map((x) => x.s)
      savedDirs = order.map((x) => x.dir)
      refuseShards(summaries, savedDirs)
    } else {
      setup = await prepareEval({ ...request, dataset: wanted.map((d) => d.path) }, env, {
        skipInvalid: true,
        alsoKnownAgents: baseline.agents.map((a) => a.name),
        keep: [{ path: baselineFile, what: 'the baseline' }],
      })
      const routed = setup
      staged = { finish: (reports, onRun) => finishRuns(routed, summaries, reports, onRun), discard: () => routed.folders!.discardAll() }
      refuseMismatch(baseline, baselineFile, setup.router.id, setup.datasets)
      const run = await runDatasets(setup, env, { repeatsFor, keepStaged: true, ...(signal ? { signal } : {}) })
      if (run.fatal) return { kind: 'fatal', ...run.fatal }
      summaries = run.summaries
      if (request.shard) {
        handedOver = true
        return { kind: 'shard', summaries, staged, completion: completion(summaries, request.maxCost) }
      }
    }
    refuseMismatch(baseline, baselineFile, summaries[0]?.router.id ?? baseline.router.id, summaries.map((s) => s.dataset))

    // --max-cost is the whole gate's: the re-tests get what the run spent this time left of it
    // (for saved runs, what they spent when routed: a merged run's shards were given the same cap).
    const runSpentUsd = summaries.reduce((n, s) => n + (s.cost?.usdThisRun ?? 0), 0)
    const routed = setup
    if (routed && !routed.router.deterministic) retester = gateRetest(routed, env, runSpentUsd, signal)
    saved = request.runDirs.length > 0 ? savedRunsRetest(request, env, wanted, baseline, summaries[0]?.router.id ?? baseline.router.id, runSpentUsd, signal) : undefined
    const judge = retester ?? saved
    const built = await buildOutcome({
      baseline,
      baselineFile,
      agents: current.catalogue.agents,
      invalid: current.invalid,
      runs: summaries.map((s) => ({ path: s.dataset.path, cases: s.cases })),
      thresholds: config.gate,
      retest: judge?.retest,
      beforeRetest: judge?.beforeRetest,
    })
    const account = (retester ?? saved?.retester())?.account()
    const outcome = account && built.retest && account.sent + account.notSent + account.failed > 0 ? { ...built, retest: { ...built.retest, usd: account.usd } } : built
    const notes = account ? retestAccountNotes(outcome, account, request, runSpentUsd, retester?.journal ?? saved?.retester()?.journal ?? false) : []
    const run = completion(summaries, request.maxCost)
    handedOver = true
    return {
      kind: 'checked',
      outcome,
      summaries,
      ...(staged ? { staged } : { savedDirs }),
      catalogue: current.catalogue,
      invalid: current.invalid,
      completion: { complete: run.complete && !outcome.verdict.incomplete, notes: [...run.notes, ...notes] },
    }
  } finally {
    if (!handedOver) await staged?.discard()
    retester?.close()
    await setup?.router.close?.()
    await saved?.close()
  }
}

/** What the re-tests spent against --max-cost, and the flips they left untested. */
function retestAccountNotes(outcome: GateOutcome, account: RetestAccount, request: GateRequest, runSpentUsd: number, journal: boolean): string[] {
  const untested = outcome.retest?.untested ?? 0
  const verdict = outcome.verdict.incomplete ? 'incomplete' : outcome.verdict.passed ? 'passed' : 'failed'
  const spend =
    request.maxCost !== undefined && account.sent + account.notSent > 0
      ? [`gate: spent $${(runSpentUsd + account.usd).toFixed(4)} of --max-cost ${request.maxCost} USD: the run $${runSpentUsd.toFixed(4)}, the re-tests of its flips $${account.usd.toFixed(4)} (${account.sent} request(s) sent)`]
      : []
  return [...spend, ...retestNotes(account, untested, verdict, { maxCost: request.maxCost, journal, spentUsd: runSpentUsd + account.usd })]
}

/** --dry-run: what the gate's run would send, and the bound of its re-tests; nothing is sent. */
async function dryRun(request: GateRequest, env: RunEnv, wanted: Baseline['datasets'], baseline: Baseline, baselineFile: string, repeatsFor: (d: { path: string }) => number): Promise<string> {
  if (request.runDirs.length > 0) throw new UsageError('--dry-run shows what the gate would route; with run folders it routes only the re-tests of their flips, which it cannot know before it compares them: drop --dry-run, and bound the re-tests with --max-cost')
  const setup = await prepareEval({ ...request, dataset: wanted.map((d) => d.path) }, env, { skipInvalid: true, alsoKnownAgents: baseline.agents.map((a) => a.name), keep: [{ path: baselineFile, what: 'the baseline' }] })
  try {
    refuseMismatch(baseline, baselineFile, setup.router.id, setup.datasets)
    const lines = dryRunReport(setup, repeatsFor).trimEnd().split('\n')
    // The re-tests' bound before the last line, which says nothing was sent.
    lines.splice(lines.length - 1, 0, ...retestDryRunLines(setup, repeatsFor))
    return `${lines.join('\n')}\n`
  } finally {
    await setup.router.close?.()
  }
}

/**
 * Saved runs (a merge of a CI matrix's shards among them) have their flips
 * re-tested too, with the router the flags and config name, when it is the
 * runs' own: a flip its re-test does not reproduce is noise, as when the
 * gate routes itself. Where that router cannot be made here (no key) or is
 * another, each flip counts as it is, and the gate says so. The re-tests
 * get what the runs' own spend (`spentUsd`) left of --max-cost.
 */
function savedRunsRetest(request: GateRequest, env: RunEnv, wanted: Baseline['datasets'], baseline: Baseline, runsRouter: string, spentUsd: number, signal: AbortSignal | undefined) {
  let setup: Setup | null | undefined
  let retester: GateRetest | undefined
  const make = async (): Promise<Setup | null> => {
    const note = (why: string) => env.warn(`note: the flipped cases of the saved runs are not re-tested (${why}); each flip counts as it is\n`)
    let made: Setup
    try {
      made = await prepareEval({ ...request, dataset: wanted.map((d) => d.path) }, env, { skipInvalid: true, alsoKnownAgents: baseline.agents.map((a) => a.name), noRunFolders: true })
    } catch (e) {
      if (!(e instanceof UsageError || e instanceof InputError)) throw e
      note(`the router cannot be made here: ${e.message.split('\n')[0]}`)
      return null
    }
    if (made.router.id === runsRouter && !made.router.deterministic) return made
    await made.router.close?.()
    if (made.router.id !== runsRouter) note(`the runs were routed with ${runsRouter}, and the flags and config name ${made.router.id}: pass the runs' --router, --model and --style`)
    return null
  }
  const ready = async (): Promise<GateRetest | undefined> => {
    if (setup === undefined) {
      setup = await make()
      if (setup) retester = gateRetest(setup, env, spentUsd, signal)
    }
    return retester
  }
  const stable = (c: DatasetComparison) => c.flips.some((f) => !f.flaky)
  return {
    beforeRetest: async (firsts: ReadonlyArray<{ comparison: DatasetComparison; baseline: BaselineDataset }>): Promise<void> => {
      if (firsts.some((x) => stable(x.comparison))) await (await ready())?.beforeRetest(firsts)
    },
    retest: async (comparison: DatasetComparison, base: BaselineDataset): Promise<RetestVotes> => {
      if (!stable(comparison)) return new Map()
      return (await (await ready())?.retest(comparison, base)) ?? new Map()
    },
    retester: () => retester,
    close: async () => {
      retester?.close()
      await setup?.router.close?.()
    },
  }
}

/** The gate's comparison of a saved run with the baseline, as `routecheck gate RUN_DIR` makes it (for `routecheck report --baseline`). */
export async function gateOutcomeForRun(summary: Summary, runDir: string, baselineFile: string, configFile: string | undefined): Promise<GateOutcome> {
  refuseShards([summary], [runDir])
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
