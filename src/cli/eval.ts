import path from 'node:path'
import { loadCatalogue, type LoadedCatalogue } from '../load/catalogue.js'
import { loadConfig, type Config } from '../load/config.js'
import { loadDataset, type Dataset } from '../load/dataset.js'
import { UsageError } from '../load/input-error.js'
import { estimateTokens, loadPrices, priceFor, usageCost, type Price } from '../route/cost.js'
import { createRouter } from '../route/create-router.js'
import { openJournal, type Journal } from '../route/journal.js'
import type { Router } from '../route/router.js'
import { FatalRouterError, routeCases, type Budget } from '../route/run.js'
import { writeResults, writeSummaryAndReports } from '../report/run-folder.js'
import { buildSummary, summaryJson, type Summary } from '../report/summary.js'
import { renderRunsTable, renderScorecard } from '../report/terminal.js'
import { scoreCases } from '../score/metrics.js'
import { voteByCase } from '../score/votes.js'
import type { Flags } from './flags.js'
import { EXIT, type CommandIO } from './io.js'
import { createProgress } from './progress.js'

/** What one `eval` needs once config and flags are merged (flags win). */
export type EvalPlan = {
  agentsDir: string
  datasets: string[]
  routerSpec: string
  repeats: number | undefined
  concurrency: number
  timeoutMs: number
  /** the run folder for each dataset */
  outFor: (dataset: string) => string
  config: Config
  flags: Flags
}

export function planEval(config: Config, flags: Flags): EvalPlan {
  const datasets = flags.dataset ?? config.datasets
  // --out names the run folder itself when there is one dataset; with several, each gets OUT/<stem>.
  const out = flags.out ?? config.out
  const single = flags.out !== undefined && datasets.length === 1
  return {
    agentsDir: flags.agents ?? config.agents,
    datasets,
    routerSpec: flags.router ?? config.router,
    repeats: flags.repeats ?? config.repeats,
    concurrency: flags.concurrency ?? config.concurrency,
    timeoutMs: (flags.timeout ?? config.timeout) * 1000,
    outFor: (dataset) => (single ? out : path.join(out, path.basename(dataset, path.extname(dataset)))),
    config,
    flags,
  }
}

/** Everything an eval run routes with, ready before the first request. */
export type Setup = { plan: EvalPlan; loaded: LoadedCatalogue; datasets: Dataset[]; router: Router; price: Price | undefined }

export async function evalCommand(flags: Flags, io: CommandIO): Promise<number> {
  const setup = await prepareEval(flags, io)
  if (flags['dry-run']) return dryRun(setup, io)
  return runEval(setup, io)
}

/**
 * Loads and checks every input before anything is routed: bad input writes
 * nothing and sends nothing. The gate loads invalid agent files as changes to
 * report (`skipInvalid`) and accepts labels naming agents the baseline had.
 */
export async function prepareEval(flags: Flags, io: CommandIO, opts: { skipInvalid?: boolean; datasets?: string[]; alsoKnownAgents?: readonly string[] } = {}): Promise<Setup> {
  const { config } = await loadConfig(flags.config)
  const plan = planEval(config, opts.datasets ? { ...flags, dataset: opts.datasets } : flags)
  const loaded = await loadCatalogue(plan.agentsDir, { skipInvalid: opts.skipInvalid ?? flags['skip-invalid'] })
  for (const bad of loaded.invalid) io.err(`warning: skipped ${bad.file}:${bad.line}: ${bad.reason}\n`)
  const names = [...new Set([...loaded.catalogue.agents.map((a) => a.name), ...(opts.alsoKnownAgents ?? [])])]
  const datasets: Dataset[] = []
  for (const file of plan.datasets) datasets.push(await loadDataset(file, names))
  const router = await createRouter(plan.routerSpec, {
    lexical: config.lexical,
    anthropic: config.anthropic,
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.style ? { style: flags.style } : {}),
    timeoutMs: plan.timeoutMs,
    dryRun: flags['dry-run'],
  })
  const price = router.pricedModel ? priceFor(router.pricedModel, loadPrices(config.anthropic.prices)) : undefined
  if (flags['max-cost'] !== undefined && router.pricedModel && !price) {
    throw new UsageError(`--max-cost needs a price for model "${router.pricedModel}": add it to a price table and point anthropic.prices in the config at it`)
  }
  return { plan, loaded, datasets, router, price }
}

async function runEval(setup: Setup, io: CommandIO): Promise<number> {
  const { summaries, fatalExit } = await runDatasets(setup, io, { scorecards: !setup.plan.flags.json })
  if (fatalExit !== undefined) return fatalExit
  if (setup.plan.flags.json) io.out(summaries.length === 1 ? summaryJson(summaries[0]!) : `[\n${summaries.map((s) => summaryJson(s).trimEnd()).join(',\n')}\n]\n`)
  else if (summaries.length > 1) io.out(`\n${renderRunsTable(summaries, { color: io.color })}\n`)
  return completionExit(summaries, setup.plan.flags, io)
}

