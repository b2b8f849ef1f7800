import path from 'node:path'
import { assembleDataset, type Assembled, type GenerationPlan } from '../draft/generate.js'
import { asProbeRows, chooseProbePairs, planProbes, probedAgents, probeRowsFromExamples, PROBE_PAIRS, PROBE_PROMPTS, type ProbePairChoice } from '../draft/probe.js'
import { DRAFT_TOOL } from '../draft/requests.js'
import { loadConfig, type ProbeSource } from '../load/config.js'
import { formatDatasetCsv, FROM_DESCRIPTION_TAG, parseDataset, type Dataset, type DatasetRow } from '../load/dataset.js'
import { InputError, UsageError } from '../load/input-error.js'
import { analyseOverlap, type ProbeSpec } from '../overlap/index.js'
import { loadPrices, usageCost } from '../route/cost.js'
import { openJournal } from '../route/journal.js'
import { FatalRouterError } from '../route/run.js'
import { createToolCaller, DEFAULT_DRAFT_MODEL, type ToolCallEstimate } from '../route/tool-call.js'
import { CHARS_PER_TOKEN } from '../text/tokens.js'
import { batchDryRunLines, estimatedUsage, toolBatchDryRunLines, toolCallBatch } from './batch-run.js'
import { completion, createRunRouter, loadRunAgents, overlapOfRuns, planEval, repeatsOf, runDatasets, runInputs, type EvalOptions, type RunEnv, type Setup } from './evaluate.js'
import { PROBE_FOLDER, RUN_FILES, writeAtomic } from './files.js'
import { checkRunFolders, stageRunFolders, type RunFolderCheck } from './out-folder.js'
import type { RunDataset } from './record.js'
import { DRAFT_CONCURRENCY, DRAFT_TIMEOUT_S } from './generate.js'
import type { Summary } from './record.js'

/**
 * The `overlap --probe` use case: choose the pairs worth probing from the
 * descriptions alone, get prompts aimed squarely at each of their agents
 * (drafted by Claude through generate's requests and filters, or taken from
 * the descriptions' <example> turns), route them with the configured router
 * through the eval run machinery (journal, retries, --max-cost), and record
 * the run in a folder of its own, whose overlap judges the pairs by the
 * probes. Drafting answers are cached in the tool-call store and routing
 * answers in the run journal, so a rerun sends nothing it already sent.
 */

export type ProbeRequest = EvalOptions & {
  from?: ProbeSource | undefined
  /** pairs probed at most */
  pairs?: number | undefined
  /** prompts per agent */
  perAgent?: number | undefined
  draftModel?: string | undefined
}

/** The run folder `overlap --probe` writes under the config's `out` (named in run/files.ts, which --help can load without the tool caller), and the probe set it holds. */
export { PROBE_FOLDER }
export const PROBE_FILE = RUN_FILES.probes

/**
 * Tokens a drafted probe prompt is counted at in --dry-run, before any is
 * drafted: 64, the mean of python-backend.csv's prompts (routing.csv's
 * average 31), since probes span pasted traces and long context.
 */
export const PROBE_PROMPT_TOKENS = 64

export type ProbeDrafting = {
  model: string
  plan: GenerationPlan
  estimate: ToolCallEstimate
  perRequest: ToolCallEstimate[]
  /** every request body (--dry-run --json) */
  bodies?: object[]
  assembled?: Assembled
  spentUsd?: number
  /** requests answered from the tool-call cache */
  cached?: number
  /** --batch: the batches the drafting requests make (dry run), or the Message Batches that answered them */
  batchLines?: string[]
  batches?: string[]
}

export type RoutingEstimate = {
  router: string
  prompts: number
  repeats: number
  /** requests to send: prompts × repeats, less what the run journal already holds */
  requests: number
  fromJournal: number
  inputTokens: number
  usd: number | undefined
  /** the router sends requests (estimate given); false: it routes locally, for free */
  priced: boolean
  /** prompts not drafted yet: counted at PROBE_PROMPT_TOKENS each, one per prompt asked to keep */
  placeholder: boolean
  /** the first request's body, where the router sends one */
  first?: unknown
  /** --batch: the batches the routing requests make, and their price live and batched */
  batch?: string[]
}

