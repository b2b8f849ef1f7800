import { existsSync } from 'node:fs'
import path from 'node:path'
import { loadAgentFolders, loadWarningText, type Catalogue, type LoadedCatalogue } from '../load/catalogue.js'
import { loadConfig, type Config, type RouterStyle } from '../load/config.js'
import { isBuiltinAgent } from '../load/builtin-agents.js'
import { FROM_DESCRIPTION_TAG, fromDescriptionCount, isFromDescription, loadDataset, type Case, type Dataset } from '../load/dataset.js'
import { UsageError } from '../load/input-error.js'
import { analyseOverlap, prepareOverlapText, type InvalidFile, type OverlapAgent, type OverlapCase, type OverlapReport, type ProbeSpec } from '../overlap/index.js'
import { loadPrices, priceFor, usageCost, type Price } from '../route/cost.js'
import { createRouter } from '../route/create-router.js'
import { attemptKey, batchCustomId, batchTag, journalPath, openJournal, type Journal } from '../route/journal.js'
import { LEXICAL_DEFAULTS } from '../route/lexical.js'
import type { Router } from '../route/router.js'
import { FatalRouterError, routeCases, type Attempt, type Budget } from '../route/run.js'
import type { BatchSession } from '../route/batch-routing.js'
import { batchDryRunLines, batchPlan, estimatedUsage, requireBatching, startBatchSession, type BatchPlan } from './batch-run.js'
import { scoreCases } from '../score/metrics.js'
import { voteByCase } from '../score/votes.js'
import { writeResults, writeSummary, WriteError } from './files.js'
import { phaseEnd } from '../text/timing.js'
import { checkOutputFile, checkRunFolders, stageRunFolders, type KeptPath, type RunFolder, type StagedRunFolders } from './out-folder.js'
import { buildSummary, caseAt, type RunCatalogue, type RunDataset, type ShardRecord, type Summary } from './record.js'
import { casesOfShard, shardFolderName, shardLabel, shardOfCase, shardShareOfCap, type Shard } from './shard.js'

/**
 * The eval use case: load and check every input, route each dataset, score
 * it, analyse the overlap, and write the run record (results.jsonl and
 * summary.json). `eval`, `baseline` and `gate` all route through here; what
 * they print and which reports they add is theirs.
 */

/** What a command asks of a run; unset values fall back to the config. */
export type EvalOptions = {
  config?: string | undefined
  /** agent folders, in the order given (Claude Code's precedence decides a name defined twice) */
  agents?: string[] | undefined
  dataset?: string[] | undefined
  router?: string | undefined
  model?: string | undefined
  style?: RouterStyle | undefined
  /** the claude-code router's Claude Code executable and project to route in */
  claudeBin?: string | undefined
  workspace?: string | undefined
  repeats?: number | undefined
  concurrency?: number | undefined
  timeout?: number | undefined
  out?: string | undefined
  noCache?: boolean | undefined
  dryRun?: boolean | undefined
  maxCost?: number | undefined
  skipInvalid?: boolean | undefined
  /** send the requests through the Message Batches API, checking every batchPoll seconds */
  batch?: boolean | undefined
  batchPoll?: number | undefined
  /** route only this shard of every dataset (eval --shard K/N) */
  shard?: Shard | undefined
}

/** What a run reports back while it works: warnings and progress, to stderr in the CLI. */
export type RunEnv = {
  warn: (text: string) => void
  progress: (label: string, total: number) => Progress
  now: () => Date
  toolVersion: string
  /** where routers find keys and base URLs */
  env: Readonly<Record<string, string | undefined>>
}

export type Progress = {
  /** one attempt finished; `usd` is what it cost, when priced */
  tick(outcome: { failed: boolean; cached: boolean; usd?: number }): void
  retry(): void
  /** the requests allowed in flight, of at most `max`, when the run follows the server's rate limits */
  window?(inFlight: number, max: number): void
  done(): void
}

/** What one run needs once config and options are merged (options win). */
export type EvalPlan = {
  agentsDirs: string[]
  datasets: string[]
  routerSpec: string
  repeats: number | undefined
  concurrency: number
  timeoutMs: number
  /** the run folder for each dataset */
  outFor: (dataset: string) => string
  /** --batch: how batches are polled and cached; undefined for a live run */
  batch: BatchPlan | undefined
  config: Config
  options: EvalOptions
}

export function planEval(config: Config, options: EvalOptions): EvalPlan {
  const datasets = options.dataset ?? config.datasets
  // --out names the run folder itself when there is one dataset; with several, each gets OUT/<stem> (longer where stems meet).
  // A shard's default is OUT/shard-K-of-N/<stem>, so shards run on one machine do not replace each other.
  const out = options.out ?? (options.shard ? path.join(config.out, shardFolderName(options.shard)) : config.out)
  const single = options.out !== undefined && datasets.length === 1
  const folders = runFolderNames(datasets)
  return {
    agentsDirs: options.agents ?? config.agents,
    datasets,
    routerSpec: options.router ?? config.router,
    repeats: options.repeats ?? config.repeats,
    concurrency: options.concurrency ?? config.concurrency,
    timeoutMs: (options.timeout ?? config.timeout) * 1000,
    outFor: (dataset) => (single ? out : path.join(out, folders.get(dataset) ?? runFolderNames([dataset]).get(dataset)!)),
    batch: batchPlan(config, options),
    config,
    options,
  }
}

