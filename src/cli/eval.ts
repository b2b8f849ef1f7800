import path from 'node:path'
import { loadCatalogue, type LoadedCatalogue } from '../load/catalogue.js'
import { loadConfig, type Config } from '../load/config.js'
import { loadDataset, type Dataset } from '../load/dataset.js'
import { createRouter } from '../route/create-router.js'
import type { Router } from '../route/router.js'
import { routeCases } from '../route/run.js'
import { writeRunFolder } from '../report/run-folder.js'
import { buildSummary, summaryJson, type Summary } from '../report/summary.js'
import { renderRunsTable, renderScorecard } from '../report/terminal.js'
import { scoreCases } from '../score/metrics.js'
import { voteByCase } from '../score/votes.js'
import type { Flags } from './flags.js'
import { createProgress } from './progress.js'
import { EXIT, type CommandIO } from './io.js'

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
  skipInvalid: boolean
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
    skipInvalid: flags['skip-invalid'],
    config,
    flags,
  }
}

export async function evalCommand(flags: Flags, io: CommandIO): Promise<number> {
  const { config } = await loadConfig(flags.config)
  const plan = planEval(config, flags)

  // Load and check every input before routing anything: bad input writes nothing.
  const loaded = await loadCatalogue(plan.agentsDir, { skipInvalid: plan.skipInvalid })
  for (const bad of loaded.invalid) io.err(`warning: skipped ${bad.file}:${bad.line}: ${bad.reason}\n`)
  const names = loaded.catalogue.agents.map((a) => a.name)
  const datasets: Dataset[] = []
  for (const file of plan.datasets) datasets.push(await loadDataset(file, names))
  const router = await createRouter(plan.routerSpec, { ...config, ...(flags.model ? { model: flags.model } : {}), ...(flags.style ? { style: flags.style } : {}) })

  const summaries: Summary[] = []
  for (const dataset of datasets) summaries.push(await evalDataset(dataset, loaded, router, plan, io))

  if (flags.json) io.out(summaries.length === 1 ? summaryJson(summaries[0]!) : `${JSON.stringify(JSON.parse(`[${summaries.map((s) => summaryJson(s)).join(',')}]`), null, 2)}\n`)
  else if (summaries.length > 1) io.out(`\n${renderRunsTable(summaries, { color: io.color })}\n`)
  const errored = summaries.reduce((n, s) => n + s.metrics.errored, 0)
  if (errored > 0) {
    io.err(`${errored} case(s) have no decision because every request for them failed; the run is incomplete (exit 3). Run again to retry them.\n`)
    return EXIT.incomplete
  }
  return EXIT.ok
}

async function evalDataset(dataset: Dataset, loaded: LoadedCatalogue, router: Router, plan: EvalPlan, io: CommandIO): Promise<Summary> {
  const repeats = plan.repeats ?? (router.deterministic ? 1 : 3)
  const progress = createProgress(`${path.basename(dataset.path)} · ${router.id}`, dataset.cases.length * repeats)
  const attempts = await routeCases(dataset.cases, loaded.catalogue, router, {
    repeats,
    concurrency: plan.concurrency,
    timeoutMs: plan.timeoutMs,
    onAttempt: (a) => progress.tick(a.error !== undefined),
  })
  progress.done()
  const scores = scoreCases(voteByCase(dataset.cases, attempts), loaded.catalogue.agents.map((a) => a.name))
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
  })
  const dir = plan.outFor(dataset.path)
  await writeRunFolder(dir, { summary, attempts, cases: dataset.cases })
  io.err(`wrote ${path.join(dir, 'summary.json')} and results.jsonl\n`)
  if (!plan.flags.json) io.out(`\n${renderScorecard(summary, { color: io.color })}\n`)
  return summary
}
