import { statSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { rowsFromExamples } from '../draft/examples.js'
import { assembleDataset, DEFAULT_PER_AGENT, EXPLORE, nearDuplicatePairs, planGeneration, type Assembled, type DraftScope, type ExistingRows, type GenerationPlan } from '../draft/generate.js'
import { DRAFT_TOOL } from '../draft/requests.js'
import { loadAgentFolders, loadWarningText, type LoadedCatalogue } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { notAnAgentText } from '../load/closest-names.js'
import { datasetAppendText, formatDatasetCsv, formatDatasetJsonl, NONE, parseDataset, type DatasetRow } from '../load/dataset.js'
import { errnoCode, fsFailure, InputError, UsageError } from '../load/input-error.js'
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
  /** draft only for these: catalogue agents (with their near-duplicate pairs), none, Explore; empty or absent: everything */
  agent?: readonly string[] | undefined
  out?: string | undefined
  force: boolean
  /** add the rows to the end of `out` (kept byte for byte) rather than write a new file */
  append?: boolean | undefined
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

/** --append: the file added to and how many rows it held before (0 when it is new or empty) */
export type AppendTarget = { file: string; existingRows: number }

export type GenerateResult =
  | { kind: 'dry-run'; loaded: LoadedCatalogue; plan: GenerationPlan; model: string; estimate: ToolCallEstimate; perRequest: ToolCallEstimate[]; bodies: object[]; batch?: { plan: BatchPlan; preview: ToolBatchPreview }; append?: AppendTarget }
  | { kind: 'examples'; loaded: LoadedCatalogue; file: string; rows: DatasetRow[] }
  | { kind: 'drafted'; loaded: LoadedCatalogue; plan: GenerationPlan; model: string; file: string | undefined; assembled: Assembled; spentUsd: number; cached: number; estimate: ToolCallEstimate; /** --batch: the Message Batches that answered */ batches?: string[]; append?: AppendTarget }
  | { kind: 'fatal'; message: string; unreachable: boolean }

export { DRAFT_CONCURRENCY, DRAFT_TIMEOUT_S }

export async function generateDataset(request: GenerateRequest, env: Pick<RunEnv, 'warn' | 'env' | 'progress'>, signal?: AbortSignal): Promise<GenerateResult> {
  const { config } = await loadConfig(request.config)
  const file = request.out ?? GENERATED_DATASET
  const ext = path.extname(file).toLowerCase()
  if (ext !== '.csv' && ext !== '.jsonl') throw new InputError([{ file, message: `the output must be a .csv or .jsonl dataset, not "${ext || 'no extension'}"`, fix: 'pass --out with a .csv or .jsonl file name' }])
  const batching = batchPlan(config, request)
  if (batching && request.fromExamples) throw new UsageError('--from-examples drafts nothing with Claude, so --batch has nothing to send: drop one of them')
  const append = request.append === true
  if (append && request.force) throw new UsageError('--append adds to the --out file and --force replaces it: drop one of them')
  if (append && request.fromExamples) throw new UsageError("--append adds drafted prompts to a dataset; --from-examples rows are the descriptions' own examples, which the gate does not count as an agent's own cases: write them to a file of their own")
  const existing = statSync(file, { throwIfNoEntry: false })
  if (existing?.isDirectory()) throw new InputError([{ file, message: 'the output path is a folder', fix: 'pass --out with a file name' }])
  if (existing && !request.force && !request.dryRun && !append) throw new InputError([{ file, message: 'already exists; routecheck generate never overwrites a file', fix: 'pass --append to add the drafted rows to its end, --force to replace it, or --out FILE to write elsewhere' }])
  const agentsDirs = request.agents ?? config.agents
  // A dataset that could not be written is found before the drafting requests are paid for.
  if (!request.dryRun) await checkOutputFile({ file, named: '--out', keep: agentsDirs.map((d) => ({ path: d, what: 'the agents folder' })), folders: [] })
  const loaded = await loadAgentFolders(agentsDirs, { skipInvalid: request.skipInvalid ?? false, env: env.env })
  for (const w of loaded.warnings) env.warn(`warning: ${loadWarningText(w)}\n`)
  for (const bad of loaded.invalid) env.warn(`warning: skipped ${bad.file}:${bad.line}: ${bad.reason}\n`)
  const scope = draftScope(request.agent ?? [], loaded.catalogue.agents.map((a) => a.name))
  // The file appended to is read and checked before anything is paid for: a dataset that does not load is exit 2 now, not after the drafting.
  const before = append && existing ? await readExisting(file) : undefined
  const existingRows = before && before.length > 0 ? parseDataset(file, before, loaded.catalogue.agents.map((a) => a.name)).cases : []
  if (before) datasetAppendText(file, before, [])
  const appendTarget = append ? { file, existingRows: existingRows.length } : undefined
  const write = async (rows: DatasetRow[]) => {
    await mkdir(path.dirname(file), { recursive: true }).catch((e: unknown) => Promise.reject(WriteError.of(file, e)))
    if (!append) return void (await writeAtomic(file, ext === '.jsonl' ? formatDatasetJsonl(rows) : formatDatasetCsv(rows)))
    // The file as it is now must be the file read before drafting (its ids and prompts were checked against it); its bytes are kept as they are.
    const now = await readExisting(file).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? undefined : Promise.reject(e)))
    const unchanged = now === undefined || before === undefined ? now === before : now.equals(before)
    if (!unchanged) {
      throw new InputError([{ file, message: 'changed while routecheck generate was drafting: nothing was appended', fix: 'run the same command again: the answered requests come from the cache' }])
    }
    await writeAtomic(file, datasetAppendText(file, now ?? Buffer.alloc(0), rows), now)
  }

  if (request.fromExamples) {
    const rows = rowsFromExamples(loaded.catalogue).filter((r) => !scope || r.expected.some((l) => scope.agents.includes(l)))
    if (rows.length === 0) {
      throw new InputError([{ file: loaded.folders.map((f) => f.dir).join(', '), message: 'no agent description holds an <example> block with a `user:` turn, so --from-examples has nothing to take', fix: 'drop --from-examples to draft prompts with Claude' }])
    }
    if (!request.dryRun) await write(rows)
    return { kind: 'examples', loaded, file, rows }
  }

  const plan = planGeneration(loaded.catalogue, nearDuplicatePairs(loaded.catalogue), request.perAgent ?? DEFAULT_PER_AGENT, scope)
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
      ...(appendTarget ? { append: appendTarget } : {}),
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
  const rowsThere: ExistingRows = { ids: new Set(existingRows.map((c) => c.id)), prompts: existingRows.map((c) => c.prompt) }
  const assembled = assembleDataset(plan, answers, loaded.catalogue, rowsThere)
  const written = assembled.rows.length > 0 ? file : undefined
  if (written) await write(assembled.rows)
  const batches = caller.batchIds()
  return {
    kind: 'drafted',
    loaded,
    plan,
    model,
    file: written,
    assembled,
    spentUsd: caller.spentUsd(),
    cached: answers.filter((a) => a.cached).length,
    estimate,
    ...(batching ? { batches } : {}),
    ...(appendTarget ? { append: appendTarget } : {}),
  }
}

/**
 * --agent's names as a scope: catalogue agents, and none and Explore, which
 * are drafted only when named. A name that is none of them is exit 2 with a
 * did-you-mean, as eval's --agent. No --agent: undefined, everything.
 */
export function draftScope(named: readonly string[], agents: readonly string[]): DraftScope | undefined {
  if (named.length === 0) return undefined
  const known = [...agents, NONE, EXPLORE]
  for (const name of named) if (!known.includes(name)) throw new UsageError(notAnAgentText('--agent', name, known))
  return { agents: agents.filter((a) => named.includes(a)), none: named.includes(NONE), explore: named.includes(EXPLORE) }
}

async function readExisting(file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw e
    throw new InputError([{ file, message: `cannot be read to append to (${fsFailure(e)})`, fix: 'check its permissions, or pass --out with another file' }])
  }
}
