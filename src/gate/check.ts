import path from 'node:path'
import { loadAgentFolders, type Catalogue, type InvalidAgentFile } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { loadDataset } from '../load/dataset.js'
import { InputError, UsageError } from '../load/input-error.js'
import { completion, dryRunReport, finishRuns, prepareEval, runDatasets, type EvalOptions, type RunEnv, type Setup } from '../run/evaluate.js'
import { expandRunFolders, readRuns, refuseShards } from '../run/read.js'
import type { Summary } from '../run/record.js'
import { DEFAULT_BASELINE, type Baseline, type BaselineDataset } from './baseline.js'
import { baselineRefNote, loadGateBaseline, type BaselineRef, type GateBaseline } from './baseline-ref.js'
import { hasChanges, diffAgents, type DatasetComparison, type GateThresholds } from './compare.js'
import { agentNames, buildOutcome, type GateOutcome } from './outcome.js'
import { flipsToRetest, type RetestVotes } from './retest.js'
import { flipsLine, gateRetest, retestDryRunLines, retestNotes, retestPlanLines, type GateRetest, type RetestAccount } from './retest-routing.js'

export type GateRequest = EvalOptions & {
  /** the baseline file (default reports/baseline.json) */
  baseline?: string | undefined
  /** read the baseline as it is at this git revision (the branch the pull request goes into); default the config's gate.baselineRef */
  baselineRef?: string | undefined
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
  /** `baseline`: the name of the baseline compared with (`REF:path` when read at a revision) */
  | { kind: 'unchanged'; baseline: string; baselineRef?: BaselineRef }
  /** --dry-run: what the gate would send, its re-tests' bound included; nothing sent */
  | { kind: 'dry-run'; text: string }
  | { kind: 'fatal'; message: string; unreachable: boolean }
  | {
      /** gate --shard K/N: this machine's shard of the gate's run, routed and not judged (merge the shards, then gate the merged folders) */
      kind: 'shard'
      summaries: Summary[]
      baselineRef?: BaselineRef
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
  const { config } = await loadConfig(request.config)
  const read = await loadGateBaseline(request.baseline ?? DEFAULT_BASELINE, request.baselineRef ?? config.gate.baselineRef, { allowIncomplete: request.allowIncomplete })
  // `baselineFile` is the working tree's file (a run folder must not hold it); messages name `read.name` (REF:path when read at REF).
  const { baseline, file: baselineFile, name: baselineName } = read
  const refNote = baselineRefNote(read.ref)
  const current = await loadAgentFolders(request.agents ?? config.agents, { skipInvalid: true, env: env.env })
  const changes = diffAgents(baseline.agents, current.catalogue.agents, current.invalid)

  const wanted = pickDatasets(baseline, request.dataset, baselineName)
  if (request.onlyIfChanged && !hasChanges(changes) && !(await datasetsChanged(wanted, baseline, current.catalogue))) {
    return { kind: 'unchanged', baseline: baselineName, ...(read.ref ? { baselineRef: read.ref } : {}) }
  }

  if (request.runDirs.length > 0 && request.shard) throw new UsageError('--shard routes a shard of the gate\'s run; to gate saved run folders, merge the shards first (routecheck merge) and give the merged folders')
  const repeatsOf = new Map(wanted.map((d) => [d.path, d.repeats]))
  const repeatsFor = (d: { path: string }) => request.repeats ?? repeatsOf.get(d.path) ?? 1
  if (request.dryRun) {
    const text = request.runDirs.length > 0 ? await savedRunsDryRun(request, env, wanted, read, current, config.gate) : await dryRun(request, env, wanted, read, repeatsFor)
    return { kind: 'dry-run', text: refNote ? `${refNote}\n${text}` : text }
  }
  let setup: Setup | undefined
  let staged: StagedRuns | undefined
  let saved: ReturnType<typeof savedRunsRetest> | undefined
  let retester: GateRetest | undefined
  let savedDirs: string[] = []
  let handedOver = false
  try {
    let summaries: Summary[] = []
    if (request.runDirs.length > 0) {
      ;({ summaries, dirs: savedDirs } = await readSavedRuns(request.runDirs, baseline))
    } else {
      setup = await prepareEval({ ...request, dataset: wanted.map((d) => d.path) }, env, {
        skipInvalid: true,
        alsoKnownAgents: baseline.agents.map((a) => a.name),
        keep: [{ path: baselineFile, what: 'the baseline' }],
      })
      const routed = setup
      staged = { finish: (reports, onRun) => finishRuns(routed, summaries, reports, onRun), discard: () => routed.folders!.discardAll() }
      refuseMismatch(baseline, baselineName, setup.router.id, setup.datasets)
      const run = await runDatasets(setup, env, { repeatsFor, keepStaged: true, ...(signal ? { signal } : {}) })
      if (run.fatal) return { kind: 'fatal', ...run.fatal }
      summaries = run.summaries
      if (request.shard) {
        handedOver = true
        return { kind: 'shard', summaries, staged, completion: completion(summaries, request.maxCost), ...(read.ref ? { baselineRef: read.ref } : {}) }
      }
    }
    refuseMismatch(baseline, baselineName, summaries[0]?.router.id ?? baseline.router.id, summaries.map((s) => s.dataset))

    // --max-cost is the whole gate's: the re-tests get what the run spent this time left of it
    // (for saved runs, what they spent when routed: a merged run's shards were given the same cap).
    const runSpentUsd = spentBy(summaries)
    const routed = setup
    if (routed && !routed.router.deterministic) retester = gateRetest(routed, env, runSpentUsd, signal)
    saved = request.runDirs.length > 0 ? savedRunsRetest(request, env, wanted, baseline, summaries[0]?.router.id ?? baseline.router.id, runSpentUsd, signal) : undefined
    const judge = retester ?? saved
    const built = await judgeRuns(read, current, summaries, config.gate, judge)
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

/** The gate's outcome for the runs, with the agents as they are now; their flips re-tested by `judge`, when given. */
function judgeRuns(
  { baseline, file, ref }: GateBaseline,
  current: { catalogue: Catalogue; invalid: InvalidAgentFile[] },
  summaries: readonly Summary[],
  thresholds: GateThresholds,
  judge?: Pick<GateRetest, 'retest' | 'beforeRetest'>,
): Promise<GateOutcome> {
  return buildOutcome({
    baseline,
    baselineFile: file,
    ...(ref ? { baselineRef: ref } : {}),
    agents: current.catalogue.agents,
    invalid: current.invalid,
    runs: summaries.map((s) => ({ path: s.dataset.path, cases: s.cases })),
    thresholds,
    retest: judge?.retest,
    beforeRetest: judge?.beforeRetest,
  })
}

/** Saved run folders in the baseline's order of datasets, as the gate routes them, whatever order the folders come in; shards refused. */
async function readSavedRuns(runDirs: readonly string[], baseline: Baseline): Promise<{ summaries: Summary[]; dirs: string[] }> {
  const dirs = await expandRunFolders(runDirs)
  const read = await readRuns(dirs)
  const rank = (p: string) => baseline.datasets.findIndex((d) => d.path === p) >>> 0
  const order = read.map((s, i) => ({ s, dir: dirs[i]! })).sort((a, b) => rank(a.s.dataset.path) - rank(b.s.dataset.path))
  const saved = { summaries: order.map((x) => x.s), dirs: order.map((x) => x.dir) }
  refuseShards(saved.summaries, saved.dirs)
  return saved
}

/** What --max-cost gives the re-tests of saved runs' flips: the cap minus what the runs spent when routed (a merged run's shards were given the same cap). */
const spentBy = (summaries: readonly Summary[]) => summaries.reduce((n, s) => n + (s.cost?.usdThisRun ?? 0), 0)

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
async function dryRun(request: GateRequest, env: RunEnv, wanted: Baseline['datasets'], { baseline, file, name }: GateBaseline, repeatsFor: (d: { path: string }) => number): Promise<string> {
  const setup = await prepareEval({ ...request, dataset: wanted.map((d) => d.path) }, env, { skipInvalid: true, alsoKnownAgents: baseline.agents.map((a) => a.name), keep: [{ path: file, what: 'the baseline' }] })
  try {
    refuseMismatch(baseline, name, setup.router.id, setup.datasets)
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
    const made = await savedRunsRouter(request, env, wanted, baseline, runsRouter)
    if ('setup' in made) return made.setup
    if (!made.deterministic) env.warn(`note: the flipped cases of the saved runs are not re-tested (${made.why}); each flip counts as it is\n`)
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

/**
 * The router that re-tests saved runs' flips: the one the flags and config name, when it is the
 * runs' own and a model router; otherwise why not (`deterministic`: its flips are real, nothing
 * to say).
 */
async function savedRunsRouter(request: GateRequest, env: RunEnv, wanted: Baseline['datasets'], baseline: Baseline, runsRouter: string): Promise<{ setup: Setup } | { why: string; deterministic?: true }> {
  let made: Setup
  try {
    made = await prepareEval({ ...request, dataset: wanted.map((d) => d.path) }, env, { skipInvalid: true, alsoKnownAgents: baseline.agents.map((a) => a.name), noRunFolders: true })
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof InputError)) throw e
    return { why: `the router cannot be made here: ${e.message.split('\n')[0]}` }
  }
  if (made.router.id === runsRouter && !made.router.deterministic) return { setup: made }
  await made.router.close?.()
  if (made.router.id !== runsRouter) return { why: `the runs were routed with ${runsRouter}, and the flags and config name ${made.router.id}: pass the runs' --router, --model and --style` }
  return { why: `the ${made.router.id} router is deterministic: a flip is never noise`, deterministic: true }
}

/**
 * `gate RUN_DIR… --dry-run`: the saved runs compared with the baseline (free: nothing is routed),
 * and the re-tests of their stable flips the gate would send, priced, with what --max-cost leaves
 * for them. Nothing is sent.
 */
async function savedRunsDryRun(
  request: GateRequest,
  env: RunEnv,
  wanted: Baseline['datasets'],
  read: GateBaseline,
  current: { catalogue: Catalogue; invalid: InvalidAgentFile[] },
  thresholds: GateThresholds,
): Promise<string> {
  const { baseline, name: baselineName } = read
  const { summaries, dirs } = await readSavedRuns(request.runDirs, baseline)
  const runsRouter = summaries[0]?.router.id ?? baseline.router.id
  refuseMismatch(baseline, baselineName, runsRouter, summaries.map((s) => s.dataset))
  // The gate's comparison as it makes it, before any re-test: the flips as they are.
  const outcome = await judgeRuns(read, current, summaries, thresholds)
  const failing = [...new Set(outcome.verdict.failures.map((f) => f.rule))]
  const lines = [
    `gate --dry-run: ${summaries.length} saved run(s) (${dirs.join(', ')}) compared with ${baselineName}, router ${runsRouter}; comparing them routes nothing`,
    ...outcome.comparisons.map(flipsLine),
    `without re-tests (every stable flip holding) the rules ${failing.length > 0 ? `fail: ${failing.join(', ')}` : 'pass'}`,
  ]
  const firsts = outcome.comparisons.map((comparison) => ({ comparison, baseline: baseline.datasets.find((d) => d.path === comparison.path)! }))
  const stable = firsts.reduce((n, x) => n + flipsToRetest(x.comparison).length, 0)
  const made = stable > 0 ? await savedRunsRouter(request, env, wanted, baseline, runsRouter) : undefined
  if (!made || !('setup' in made)) {
    const none = !made ? 'no stable flip to re-test' : made.deterministic ? made.why : `the flipped cases would not be re-tested: ${made.why}; each flip counts as it is`
    lines.push(`re-tests: none (${none})`, 'dry run: nothing was sent.')
    return `${lines.join('\n')}\n`
  }
  try {
    lines.push(...retestPlanLines(made.setup, firsts, spentBy(summaries)))
    return `${lines.join('\n')}\n`
  } finally {
    await made.setup.router.close?.()
  }
}

/**
 * The gate's comparison of a saved run with the baseline, as `routecheck gate RUN_DIR` makes it (for
 * `routecheck report --baseline`): the baseline read as the gate reads it, at `baselineRef` (else the
 * config's gate.baselineRef) when one is given, so a page rebuilt for a pull request shows the comparison the gate judged.
 */
export async function gateOutcomeForRun(
  summary: Summary,
  runDir: string,
  request: { baseline?: string | undefined; baselineRef?: string | undefined; config?: string | undefined },
): Promise<GateOutcome> {
  refuseShards([summary], [runDir])
  const { config } = await loadConfig(request.config)
  const read = await loadGateBaseline(request.baseline ?? DEFAULT_BASELINE, request.baselineRef ?? config.gate.baselineRef, {})
  refuseMismatch(read.baseline, read.name, summary.router.id, [summary.dataset])
  return buildOutcome({
    baseline: read.baseline,
    baselineFile: read.file,
    ...(read.ref ? { baselineRef: read.ref } : {}),
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

function pickDatasets(baseline: Baseline, wanted: readonly string[] | undefined, baselineName: string): Baseline['datasets'] {
  if (!wanted) return baseline.datasets
  const norm = (p: string) => path.normalize(p)
  return wanted.map((w) => {
    const hit = baseline.datasets.find((d) => norm(d.path) === norm(w) || path.basename(d.path) === w)
    if (!hit) throw new UsageError(`${w} is not in ${baselineName} (it has ${baseline.datasets.map((d) => d.path).join(', ')}); make a new baseline to add it`)
    return hit
  })
}

/** The gate compares like with like: the same router, and datasets the baseline has. */
function refuseMismatch(baseline: Baseline, baselineName: string, routerId: string, datasets: ReadonlyArray<{ path: string }>): void {
  if (routerId !== baseline.router.id) {
    throw new UsageError(`cannot compare: ${baselineName} was made with router ${baseline.router.id}, this run uses ${routerId}; pass the same --router/--model/--style, or make a new baseline`)
  }
  // A dataset that changed is compared on the cases it shares with the baseline; buildOutcome refuses one that shares none.
  for (const d of datasets) {
    if (!baseline.datasets.some((b) => b.path === d.path)) throw new UsageError(`cannot compare: ${d.path} is not in ${baselineName}`)
  }
}