export type ProbeChoice = { from: ProbeSource; pairs: ProbePairChoice[]; flaggedLeftOut: number; agents: string[]; perAgent: number }

export type ProbeOutcome =
  | ({ kind: 'dry-run'; drafting?: ProbeDrafting; rows?: DatasetRow[]; routing: RoutingEstimate } & ProbeChoice)
  | { kind: 'fatal'; message: string; unreachable: boolean; drafting?: ProbeDrafting }
  | ({ kind: 'done'; summary: Summary; dir: string; file: string; rows: DatasetRow[]; drafting?: ProbeDrafting; notes: string[]; complete: boolean } & ProbeChoice)

export async function probeOverlap(
  request: ProbeRequest,
  env: RunEnv,
  opts: {
    signal?: AbortSignal
    /** writes the run's reports into its staging folder, before the folder is put in place */
    reports?: (summary: Summary, staging: string, dataset: RunDataset) => Promise<void>
    /** sees the run once its folder is in place */
    onRun?: (summary: Summary, dir: string) => Promise<void>
  } = {},
): Promise<ProbeOutcome> {
  const { config, file: configFile } = await loadConfig(request.config)
  const from = request.from ?? config.probe.from ?? 'claude'
  const perAgent = request.perAgent ?? config.probe.prompts ?? PROBE_PROMPTS
  const dir = request.out ?? path.join(config.out, PROBE_FOLDER)
  const file = path.join(dir, PROBE_FILE)
  const plan = planEval(config, { ...request, dataset: [file], out: dir })
  const loaded = await loadRunAgents(plan, env, { skipInvalid: request.skipInvalid ?? false })
  // The run folder is checked before anything is drafted; it holds the probe set, so that is no input to keep out of it.
  const folderCheck: RunFolderCheck = { folders: [dir], agentsDirs: plan.agentsDirs, keep: runInputs(plan, configFile).filter((k) => k.path !== file), byDefault: path.join(config.out, PROBE_FOLDER) }
  await checkRunFolders(folderCheck)
  const catalogue = loaded.catalogue
  const agents = catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file }))
  const chosen = chooseProbePairs(analyseOverlap({ agents }).pairs, request.pairs ?? config.probe.pairs ?? PROBE_PAIRS)
  if (chosen.pairs.length === 0) throw new UsageError(`nothing to probe: ${plan.agentsDirs.join(' + ')} holds ${catalogue.agents.length} agent${catalogue.agents.length === 1 ? '' : 's'}, and probes judge pairs`)
  const choice: ProbeChoice = { from, ...chosen, agents: probedAgents(catalogue, chosen.pairs), perAgent }

  // No silent fallback to the examples: they flatter the router, and "no key" must not turn into "every pair told apart".
  if (from === 'claude' && !request.dryRun && !env.env.ANTHROPIC_API_KEY?.trim() && !env.env.ANTHROPIC_AUTH_TOKEN?.trim()) {
    throw new UsageError("drafting probe prompts takes Claude: export ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another Messages-API server), or probe offline with --probe-from examples (the descriptions' own <example> turns, which the router reads, so they flatter it)")
  }

  let rows: DatasetRow[] = []
  if (from === 'examples') {
    rows = probeRowsFromExamples(catalogue, choice.agents, perAgent)
    if (rows.length === 0) {
      throw new InputError([{ file: loaded.folders.map((f) => f.dir).join(', '), message: `no description of the probed agents (${choice.agents.join(', ')}) holds an <example> block with a \`user:\` turn, so --probe-from examples has nothing to route`, fix: 'drop --probe-from examples to draft probe prompts with Claude' }])
    }
  }

  // The router before any drafting: a missing key or an unknown router fails before anything is paid for.
  // --batch sends what can go as batches: the drafting requests, and the routing where the router batches (the anthropic router).
  const { router, price } = await createRunRouter({ ...plan, batch: undefined }, loaded, env)
  const routeBatch = router.batch ? plan.batch : undefined
  try {
    if (plan.batch && !routeBatch && from === 'examples') throw new UsageError(`--batch has nothing to send: --probe-from examples drafts nothing, and the ${router.id} router sends no message batches (the anthropic router does)`)
    const setupFor = (dataset: Dataset, maxCost: number | undefined): Setup => ({ plan: { ...plan, batch: routeBatch, options: { ...plan.options, maxCost } }, loaded, datasets: [dataset], router, price })
    const repeats = repeatsOf(setupFor(emptyDataset(file), undefined))
    let drafting: ProbeDrafting | undefined
    if (from === 'claude') {
      const draftPlan = planProbes(catalogue, choice.agents, perAgent)
      const model = request.draftModel ?? config.probe.model ?? DEFAULT_DRAFT_MODEL
      const requests = draftPlan.requests.map((r) => r.request)
      const progress = request.dryRun ? undefined : env.progress(`probes · drafting · ${model}`, requests.length)
      const caller = createToolCaller({
        model,
        env: env.env,
        timeoutMs: DRAFT_TIMEOUT_S * 1000,
        cacheDir: config.cacheDir,
        noCache: request.noCache ?? false,
        dryRun: request.dryRun ?? false,
        concurrency: DRAFT_CONCURRENCY,
        prices: loadPrices(config.anthropic.prices),
        ...(request.maxCost !== undefined ? { maxUsd: request.maxCost } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...toolCallBatch(plan.batch, env.warn),
        onAnswer: () => progress?.tick({ failed: false, cached: false }),
      })
      drafting = { model, plan: draftPlan, estimate: caller.estimate(requests, DRAFT_TOOL), perRequest: requests.map((r) => caller.estimate([r], DRAFT_TOOL)) }
      if (request.dryRun) {
        const kept = [...draftPlan.quotas.values()].reduce((a, b) => a + b, 0)
        const placeholder = Array.from({ length: kept }, () => 'word '.repeat(Math.ceil((PROBE_PROMPT_TOKENS * CHARS_PER_TOKEN) / 5)))
        const batchLines = plan.batch ? toolBatchDryRunLines(caller.previewBatches(requests, DRAFT_TOOL), plan.batch) : undefined
        return { kind: 'dry-run', ...choice, drafting: { ...drafting, bodies: requests.map((r) => caller.preview(r, DRAFT_TOOL)), ...(batchLines ? { batchLines } : {}) }, routing: estimateRouting(setupFor(emptyDataset(file), undefined), placeholder, repeats, true) }
      }
      let answers
      try {
        answers = await caller.askAll(requests, DRAFT_TOOL)
      } catch (e) {
        if (e instanceof FatalRouterError) return { kind: 'fatal', message: `drafting probes (${model}): ${e.message}`, unreachable: e.unreachable, drafting }
        throw e
      } finally {
        progress?.done()
      }
      const assembled = assembleDataset(draftPlan, answers, catalogue)
      drafting = { ...drafting, assembled, spentUsd: caller.spentUsd(), cached: answers.filter((a) => a.cached).length, ...(plan.batch ? { batches: caller.batchIds() } : {}) }
      rows = asProbeRows(assembled.rows)
      if (rows.length === 0) {
        const why = [...new Set(assembled.failed.map((f) => f.error))].join('; ')
        return { kind: 'fatal', message: `no probe prompt was drafted${why ? `: ${why}` : ''}`, unreachable: true, drafting }
      }
    }

    const dataset = parseDataset(file, Buffer.from(formatDatasetCsv(rows)), catalogue.agents.map((a) => a.name))
    if (request.dryRun) return { kind: 'dry-run', ...choice, rows, routing: estimateRouting(setupFor(dataset, undefined), dataset.cases.map((c) => c.prompt), repeats, false) }
    if (from === 'examples') env.warn(`warning: the ${rows.length} probe prompts are tagged ${FROM_DESCRIPTION_TAG}: the descriptions' own <example> turns, which the router reads, so they flatter it; read "told apart" as an upper bound, and probe with Claude's prompts (drop --probe-from examples) for evidence\n`)

    // What drafting spent comes out of --max-cost before routing starts.
    const maxCost = request.maxCost === undefined ? undefined : Math.max(0, request.maxCost - (drafting?.spentUsd ?? 0))
    const spec: ProbeSpec = {
      from,
      ...(drafting ? { model: drafting.model } : {}),
      router: router.id,
      perAgent,
      flaggedLeftOut: chosen.flaggedLeftOut,
      pairs: chosen.pairs.map(({ a, b, flagged }) => ({ a, b, flagged })),
    }
    const invalid = loaded.invalid.map(({ file: f, line, reason }) => ({ file: f, line, reason }))
    const folders = await stageRunFolders(folderCheck)
    let run
    try {
      run = await runDatasets({ ...setupFor(dataset, maxCost), folders }, env, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        overlapOf: (cases, d) => overlapOfRuns(agents, [{ cases, dataset: { path: d.path } }], invalid, spec),
        reports: async (summary, staging, d) => {
          // The probe set goes in the run folder with its run, for a reviewer to read (or to correct and keep as a dataset).
          await writeAtomic(path.join(staging, PROBE_FILE), formatDatasetCsv(rows))
          await opts.reports?.(summary, staging, d)
        },
        onRun: async (summary, runDir) => opts.onRun?.(summary, runDir),
      })
    } finally {
      await folders.discardAll()
    }
    if (run.fatal) return { kind: 'fatal', ...run.fatal, drafting }
    const summary = run.summaries[0]!
    const done = completion([summary], request.maxCost)
    const notes = [...done.notes]
    const failed = drafting?.assembled?.failed ?? []
    if (failed.length > 0) {
      notes.unshift(`${failed.length} of ${drafting!.plan.requests.length} drafting requests brought no prompts${failed.some((f) => f.notSent) ? ' (--max-cost or Ctrl-C stopped some before sending)' : ''}: ${failed.map((f) => f.target).join(', ')} ${failed.length === 1 ? 'has' : 'have'} fewer probes. Run again: answered requests come from the cache, only the rest are sent.`)
    }
    return { kind: 'done', ...choice, summary, dir, file, rows, ...(drafting ? { drafting } : {}), notes, complete: done.complete && failed.length === 0 }
  } finally {
    await router.close?.()
  }
}