/**
 * Each dataset's run folder name under OUT: its file's stem, or where two
 * datasets share a stem (routing.csv in two folders, a.csv beside a.jsonl),
 * as many of its last path segments as tell it apart, joined by "-"
 * (team-a-routing, team-b-routing; a-csv, a-jsonl), so no run overwrites another.
 */
export function runFolderNames(datasets: readonly string[]): Map<string, string> {
  const stem = (d: string) => path.basename(d, path.extname(d))
  const segments = (d: string) => {
    const parts = path.normalize(d).split(/[\\/]+/).filter((p) => p !== '' && p !== '.' && p !== '..')
    return [...parts.slice(0, -1), stem(d)]
  }
  const names = new Map<string, string>()
  const unique = [...new Set(datasets)]
  for (const d of unique) {
    const rivals = unique.filter((o) => o !== d && stem(o) === stem(d))
    if (rivals.length === 0) {
      names.set(d, stem(d))
      continue
    }
    // The same folder and stem: the extension tells them apart.
    const own = rivals.some((o) => segments(o).join('/') === segments(d).join('/')) ? [...segments(d).slice(0, -1), path.basename(d).replace(/\./g, '-')] : segments(d)
    const tail = (k: number, s: readonly string[]) => s.slice(-k).join('-')
    let k = 1
    while (k < own.length && rivals.some((o) => tail(k, segments(o)) === tail(k, own))) k++
    names.set(d, tail(k, own))
  }
  // Names that still meet (one file named two ways, or a stem that reads like another's path) get a number.
  const seen = new Map<string, number>()
  for (const d of unique) {
    const n = names.get(d)!
    const count = (seen.get(n) ?? 0) + 1
    seen.set(n, count)
    if (count > 1) names.set(d, `${n}-${count}`)
  }
  return names
}

/**
 * Everything a run routes with, ready before the first request. `folders`
 * are the run folders, staged (absent for a dry run, which writes nothing).
 */
export type Setup = { plan: EvalPlan; loaded: LoadedCatalogue; datasets: Dataset[]; router: Router; price: Price | undefined; folders?: StagedRunFolders | undefined }

/**
 * Loads and checks every input before anything is routed: bad input writes
 * nothing and sends nothing. The gate loads invalid agent files as changes to
 * report (`skipInvalid`) and accepts labels naming agents the baseline had.
 * The run folders are checked with the inputs and staged once the router is
 * made, so an --out that cannot take the run is exit 2 before the first
 * request. `keep` names more files no run folder may hold (the baseline).
 */
export async function prepareEval(
  options: EvalOptions,
  env: Pick<RunEnv, 'warn' | 'env'>,
  opts: {
    skipInvalid?: boolean
    alsoKnownAgents?: readonly string[]
    keep?: readonly KeptPath[]
    outputFile?: { path: string; named: string }
    /** routes without a run folder of its own (the gate's re-test of saved runs): nothing checked or staged */
    noRunFolders?: boolean
  } = {},
): Promise<Setup> {
  const { config, file: configFile } = await loadConfig(options.config)
  const plan = planEval(config, options)
  phaseEnd('config')
  const loaded = await loadRunAgents(plan, env, { skipInvalid: opts.skipInvalid ?? options.skipInvalid ?? false })
  phaseEnd('agents')
  const names = [...new Set([...loaded.catalogue.agents.map((a) => a.name), ...(opts.alsoKnownAgents ?? [])])]
  const datasets: Dataset[] = []
  for (const file of plan.datasets) datasets.push(await loadDataset(file, names))
  phaseEnd('datasets')
  for (const d of datasets) {
    const seen = fromDescriptionCount(d.cases)
    if (seen > 0) env.warn(`warning: ${d.path}: ${seen} of ${d.cases.length} cases are tagged ${FROM_DESCRIPTION_TAG}: the descriptions' own <example> prompts, which the router reads, so they flatter it; read its accuracy as an upper bound, and replace them with prompts from routecheck generate\n`)
  }
  const inputs = runInputs(plan, configFile)
  const folderCheck = { folders: plan.datasets.map(plan.outFor), agentsDirs: plan.agentsDirs, keep: [...inputs, ...(opts.keep ?? [])], byDefault: config.out }
  if (!opts.noRunFolders) await checkRunFolders(folderCheck)
  if (opts.outputFile) await checkOutputFile({ file: opts.outputFile.path, named: opts.outputFile.named, keep: inputs, folders: folderCheck.folders })
  const { router, price } = await createRunRouter(plan, loaded, env)
  if (!router.picksBuiltins) {
    for (const d of datasets) {
      const only = d.cases.filter((c) => c.expected.every(isBuiltinAgent))
      const named = [...new Set(d.cases.flatMap((c) => c.expected.filter(isBuiltinAgent)))]
      if (named.length > 0) {
        env.warn(`warning: ${d.path} accepts Claude Code's own agents (${named.join(', ')}); the ${router.id} router cannot pick them, so the ${only.length} case(s) that accept only them count as misses. Route with --router claude-code to measure them.\n`)
      }
    }
  }
  try {
    const folders = options.dryRun || opts.noRunFolders ? undefined : await stageRunFolders(folderCheck)
    phaseEnd('router')
    return { plan, loaded, datasets, router, price, folders }
  } catch (e) {
    await router.close?.()
    throw e
  }
}