/** Exit 3 (with what to do) when some case has no decision; else 0. */
export function completionExit(summaries: readonly Summary[], flags: Flags, io: CommandIO): number {
  const errored = summaries.reduce((n, s) => n + s.metrics.errored, 0)
  const notSent = summaries.reduce((n, s) => n + s.requests.notSent, 0)
  if (notSent > 0 && flags['max-cost'] !== undefined) {
    io.err(`stopped before passing --max-cost ${flags['max-cost']} USD: ${notSent} request(s) not sent. Finished work is in the journal; run again with a larger --max-cost to finish.\n`)
  }
  if (errored > 0) {
    io.err(`${errored} case(s) have no decision (every request for them failed or was not sent): the run is incomplete (exit 3). Run again to retry them; finished requests are not sent twice.\n`)
    return EXIT.incomplete
  }
  return EXIT.ok
}

/** Opens the run journal for the router, saying what it found. */
export function openRunJournal(setup: Setup, io: CommandIO): Journal | undefined {
  const { router, plan, loaded } = setup
  if (!router.cacheKey || plan.flags['no-cache']) return undefined
  const journal = openJournal(plan.config.cacheDir, router.cacheKey, loaded.catalogue.fingerprint)
  if (journal.repairedTail) io.err(`journal ${journal.file}: removed a last line cut off mid-write (a run killed while writing)\n`)
  if (journal.skippedLines.length > 0) io.err(`journal ${journal.file}: skipped ${journal.skippedLines.length} unreadable line(s) (${journal.skippedLines.slice(0, 5).join(', ')}…); their requests will be sent again\n`)
  if (journal.loaded > 0) io.err(`journal ${journal.file}: ${journal.loaded} finished request(s) from earlier runs\n`)
  return journal
}

/**
 * Routes, scores and writes the run folder of every dataset. A fatal router
 * error (bad key, unknown model, unreachable server) ends it with the exit
 * code to return; the runs finished before it are kept.
 */
export async function runDatasets(setup: Setup, io: CommandIO, opts: { scorecards: boolean; repeatsFor?: (dataset: Dataset) => number }): Promise<{ summaries: Summary[]; fatalExit?: number }> {
  const { plan, loaded, datasets, router, price } = setup
  const flags = plan.flags
  const journal = openRunJournal(setup, io)
  // Ctrl-C once stops sending and still writes the run folder; twice quits at once.
  const stop = new AbortController()
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130)
    io.err('\nstopping: finishing the requests in flight (Ctrl-C again to quit now)\n')
    stop.abort()
  }
  process.on('SIGINT', onSigint)

  const summaries: Summary[] = []
  let spentUsd = 0
  try {
    for (const dataset of datasets) {
      const budget = flags['max-cost'] !== undefined && price ? budgetFor(flags['max-cost'] - spentUsd, price, router, loaded, dataset) : undefined
      const repeats = opts.repeatsFor?.(dataset) ?? plan.repeats ?? (router.deterministic ? 1 : 3)
      const summary = await evalDataset(dataset, repeats, setup, io, { journal, price, budget, signal: stop.signal, scorecard: opts.scorecards })
      spentUsd += summary.cost?.usdThisRun ?? 0
      summaries.push(summary)
    }
  } catch (e) {
    if (!(e instanceof FatalRouterError)) throw e
    io.err(`routecheck: ${e.message}\n`)
    return { summaries, fatalExit: e.unreachable ? EXIT.incomplete : EXIT.badInput }
  } finally {
    process.off('SIGINT', onSigint)
    journal?.close()
  }
  return { summaries }
}

type DatasetRun = { journal: Journal | undefined; price: Price | undefined; budget: Budget | undefined; signal: AbortSignal; scorecard: boolean }

async function evalDataset(dataset: Dataset, repeats: number, { loaded, router, plan }: Setup, io: CommandIO, run: DatasetRun): Promise<Summary> {
  const progress = createProgress(`${path.basename(dataset.path)} · ${router.id}`, dataset.cases.length * repeats)
  const attempts = await routeCases(dataset.cases, loaded.catalogue, router, {
    repeats,
    concurrency: plan.concurrency,
    timeoutMs: plan.timeoutMs,
    retry: { maxTries: plan.config.maxTries, baseDelayMs: 500, maxDelayMs: 30_000 },
    warmUp: !router.deterministic,
    signal: run.signal,
    ...(run.journal ? { journal: run.journal } : {}),
    ...(run.budget ? { budget: run.budget } : {}),
    onAttempt: (a) => {
      const usd = run.price && a.decision?.usage && !a.cached ? usageCost(a.decision.usage, run.price) : undefined
      progress.tick({ failed: a.error !== undefined && !a.notSent, cached: a.cached === true, ...(usd !== undefined ? { usd } : {}) })
    },
    onRetry: () => progress.retry(),
  })
  progress.done()
  const votes = voteByCase(dataset.cases, attempts)
  const dir = plan.outFor(dataset.path)
  await writeResults(dir, attempts, dataset.cases)
  // Per-agent scores live on in results.jsonl; a 100,000-case run need not hold them while it builds the reports.
  for (const a of attempts) delete a.decision?.scores
  const scores = scoreCases(votes, loaded.catalogue.agents.map((a) => a.name))
  const summary = buildSummary({
    toolVersion: io.version,
    createdAt: new Date(),
    router: { id: router.id },
    dataset,
    catalogue: loaded.catalogue,
    invalidAgents: loaded.invalid,
    repeats,
    attempts,
    scores,
    ...(router.pricedModel ? { pricing: { model: router.pricedModel, price: run.price } } : {}),
  })
  await writeSummaryAndReports(dir, summary, dataset.cases)
  io.err(`wrote ${dir}/ (summary.json, results.jsonl, report.html, report.md, junit.xml)\n`)
  if (run.scorecard) io.out(`\n${renderScorecard(summary, { color: io.color })}\n`)
  return summary
}

