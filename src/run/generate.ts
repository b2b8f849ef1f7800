import { statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { rowsFromExamples } from '../draft/examples.js'
import { assembleDataset, DEFAULT_PER_AGENT, nearDuplicatePairs, planGeneration, type Assembled, type GenerationPlan } from '../draft/generate.js'
import { DRAFT_TOOL } from '../draft/requests.js'
import { loadAgentFolders, loadWarningText, type LoadedCatalogue } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { formatDatasetCsv, formatDatasetJsonl, type DatasetRow } from '../load/dataset.js'
import { InputError, UsageError } from '../load/input-error.js'
import { loadPrices } from '../route/cost.js'
import { DRAFT_CONCURRENCY, DRAFT_TIMEOUT_S } from '../route/draft-defaults.js'
import { FatalRouterError } from '../route/run.js'
import { createToolCaller, DEFAULT_DRAFT_MODEL, type ToolBatchPreview, type ToolCallEstimate } from '../route/tool-call.js'
import { batchPlan, toolCallBatch, type BatchPlan } from './batch-run.js'
import type { RunEnv } from './evaluate.js'
import { writeAtomic, WriteError } from './files.js'
import { checkOutputFile } from './out-folder.js'
import { GENERATED_DATASET } from './init.js'

/**
 * The generate use case: load the agents, plan the drafting requests, send
 * them through the tool caller (or only price them), assemble the dataset
 * and write it, never over an existing file unless asked.
 */

export type GenerateRequest = {
  config?: string | undefined
  agents?: string[] | undefined
  skipInvalid?: boolean | undefined
  out?: string | undefined
  force: boolean
  perAgent?: number | undefined
  model?: string | undefined
  dryRun: boolean
  maxCost?: number | undefined
  fromExamples: boolean
  noCache: boolean
  concurrency?: number | undefined
  timeout?: number | undefined
  /** send the drafting requests through the Message Batches API, checking every batchPoll seconds */
  batch?: boolean | undefined
  batchPoll?: number | undefined
}

export type GenerateResult =
  | { kind: 'dry-run'; loaded: LoadedCatalogue; plan: GenerationPlan; model: string; estimate: ToolCallEstimate; perRequest: ToolCallEstimate[]; bodies: object[]; batch?: { plan: BatchPlan; preview: ToolBatchPreview } }
  | { kind: 'examples'; loaded: LoadedCatalogue; file: string; rows: DatasetRow[] }
  | { kind: 'drafted'; loaded: LoadedCatalogue; plan: GenerationPlan; model: string; file: string | undefined; assembled: Assembled; spentUsd: number; cached: number; estimate: ToolCallEstimate; /** --batch: the Message Batches that answered */ batches?: string[] }
  | { kind: 'fatal'; message: string; unreachable: boolean }

export { DRAFT_CONCURRENCY, DRAFT_TIMEOUT_S }

export async function generateDataset(request: GenerateRequest, env: Pick<RunEnv, 'warn' | 'env' | 'progress'>, signal?: AbortSignal): Promise<GenerateResult> {
  const { config } = await loadConfig(request.config)
  const file = request.out ?? GENERATED_DATASET
  const ext = path.extname(file).toLowerCase()
  if (ext !== '.csv' && ext !== '.jsonl') throw new InputError([{ file, message: `the output must be a .csv or .jsonl dataset, not "${ext || 'no extension'}"`, fix: 'pass --out with a .csv or .jsonl file name' }])
  const batching = batchPlan(config, request)
  if (batching && request.fromExamples) throw new UsageError('--from-examples drafts nothing with Claude, so --batch has nothing to send: drop one of them')
  const existing = statSync(file, { throwIfNoEntry: false })
  if (existing?.isDirectory()) throw new InputError([{ file, message: 'the output path is a folder', fix: 'pass --out with a file name' }])
  if (existing && !request.force && !request.dryRun) throw new InputError([{ file, message: 'already exists; routecheck generate never overwrites a file', fix: 'pass --force to replace it, or --out FILE to write elsewhere' }])
  const agentsDirs = request.agents ?? config.agents
  // A dataset that could not be written is found before the drafting requests are paid for.
  if (!request.dryRun) await checkOutputFile({ file, named: '--out', keep: agentsDirs.map((d) => ({ path: d, what: 'the agents folder' })), folders: [] })
  const loaded = await loadAgentFolders(agentsDirs, { skipInvalid: request.skipInvalid ?? false, env: env.env })
  for (const w of loaded.warnings) env.warn(`warning: ${loadWarningText(w)}\n`)
  for (const bad of loaded.invalid) env.warn(`warning: skipped ${bad.file}:${bad.line}: ${bad.reason}\n`)
  const write = async (rows: DatasetRow[]) => {
    await mkdir(path.dirname(file), { recursive: true }).catch((e: unknown) => Promise.reject(WriteError.of(file, e)))
    await writeAtomic(file, ext === '.jsonl' ? formatDatasetJsonl(rows) : formatDatasetCsv(rows))
  }

  if (request.fromExamples) {
    const rows = rowsFromExamples(loaded.catalogue)
    if (rows.length === 0) {
      throw new InputError([{ file: loaded.folders.map((f) => f.dir).join(', '), message: 'no agent description holds an <example> block with a `user:` turn, so --from-examples has nothing to take', fix: 'drop --from-examples to draft prompts with Claude' }])
    }
    if (!request.dryRun) await write(rows)
    return { kind: 'examples', loaded, file, rows }
  }

  const plan = planGeneration(loaded.catalogue, nearDuplicatePairs(loaded.catalogue), request.perAgent ?? DEFAULT_PER_AGENT)
  const model = request.model ?? DEFAULT_DRAFT_MODEL
  const requests = plan.requests.map((r) => r.request)
  const progress = env.progress(`generate · ${model}`, requests.length)
  const caller = createToolCaller({
    model,
    env: env.env,
    timeoutMs: (request.timeout ?? DRAFT_TIMEOUT_S) * 1000,
    cacheDir: config.cacheDir,
    noCache: request.noCache,
    dryRun: request.dryRun,
    concurrency: request.concurrency ?? DRAFT_CONCURRENCY,
    prices: loadPrices(config.anthropic.prices),
    ...(request.maxCost !== undefined ? { maxUsd: request.maxCost } : {}),
    ...(signal ? { signal } : {}),
    onAnswer: () => progress.tick({ failed: false, cached: false }),
    ...toolCallBatch(batching, env.warn),
  })
  const estimate = caller.estimate(requests, DRAFT_TOOL)
  if (request.dryRun) {
    return {
      kind: 'dry-run',
      loaded,
      plan,
      model,
      estimate,
      perRequest: requests.map((r) => caller.estimate([r], DRAFT_TOOL)),
      bodies: requests.map((r) => caller.preview(r, DRAFT_TOOL)),
      ...(batching ? { batch: { plan: batching, preview: caller.previewBatches(requests, DRAFT_TOOL) } } : {}),
    }
  }
  const expectedUsd = estimate.batchMaxUsd ?? estimate.usd
  if (request.maxCost !== undefined && expectedUsd !== undefined && expectedUsd > request.maxCost) {
    const how = batching ? 'at the batch rate, each request writing the prompt cache' : 'as if nothing were cached'
    env.warn(`warning: the estimate (≈$${expectedUsd.toFixed(2)}, ${how}) is over --max-cost $${request.maxCost}: requests that would pass it are not sent\n`)
  }
  let answers
  try {
    answers = await caller.askAll(requests, DRAFT_TOOL)
  } catch (e) {
    if (e instanceof FatalRouterError) return { kind: 'fatal', message: e.message, unreachable: e.unreachable }
    throw e
  } finally {
    progress.done()
  }
  const assembled = assembleDataset(plan, answers, loaded.catalogue)
  const written = assembled.rows.length > 0 ? file : undefined
  if (written) await write(assembled.rows)
  const batches = caller.batchIds()
  return { kind: 'drafted', loaded, plan, model, file: written, assembled, spentUsd: caller.spentUsd(), cached: answers.filter((a) => a.cached).length, estimate, ...(batching ? { batches } : {}) }
}