/** The run's agents, with what the loader passed over said once. */
export async function loadRunAgents(plan: EvalPlan, env: Pick<RunEnv, 'warn' | 'env'>, opts: { skipInvalid: boolean }): Promise<LoadedCatalogue> {
  const loaded = await loadAgentFolders(plan.agentsDirs, { skipInvalid: opts.skipInvalid, env: env.env })
  for (const bad of loaded.invalid) env.warn(`warning: skipped ${bad.file}:${bad.line}: ${bad.reason}\n`)
  for (const x of loaded.skipped) env.warn(`note: ${x.file} is ${x.reason}; passed over, as Claude Code does\n`)
  for (const w of loaded.warnings) env.warn(`warning: ${loadWarningText(w)}\n`)
  return loaded
}

/** The run's router and its model's price; --batch with a router that cannot, or --max-cost without a price, is refused before anything is sent. */
export async function createRunRouter(plan: EvalPlan, loaded: LoadedCatalogue, env: Pick<RunEnv, 'warn' | 'env'>): Promise<Pick<Setup, 'router' | 'price'>> {
  const { config, options } = plan
  const router = await createRouter(plan.routerSpec, {
    lexical: config.lexical,
    anthropic: config.anthropic,
    claudeCode: { ...config.claudeCode, ...(options.claudeBin ? { bin: options.claudeBin } : {}), ...(options.workspace ? { workspace: options.workspace } : {}) },
    ...(options.model ? { model: options.model } : {}),
    ...(options.style ? { style: options.style } : {}),
    timeoutMs: plan.timeoutMs,
    dryRun: options.dryRun ?? false,
    env: env.env,
    catalogue: loaded.catalogue,
    cacheDir: config.cacheDir,
    noCache: options.noCache ?? false,
    warn: env.warn,
  })
  try {
    if (plan.batch) requireBatching(router)
    const price = router.pricedModel ? priceFor(router.pricedModel, loadPrices(config.anthropic.prices)) : undefined
    if (options.maxCost !== undefined && router.pricedModel && !price) {
      throw new UsageError(`--max-cost needs a price for model "${router.pricedModel}": add it to a price table and point anthropic.prices in the config at it`)
    }
    return { router, price }
  } catch (e) {
    await router.close?.()
    throw e
  }
}

/** The run's inputs, which no run folder may hold: it is replaced whole when the run ends. */
export function runInputs(plan: EvalPlan, configFile: string | undefined): KeptPath[] {
  const { config, options } = plan
  const workspace = options.workspace ?? config.claudeCode.workspace
  return [
    ...plan.agentsDirs.map((d) => ({ path: d, what: 'the agents folder' })),
    ...plan.datasets.map((d) => ({ path: d, what: 'the dataset' })),
    ...(configFile ? [{ path: configFile, what: 'the config file' }] : []),
    { path: config.cacheDir, what: 'the run journal folder (cacheDir)' },
    ...(config.anthropic.template ? [{ path: config.anthropic.template, what: 'the request template' }] : []),
    ...(config.anthropic.prices ? [{ path: config.anthropic.prices, what: 'the price table' }] : []),
    ...(workspace ? [{ path: workspace, what: 'the workspace' }] : []),
  ]
}

/** The cases a run routes of a dataset: all of them, or its shard's, each with its place in the dataset. */
export function casesToRoute(setup: Pick<Setup, 'plan'>, dataset: Dataset): { cases: Case[]; positions?: Map<string, number> } {
  const shard = setup.plan.options.shard
  if (!shard) return { cases: dataset.cases }
  const chosen = casesOfShard(dataset.cases, shard)
  return { cases: chosen.map((x) => x.c), positions: new Map(chosen.map((x) => [x.c.id, x.position])) }
}

/**
 * What besides the catalogue and the dataset decides a router's answers: its
 * journal key (model, style, template, Claude Code's version and request)
 * and the lexical settings. Shards must agree on it to be merged.
 */
export function routerSettings(setup: Pick<Setup, 'router' | 'plan'>): string {
  const { router, plan } = setup
  // The lexical settings in full, so a config that spells out a default agrees with one that leaves it out.
  return JSON.stringify({ router: router.cacheKey ?? router.id, ...(plan.routerSpec === 'lexical' ? { lexical: { ...LEXICAL_DEFAULTS, ...plan.config.lexical } } : {}) })
}