/** Token estimate of one request from its preview: the catalogue prefix and the prompt. */
function estimateRequest(router: Router, loaded: LoadedCatalogue, prompt: string): { prefixTokens: number; promptTokens: number } {
  const request = (router.preview?.(prompt, loaded.catalogue) ?? {}) as { messages?: unknown }
  const { messages, ...prefix } = request
  return { prefixTokens: estimateTokens(JSON.stringify(prefix)), promptTokens: estimateTokens(JSON.stringify(messages ?? prompt)) }
}

/** Output tokens per request, for estimates: a claude-code call writes a brief for the subagent, a classifier call a few fields. */
const ESTIMATED_OUTPUT_TOKENS = { 'claude-code': 150, classifier: 40 } as const

function estimatedOutput(router: Router): number {
  return router.id.endsWith(':classifier') ? ESTIMATED_OUTPUT_TOKENS.classifier : ESTIMATED_OUTPUT_TOKENS['claude-code']
}

function budgetFor(maxUsd: number, price: Price, router: Router, loaded: LoadedCatalogue, dataset: Dataset): Budget {
  const { prefixTokens, promptTokens } = estimateRequest(router, loaded, dataset.cases[0]?.prompt ?? '')
  // Before any request has finished, assume the first one writes the whole prompt cache: the dearest case.
  const firstEstimateUsd = usageCost({ inputTokens: promptTokens, outputTokens: estimatedOutput(router), cacheReadTokens: 0, cacheWriteTokens: prefixTokens }, price)
  return { maxUsd, costOf: (u) => usageCost(u, price), firstEstimateUsd }
}

/** --dry-run: show the first request and what the run would send and cost; send nothing. */
function dryRun({ plan, loaded, datasets, router, price }: Setup, io: CommandIO): number {
  const journal = router.cacheKey && !plan.flags['no-cache'] ? openJournal(plan.config.cacheDir, router.cacheKey, loaded.catalogue.fingerprint, { readOnly: true }) : undefined
  const lines: string[] = []
  let totalUsd = 0
  let totalRequests = 0
  for (const dataset of datasets) {
    const repeats = plan.repeats ?? (router.deterministic ? 1 : 3)
    const pending = dataset.cases.flatMap((c) => Array.from({ length: repeats }, (_, r) => r).filter((r) => !journal?.get(c.prompt, r)).map(() => c))
    totalRequests += pending.length
    if (router.preview && pending[0] && lines.length === 0) {
      lines.push(`First request (${router.id}):`, JSON.stringify(router.preview(pending[0].prompt, loaded.catalogue), null, 2), '')
    }
    let usd = 0
    let tokens = 0
    pending.forEach((c, i) => {
      const { prefixTokens, promptTokens } = estimateRequest(router, loaded, c.prompt)
      const usage = { inputTokens: promptTokens, outputTokens: estimatedOutput(router), cacheReadTokens: i === 0 ? 0 : prefixTokens, cacheWriteTokens: i === 0 ? prefixTokens : 0 }
      tokens += prefixTokens + promptTokens
      if (price) usd += usageCost(usage, price)
    })
    totalUsd += usd
    const cached = dataset.cases.length * repeats - pending.length
    lines.push(
      `${dataset.path}: ${pending.length} request(s) to send (${dataset.cases.length} cases × ${repeats} repeats${cached > 0 ? `, ${cached} already in the journal` : ''}), ` +
        (router.preview ? `≈${tokens.toLocaleString('en-US')} input tokens, ${price ? `≈$${usd.toFixed(4)}` : 'no price known for this model'}` : 'routed locally, no cost'),
    )
  }
  lines.push(`dry run: nothing was sent. Total: ${totalRequests} request(s)${price ? `, ≈$${totalUsd.toFixed(4)} (tokens ≈ characters/4; output ≈${estimatedOutput(router)} tokens a request; the catalogue prefix written to the prompt cache once, then read)` : ''}.`)
  io.out(`${lines.join('\n')}\n`)
  return EXIT.ok
}