function emptyDataset(file: string): Dataset {
  return { path: file, fingerprint: '', cases: [] }
}

/** What routing the probes would send and cost: each prompt × repeats, less what the run journal holds; the catalogue prefix written once, then read. */
function estimateRouting(setup: Setup, prompts: readonly string[], repeats: number, placeholder: boolean): RoutingEstimate {
  const { router, loaded, plan, price } = setup
  const journal = router.cacheKey && !plan.options.noCache && !placeholder ? openJournal(plan.config.cacheDir, router.cacheKey, loaded.catalogue.fingerprint, { readOnly: true }) : undefined
  let requests = 0
  let inputTokens = 0
  let usd = 0
  const pending: Array<{ prompt: string; repeat: number }> = []
  for (const prompt of prompts) {
    for (let repeat = 0; repeat < repeats; repeat++) {
      if (journal?.get(prompt, repeat)) continue
      const e = router.estimate?.(prompt, loaded.catalogue)
      if (e) {
        inputTokens += e.prefixTokens + e.promptTokens
        if (price) usd += usageCost(estimatedUsage(e, requests === 0, plan.batch?.cacheTtl ?? '5m', plan.batch !== undefined), price)
      }
      pending.push({ prompt, repeat })
      requests++
    }
  }
  const batch = plan.batch ? batchDryRunLines(router, loaded.catalogue, plan.batch, price, journal, pending) : undefined
  journal?.close()
  const first = prompts[0] !== undefined ? router.preview?.(prompts[0], loaded.catalogue) : undefined
  return {
    router: router.id,
    prompts: prompts.length,
    repeats,
    requests,
    fromJournal: prompts.length * repeats - requests,
    inputTokens,
    usd: price ? usd : undefined,
    priced: router.estimate !== undefined,
    placeholder,
    ...(first !== undefined ? { first } : {}),
    ...(batch ? { batch } : {}),
  }
}