/** Repeats per case: the option, else the config, else 1 for a deterministic router and 3 for a model. */
export function repeatsOf(setup: Setup): number {
  return setup.plan.repeats ?? (setup.router.deterministic ? 1 : 3)
}

/** Opens the run journal for the router, saying what it found. */
export function openRunJournal(setup: Setup, env: Pick<RunEnv, 'warn'>): Journal | undefined {
  const { router, plan, loaded } = setup
  if (!router.cacheKey || plan.options.noCache) return undefined
  const journal = openJournal(plan.config.cacheDir, router.cacheKey, loaded.catalogue.fingerprint)
  if (journal.repairedTail) env.warn(`journal ${journal.file}: removed a last line cut off mid-write (a run killed while writing)\n`)
  if (journal.skippedLines.length > 0) env.warn(`journal ${journal.file}: skipped ${journal.skippedLines.length} unreadable line(s) (${journal.skippedLines.slice(0, 5).join(', ')}…); their requests will be sent again\n`)
  if (journal.loaded > 0) env.warn(`journal ${journal.file}: ${journal.loaded} finished request(s) from earlier runs\n`)
  return journal
}

export type DatasetsRun = {
  summaries: Summary[]
  /** no request could succeed (bad key, unknown model, unreachable server): the runs finished before it are kept */
  fatal?: { message: string; unreachable: boolean }
}

export type RunHooks = {
  signal?: AbortSignal
  repeatsFor?: (dataset: Dataset) => number
  /** writes a run's reports into its staging folder, before the folder is put in place */
  reports?: (summary: Summary, staging: string, dataset: RunDataset) => Promise<void>
  /** sees each run once its folder is in place (`dropped`: an earlier run's files it no longer has, such as a gate's gate.json) */
  onRun?: (summary: Summary, dir: string, dataset: Dataset, done: { dropped: string[] }) => Promise<void>
  /** leave the run folders staged: the caller adds its reports and commits them (the gate, after its verdict) */
  keepStaged?: boolean
  /** the overlap a run records, from its scored cases (prompts joined); default: the catalogue's with the dataset's routing signals */
  overlapOf?: OverlapOf
}

/** How a run's overlap is computed from its scored cases: a dataset's (overlapOfRuns), or a probe set's. */
export type OverlapOf = (cases: readonly OverlapCase[], dataset: { path: string }) => OverlapReport

/**
 * Routes, scores and records every dataset. Each run folder is written in
 * its staging folder and put in place whole once its reports are there, so
 * a caller can print while the next dataset routes. A failure to write (a
 * full disk) leaves the earlier run folder as it was, removes what was
 * staged and says where the finished requests are kept.
 */
export async function runDatasets(setup: Setup, env: RunEnv, opts: RunHooks = {}): Promise<DatasetsRun> {
  const { plan, loaded, datasets, router, price } = setup
  const folders = setup.folders
  if (!folders) throw new Error('runDatasets needs staged run folders (prepareEval without dryRun)')
  const journal = openRunJournal(setup, env)
  const summaries: Summary[] = []
  let spentUsd = 0
  const repeatsFor = (dataset: Dataset) => opts.repeatsFor?.(dataset) ?? repeatsOf(setup)
  // A shard keeps to its share of --max-cost, worked out before the journal fills.
  const shardCap = shardCapOf(setup, journal, repeatsFor)
  if (shardCap) env.warn(`${shardCapLines(setup, shardCap).join('\n')}\n`)
  const maxCost = shardCap?.shareUsd ?? plan.options.maxCost
  const named = plan.options.maxCost === undefined ? undefined : capText(plan.options.maxCost, setup.plan.options.shard, shardCap)
  let dir = ''
  let journalWarned = false
  try {
    // --batch: every dataset's requests are in batches before the first is waited for; the session keeps --max-cost.
    const batches = plan.batch
      ? await startBatchSession(
          { router, catalogue: loaded.catalogue, plan: plan.batch, journal, price, maxCost, capName: named, maxTries: plan.config.maxTries, signal: opts.signal, warn: env.warn },
          datasets.map((dataset) => ({ dataset: { ...dataset, cases: casesToRoute(setup, dataset).cases }, repeats: repeatsFor(dataset) })),
        )
      : undefined
    for (const dataset of datasets) {
      const budget = maxCost !== undefined && price && !batches ? budgetFor(maxCost - spentUsd, price, router, loaded.catalogue, dataset.cases, named) : undefined
      const repeats = repeatsFor(dataset)
      dir = plan.outFor(dataset.path)
      const folder = folders.get(dir)
      const summary = await evalDataset(dataset, repeats, folder, setup, env, { journal, budget, signal: opts.signal, batches, overlapOf: opts.overlapOf, shardCap })
      if (journal?.writeFailure !== undefined && !journalWarned) {
        journalWarned = true
        env.warn(`warning: the run journal ${journal.file} could not be written (${journal.writeFailure}): what finished since is in the run folder only, and a run after freeing space sends it again\n`)
      }
      spentUsd += summary.cost?.usdThisRun ?? 0
      summaries.push(summary)
      await opts.reports?.(summary, folder.staging, dataset)
      if (opts.keepStaged) continue
      const { dropped } = await folder.commit()
      await opts.onRun?.(summary, dir, dataset, { dropped })
    }
  } catch (e) {
    await folders.discardAll()
    if (e instanceof WriteError) throw new WriteError(e.file, e.reason, e.code, writeFailure(e, dir, journal?.file, journal?.writeFailure))
    if (!(e instanceof FatalRouterError)) throw e
    return { summaries, fatal: { message: e.message, unreachable: e.unreachable } }
  } finally {
    journal?.close()
  }
  return { summaries }
}

/**
 * Runs routed with `keepStaged`: writes each one's reports into its staging
 * folder, then puts the folders in place. A write that fails is explained as
 * runDatasets explains it, and nothing staged is left.
 */
export async function finishRuns(
  setup: Setup,
  summaries: readonly Summary[],
  reports: (summary: Summary, staging: string) => Promise<void>,
  onRun?: (summary: Summary, dir: string, done: { dropped: string[] }) => void,
): Promise<void> {
  const folders = setup.folders!
  let dir = ''
  try {
    for (const summary of summaries) {
      dir = setup.plan.outFor(summary.dataset.path)
      const folder = folders.get(dir)
      await reports(summary, folder.staging)
      const done = await folder.commit()
      onRun?.(summary, dir, done)
    }
  } catch (e) {
    if (e instanceof WriteError) throw new WriteError(e.file, e.reason, e.code, writeFailure(e, dir, journalFileOf(setup)))
    throw e
  } finally {
    await folders.discardAll()
  }
}

/** The run journal's file, when the run keeps one. */
function journalFileOf({ router, plan, loaded }: Setup): string | undefined {
  return router.cacheKey && !plan.options.noCache ? journalPath(plan.config.cacheDir, router.cacheKey, loaded.catalogue.fingerprint) : undefined
}

/** A write that failed, in one sentence: where, why, what is kept, what to do. */
function writeFailure(e: WriteError, dir: string, journalFile: string | undefined, journalFailure?: string): string {
  const kept =
    journalFile === undefined
      ? 'this run kept no journal (--no-cache, or a router that needs none), so a run after freeing space routes again'
      : journalFailure !== undefined
        ? `the run journal ${journalFile} could not be written either (${journalFailure}), so a run after freeing space sends what it lacks again`
        : `every finished request is in the run journal ${journalFile}, so a run after freeing space sends none of them again`
  const earlier = existsSync(dir) ? 'the earlier run folder there is as it was' : 'nothing was left there'
  return `could not write the run folder ${dir} (${path.basename(e.file)}: ${e.reason}); ${earlier}, and ${kept}`
}

/**
 * When the text model is worked out during a model router's run: after the
 * first requests are written (32 take about 10 ms of CPU) and before their
 * replies come back (50 ms at the earliest in the harness benchmark; a
 * second or more from the API).
 */
const TEXT_AHEAD_AFTER_MS = 15

const overlapAgents = (catalogue: RunCatalogue): OverlapAgent[] => catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file }))

type DatasetRun = { journal: Journal | undefined; budget: Budget | undefined; signal: AbortSignal | undefined; batches: BatchSession | undefined; overlapOf: OverlapOf | undefined; shardCap: ShardCap | undefined }

async function evalDataset(dataset: Dataset, repeats: number, folder: RunFolder, setup: Setup, env: RunEnv, run: DatasetRun): Promise<Summary> {
  const { loaded, router, plan, price } = setup
  const { cases, positions } = casesToRoute(setup, dataset)
  const shard = plan.options.shard
  const progress = env.progress(`${path.basename(dataset.path)}${shard ? ` (shard ${shard.index}/${shard.count})` : ''} · ${router.id}`, cases.length * repeats)
  const onAttempt = (a: Attempt) => {
    const usd = price && a.decision?.usage && !a.cached ? usageCost(a.decision.usage, price) : undefined
    progress.tick({ failed: a.error !== undefined && !a.notSent, cached: a.cached === true, ...(usd !== undefined ? { usd } : {}) })
  }
  // A model router's requests leave the CPU waiting on the network: the overlap's text model (the agents alone) is worked out then, not after the run.
  const textAhead = router.deterministic || run.overlapOf ? undefined : setTimeout(() => prepareOverlapText(overlapAgents(loaded.catalogue)), TEXT_AHEAD_AFTER_MS)
  const attempts = run.batches
    ? await run.batches.route(cases, { repeats, onAttempt })
    : await routeCases(cases, loaded.catalogue, router, {
        repeats,
        concurrency: plan.concurrency,
        timeoutMs: plan.timeoutMs,
        retry: { maxTries: plan.config.maxTries, baseDelayMs: 500, maxDelayMs: 30_000 },
        warmUp: !router.deterministic,
        ...(run.signal ? { signal: run.signal } : {}),
        ...(run.journal ? { journal: run.journal } : {}),
        ...(run.budget ? { budget: run.budget } : {}),
        onAttempt,
        onRetry: () => progress.retry(),
        onWindow: (w) => progress.window?.(w, plan.concurrency),
      })
  clearTimeout(textAhead)
  progress.done()
  phaseEnd('route')
  return recordRun(
    {
      toolVersion: env.toolVersion,
      createdAt: env.now(),
      router: { id: router.id, ...(router.pricedModel ? { pricedModel: router.pricedModel } : {}) },
      price,
      dataset: { path: dataset.path, fingerprint: dataset.fingerprint, cases },
      catalogue: loaded.catalogue,
      invalidAgents: loaded.invalid,
      repeats,
      attempts,
      ...(shard && positions
        ? { shard: { record: { index: shard.index, count: shard.count, datasetCases: dataset.cases.length, settings: routerSettings(setup), price: price ?? null, ...(run.shardCap ? { maxCost: run.shardCap } : {}) }, positions } }
        : {}),
    },
    folder.staging,
    run.overlapOf,
  )
}

/** A routed run, ready to be scored and recorded: from the router (eval) or from shards' results.jsonl (merge). */
export type RoutedRun = {
  toolVersion: string
  createdAt: Date
  router: { id: string; pricedModel?: string }
  price: Price | undefined
  dataset: RunDataset
  catalogue: RunCatalogue
  invalidAgents: ReadonlyArray<{ file: string; line: number; reason: string }>
  repeats: number
  /** in case order, then repeat order */
  attempts: Attempt[]
  shard?: { record: ShardRecord; positions: ReadonlyMap<string, number> }
}

/**
 * Votes, scores, the overlap with the run's signals, and the run record
 * (results.jsonl, then summary.json) written in `dir`: one code path for a
 * routed run and a merged one, so a merge of shards scores exactly as the
 * unsharded run.
 */
export async function recordRun(run: RoutedRun, dir: string, overlapOf?: OverlapOf): Promise<Summary> {
  const { dataset, attempts, catalogue } = run
  const votes = voteByCase(dataset.cases, attempts)
  await writeResults(dir, attempts, dataset.cases)
  phaseEnd('results.jsonl')
  // Per-agent scores live on in results.jsonl; a 100,000-case run need not hold them while it builds the reports.
  // (Set to undefined rather than deleted: a delete turns each decision into a slower, larger dictionary object.)
  for (const a of attempts) if (a.decision?.scores) a.decision.scores = undefined
  const scores = scoreCases(votes, catalogue.agents.map((a) => a.name))
  phaseEnd('score')
  const invalid = run.invalidAgents.map(({ file, line, reason }) => ({ file, line, reason }))
  const overlap = overlapOf
    ? overlapOf(
        scores.cases.map((c, i) => ({ ...c, prompt: caseAt(dataset.cases, i, c.id)?.prompt ?? '' })),
        dataset,
      )
    : overlapOfRuns(
        overlapAgents(catalogue),
        // The tags the overlap reads (from-description: no routing evidence), joined to the cases that have them: a dataset without such rows copies no case.
        [{ cases: scores.cases.map((c, i) => withFromDescriptionTags(c, caseAt(dataset.cases, i, c.id)?.tags)), dataset: { path: dataset.path } }],
        invalid,
      )
  phaseEnd('overlap')
  const summary = buildSummary({
    toolVersion: run.toolVersion,
    createdAt: run.createdAt,
    router: { id: run.router.id },
    dataset,
    catalogue,
    invalidAgents: invalid,
    repeats: run.repeats,
    attempts,
    scores,
    ...(run.router.pricedModel ? { pricing: { model: run.router.pricedModel, price: run.price } } : {}),
    overlap,
    ...(run.shard ? { shard: run.shard } : {}),
  })
  await writeSummary(dir, summary)
  phaseEnd('summary.json')
  return summary
}

function withFromDescriptionTags<C extends object>(c: C, tags: readonly string[] | undefined): C | (C & { tags: string[] }) {
  return tags && isFromDescription({ tags }) ? { ...c, tags: [...tags] } : c
}

/** Whether every case got a decision, and what to tell the user when not (or when the budget stopped some requests). */
export function completion(summaries: readonly Summary[], maxCost: number | undefined): { complete: boolean; notes: string[] } {
  const errored = summaries.reduce((n, s) => n + s.metrics.errored, 0)
  const notSent = summaries.reduce((n, s) => n + s.requests.notSent, 0)
  const notes: string[] = []
  if (notSent > 0 && maxCost !== undefined) {
    const shard = summaries.find((s) => s.shard?.maxCost)?.shard
    notes.push(`stopped before passing ${capText(maxCost, shard, shard?.maxCost)}: ${notSent} request(s) not sent. Finished work is in the journal; run again with a larger --max-cost to finish.`)
  }
  if (errored > 0) {
    notes.push(`${errored} case(s) have no decision (every request for them failed or was not sent): the run is incomplete (exit 3). Run again to retry them; finished requests are not sent twice.`)
  }
  return { complete: errored === 0, notes }
}

/** The --max-cost a shard keeps to (summary.json's `shard.maxCost`). */
export type ShardCap = NonNullable<ShardRecord['maxCost']>

/**
 * With --max-cost and --shard K/N: this shard's share of the whole run's cap
 * (shardShareOfCap), by what its requests are estimated to cost against
 * every shard's. Only this shard's requests that the journal answered count
 * as free: the other shards' are counted in full, so shards that run one
 * after another on one machine, their answers in one journal, still share
 * the cap rather than each take more of it.
 */
export function shardCapOf(setup: Setup, journal: Journal | undefined, repeatsFor: (dataset: Dataset) => number, byShard = pendingCostByShard(setup, journal, repeatsFor)): ShardCap | undefined {
  const { shard, maxCost } = setup.plan.options
  // A router that sends nothing priced (lexical) spends nothing to share.
  if (!shard || maxCost === undefined || !setup.router.pricedModel) return undefined
  const shardEstimateUsd = byShard[shard.index - 1]!
  const runEstimateUsd = byShard.reduce((a, b) => a + b, 0)
  return { runCapUsd: maxCost, shareUsd: shardShareOfCap(maxCost, shardEstimateUsd, runEstimateUsd, shard.count), shardEstimateUsd, runEstimateUsd }
}

/**
 * What each shard's requests are estimated to cost (USD; one entry for an
 * unsharded run): each shard's first request of a dataset writes the prompt
 * cache, the rest read it, as `--dry-run` counts. This shard's requests the
 * journal answered are left out; the other shards' are all counted.
 */
function pendingCostByShard(setup: Setup, journal: Journal | undefined, repeatsFor: (dataset: Dataset) => number): number[] {
  const { router, loaded, price } = setup
  const shard = setup.plan.options.shard
  const count = shard?.count ?? 1
  const usd = new Array<number>(count).fill(0)
  if (!router.estimate || !price) return usd
  for (const dataset of setup.datasets) {
    const repeats = repeatsFor(dataset)
    const started = new Array<boolean>(count).fill(false)
    for (const c of dataset.cases) {
      const k = shard ? shardOfCase(c.id, count) - 1 : 0
      const own = !shard || k === shard.index - 1
      const estimate = router.estimate(c.prompt, loaded.catalogue)
      for (let repeat = 0; repeat < repeats; repeat++) {
        if (own && journal?.get(c.prompt, repeat)) continue
        usd[k] = usd[k]! + usageCost(estimatedUsage(estimate, !started[k], '5m', false), price)
        started[k] = true
      }
    }
  }
  return usd
}

/** The cap in words: the user's --max-cost, or a shard's share of it. */
function capText(maxCost: number, shard: Shard | undefined, cap: ShardCap | undefined): string {
  return shard && cap ? `shard ${shardLabel(shard)}'s share ($${cap.shareUsd.toFixed(4)}) of --max-cost ${maxCost} USD` : `--max-cost ${maxCost} USD`
}

/** What a shard says of its share before it routes (stderr), and --dry-run prints. */
function shardCapLines(setup: Setup, cap: ShardCap): string[] {
  const shard = setup.plan.options.shard!
  const share =
    cap.runEstimateUsd > 0
      ? `${cap.runCapUsd} × ${cap.shardEstimateUsd.toFixed(4)} / ${cap.runEstimateUsd.toFixed(4)}`
      : `${cap.runCapUsd} / ${shard.count}, evenly: no estimate to share it by`
  return [`shard ${shardLabel(shard)}: --max-cost ${cap.runCapUsd} USD is the whole run's; this shard's share is ≈$${cap.shareUsd.toFixed(4)} (${share})`]
}

/** --max-cost for live routing of `cases` with `catalogue`: what is left of it, priced as the requests finish. */
export function budgetFor(maxUsd: number, price: Price, router: Router, catalogue: Catalogue, cases: readonly Case[], named?: string): Budget {
  const estimate = router.estimate?.(cases[0]?.prompt ?? '', catalogue) ?? { prefixTokens: 0, promptTokens: 0, outputTokens: 0 }
  // Before any request has finished, assume the first one writes the whole prompt cache: the dearest case.
  const firstEstimateUsd = usageCost({ inputTokens: estimate.promptTokens, outputTokens: estimate.outputTokens, cacheReadTokens: 0, cacheWriteTokens: estimate.prefixTokens }, price)
  const readEstimateUsd = usageCost({ inputTokens: estimate.promptTokens, outputTokens: estimate.outputTokens, cacheReadTokens: estimate.prefixTokens, cacheWriteTokens: 0 }, price)
  return { maxUsd, ...(named ? { named } : {}), costOf: (u) => usageCost(u, price), firstEstimateUsd, readEstimateUsd }
}

/** --dry-run: the first request and what the run would send and cost, as text; nothing is sent. */
export function dryRunReport(setup: Setup, repeatsFor: (dataset: Dataset) => number = () => repeatsOf(setup)): string {
  const { plan, loaded, datasets, router, price } = setup
  const journal = router.cacheKey && !plan.options.noCache ? openJournal(plan.config.cacheDir, router.cacheKey, loaded.catalogue.fingerprint, { readOnly: true }) : undefined
  const lines: string[] = []
  let totalUsd = 0
  let totalRequests = 0
  let outputTokens = 0
  const batched: { prompt: string; repeat: number }[] = []
  for (const dataset of datasets) {
    const repeats = repeatsFor(dataset)
    const { cases } = casesToRoute(setup, dataset)
    const pending = cases.flatMap((c) => Array.from({ length: repeats }, (_, r) => r).filter((r) => !journal?.get(c.prompt, r)).map(() => c))
    if (plan.batch) for (const c of cases) for (let repeat = 0; repeat < repeats; repeat++) if (!journal?.get(c.prompt, repeat)) batched.push({ prompt: c.prompt, repeat })
    totalRequests += pending.length
    if (router.preview && pending[0] && lines.length === 0) {
      const job = batched[0]
      const first = plan.batch && router.batch && job ? { custom_id: batchCustomId(attemptKey(job.prompt, job.repeat), batchTag(router.cacheKey, loaded.catalogue.fingerprint)), params: router.batch.params(job.prompt, loaded.catalogue, plan.batch.cacheTtl) } : router.preview(pending[0].prompt, loaded.catalogue)
      lines.push(`First request (${router.id}${plan.batch ? ', as a batch entry' : ''}):`, JSON.stringify(first, null, 2), '')
    }
    let usd = 0
    let tokens = 0
    pending.forEach((c, i) => {
      const e = router.estimate?.(c.prompt, loaded.catalogue)
      if (!e) return
      outputTokens = e.outputTokens
      tokens += e.prefixTokens + e.promptTokens
      if (price) usd += usageCost(estimatedUsage(e, i === 0, '5m', false), price)
    })
    totalUsd += usd
    const cached = cases.length * repeats - pending.length
    const shard = plan.options.shard
    lines.push(
      `${dataset.path}${shard ? ` shard ${shard.index}/${shard.count}` : ''}: ${pending.length} request(s) to send (${cases.length}${shard ? ` of ${dataset.cases.length}` : ''} cases × ${repeats} repeats${cached > 0 ? `, ${cached} already in the journal` : ''}), ` +
        (router.estimate ? `≈${tokens.toLocaleString('en-US')} input tokens, ${price ? `≈$${usd.toFixed(4)}` : 'no price known for this model'}` : 'routed locally, no cost'),
    )
  }
  const shard = plan.options.shard
  if (shard) {
    const byShard = pendingCostByShard(setup, journal, repeatsFor)
    const runUsd = byShard.reduce((a, b) => a + b, 0)
    if (price && router.estimate) lines.push(`shard ${shardLabel(shard)}: ≈$${byShard[shard.index - 1]!.toFixed(4)} of the whole run's ≈$${runUsd.toFixed(4)} (all ${shard.count} shards' requests, each shard writing the prompt cache once; of those the journal answered, only this shard's count as free)`)
    const cap = shardCapOf(setup, journal, repeatsFor, byShard)
    if (cap) lines.push(...shardCapLines(setup, cap))
  }
  if (plan.batch) lines.push(...batchDryRunLines(router, loaded.catalogue, plan.batch, price, journal, batched))
  lines.push(`dry run: nothing was sent. Total: ${totalRequests} request(s)${price ? `, ≈$${totalUsd.toFixed(4)} (tokens ≈ characters/4; output ≈${outputTokens} tokens a request; the catalogue prefix written to the prompt cache once, then read)` : ''}.`)
  return `${lines.join('\n')}\n`
}

/**
 * The catalogue's overlap with the routing signals of runs, the one way
 * `eval` and `overlap RUN_DIR…` both compute it, so both give the same
 * advice on the same runs: one run's cases as they are; several runs' case
 * ids prefixed by their dataset's file stem so the evidence stays
 * unambiguous.
 */
export function overlapOfRuns(
  agents: readonly OverlapAgent[],
  runs: ReadonlyArray<{ cases: readonly OverlapCase[]; dataset: { path: string } }>,
  invalid: readonly InvalidFile[],
  /** `overlap --probe`: the one run is a probe set's, aimed at the agents of these pairs */
  probes?: ProbeSpec,
): OverlapReport {
  const stem = (file: string) => path.basename(file, path.extname(file))
  const cases = runs.length === 1 ? runs[0]!.cases : runs.flatMap((r) => r.cases.map((c) => ({ ...c, id: `${stem(r.dataset.path)}:${c.id}` })))
  return analyseOverlap({
    agents,
    ...(cases.length > 0 ? { cases, evidence: { source: probes ? ('probes' as const) : ('dataset' as const), of: runs.map((r) => r.dataset.path) } } : {}),
    ...(probes ? { probes } : {}),
    invalid,
  })
}

/** The overlap to print once: a run's own with one dataset; with several, the catalogue's with every dataset's routing signals. */
export function combinedOverlap(summaries: readonly Summary[]): OverlapReport {
  const [first] = summaries
  if (summaries.length === 1) return first!.overlap
  return overlapOfRuns(
    first!.agents.map((a) => ({ name: a.name, description: a.description ?? '', file: a.file })),
    summaries,
    first!.invalidAgents,
  )
}
