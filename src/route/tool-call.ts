import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type Anthropic from '@anthropic-ai/sdk'
import pLimit from 'p-limit'
import { z } from 'zod'
import { sha256 } from '../load/catalogue.js'
import { UsageError } from '../load/input-error.js'
import { redact } from '../text/safe.js'
import { estimateTokens } from '../text/tokens.js'
import { classifyError, clientSettings, isMessage } from './anthropic.js'
import { sdkBatchApi } from './anthropic-batch.js'
import { cacheControl, readUsage } from './anthropic-request.js'
import { BATCH_LIMITS, type CacheTtl } from '../load/config.js'
import { createBatchEngine, interruptedUploads, splitIntoBatches, type BatchEvent, type BatchPlan, type BatchReading } from './batch.js'
import { addUsage, loadPrices, priceFor, usageCost, type Price, type PriceTable } from './cost.js'
import { checkCacheFolder, openBatchLedger, type BatchLedger } from './journal.js'
import { RouterError, usageSchema, type Usage } from './router.js'
import { FatalRouterError } from './run.js'
import { DEFAULT_DRAFT_MODEL } from './draft-defaults.js'

/**
 * Claude asked to call one tool, its input checked by a zod schema: how
 * `generate`, `overlap --probe` and `improve` draft prompts and rewrites.
 * It sends through the anthropic router's client (key, ANTHROPIC_BASE_URL,
 * errors classified alike), keeps every valid answer in the cache folder
 * (one file per request, so a rerun never pays twice and a kill loses at
 * most the requests in flight), and stays inside --max-cost.
 *
 * With `batch` (--batch), askAll's requests that the cache has not answered go as Message
 * Batches through the one batch engine (batch.ts): custom_id the request's hash (the cache's
 * key), each batch's id noted on creation in a ledger in the cache folder so a killed command,
 * run again, reattaches instead of paying twice, results joined by custom_id and kept as they are
 * read, priced at the batch rate. A reply whose tool input breaks its schema is asked again once
 * as the live path does, but in a follow-up batch, not live: at the batch price, reattachable like
 * the first, and through the same path as an expired or errored request (see README "--batch").
 */

/** A tool Claude must call once; one zod schema gives both its JSON schema and the check of its input. */
export type ToolSpec<T> = { name: string; description: string; input: z.ZodType<T> }

export type ToolRequest = {
  system: string
  prompt: string
  maxTokens?: number
  /** what the reply is expected to hold, for estimates; max_tokens when unset (an upper bound) */
  expectedOutputTokens?: number
}

export type ToolAnswer<T> = {
  value?: T
  /** set when no valid answer came; such an answer is never cached */
  error?: string
  usage?: Usage
  /** answered from the cache folder, not sent */
  cached: boolean
  /** never sent: the budget ran out or the run was stopped */
  notSent?: boolean
}

export type ToolCallerOptions = {
  /** default: DEFAULT_DRAFT_MODEL */
  model?: string
  env?: Readonly<Record<string, string | undefined>>
  timeoutMs: number
  temperature?: number
  /** answers are kept here, under tool-calls/, and found again by the request's hash */
  cacheDir?: string
  /** send every request afresh (answers are still stored) */
  noCache?: boolean
  /** build and price requests without a key; askAll refuses */
  dryRun?: boolean
  maxUsd?: number
  /** requests in flight at once (default 4: drafting sends tens of requests, not thousands) */
  concurrency?: number
  signal?: AbortSignal
  prices?: PriceTable
  /** called as each request finishes, with how many of `total` are done */
  onAnswer?: (done: number, total: number) => void
  /** send askAll's uncached requests through the Message Batches API (--batch), and say what the batches do */
  batch?: ToolBatchOptions
}

/** How the drafting requests are batched (batchPlan of the config and --batch-poll), and where the batches' progress goes. */
export type ToolBatchOptions = BatchPlan & { onEvent?: (event: BatchEvent) => void }

export type ToolCallEstimate = {
  requests: number
  inputTokens: number
  outputTokens: number
  /** the live price, as if nothing were cached: an upper bound */
  usd: number | undefined
  /** with `batch`: the batch price on the same terms as `usd` (nothing cached) */
  batchUsd?: number | undefined
  /** with `batch`: the batch price if each request writes its system text to the prompt cache (they run side by side, so any may): the upper bound --max-cost holds to */
  batchMaxUsd?: number | undefined
}

/** What askAll would submit as batches: the requests the cache has not answered, split as the API's limits ask, and the ledger's batches it would reattach. */
export type ToolBatchPreview = {
  requests: number
  cached: number
  batches: Array<{ requests: number; bytes: number }>
  reattach: string[]
  /** interrupted uploads (the ledger's unsettled intents) holding requests to submit, which a run would look for first */
  interrupted: Array<{ requests: number; created: string }>
  /** of the requests to submit */
  estimate: ToolCallEstimate
}

export type ToolCaller = {
  model: string
  /** what askAll would send and cost, nothing sent: for --dry-run and --max-cost */
  estimate<T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): ToolCallEstimate
  /** the Messages API body of one request (sent live; a batch asks for the config's cache lifetime) */
  preview<T>(request: ToolRequest, tool: ToolSpec<T>): Anthropic.MessageCreateParamsNonStreaming
  /** with `batch`: the batches askAll would submit, nothing sent */
  previewBatches<T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): ToolBatchPreview
  /** answers in the order of `requests` */
  askAll<T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): Promise<ToolAnswer<T>[]>
  spentUsd(): number
  /** with `batch`: the Message Batches askAll created or reattached, in that order */
  batchIds(): string[]
}

export { DEFAULT_DRAFT_MODEL }
const DEFAULT_MAX_TOKENS = 4096
/** The SDK's own retries (429, 5xx, dropped connections, honouring retry-after): a handful of requests needs no scheduler. */
const SDK_RETRIES = 4
/** A reply whose tool input fails its schema is asked again this many times in all before it is an error. */
const OUTPUT_TRIES = 2

/** Drafting without a key: the descriptions' own <example> turns are the offline source (and say so). */
const DRAFTING_KEY_USE = {
  who: 'drafting with Claude',
  offline: "draft offline from the descriptions' <example> turns: generate --from-examples, overlap --probe --probe-from examples",
}

export function createToolCaller(opts: ToolCallerOptions): ToolCaller {
  const model = opts.model ?? DEFAULT_DRAFT_MODEL
  const price = priceFor(model, opts.prices ?? loadPrices())
  const { client, baseURL } = clientSettings({ ...opts, keyUse: DRAFTING_KEY_USE })
  const retrying = client.withOptions({ maxRetries: SDK_RETRIES })
  let spent = 0
  const batchIds: string[] = []

  const build = <T>(request: ToolRequest, tool: ToolSpec<T>, cacheTtl?: CacheTtl): Anthropic.MessageCreateParamsNonStreaming => ({
    model,
    max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
    ...(opts.temperature === undefined ? {} : { temperature: opts.temperature }),
    // The system text (the catalogue, mostly) is the same across a command's requests: cache it once.
    system: [{ type: 'text', text: `${request.system}\n\n${answerRule(tool.name)}`, cache_control: cacheControl(cacheTtl) }],
    // tool_choice stays "auto": models that think by default (Sonnet 5.5) answer a forced tool
    // choice with a 400. The system text asks for the call, and a reply without it is asked again.
    tools: [{ name: tool.name, description: tool.description, input_schema: inputSchema(tool) }],
    messages: [{ role: 'user', content: request.prompt }],
  })
  const preview = <T>(request: ToolRequest, tool: ToolSpec<T>) => build(request, tool)
  /** the answer store's key and the batch's custom_id: the live body's hash, whatever the cache lifetime a batch asks for */
  const keyOf = (body: Anthropic.MessageCreateParamsNonStreaming) => sha256(JSON.stringify(body))

  const estimate = <T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): ToolCallEstimate => {
    let inputTokens = 0
    let outputTokens = 0
    let batchMaxUsd = 0
    for (const r of requests) {
      const one = estimateRequest(build(r, tool), r)
      inputTokens += one.prefixTokens + one.restTokens
      outputTokens += one.outputTokens
      if (price && opts.batch) batchMaxUsd += batchEstimateUsd(one, opts.batch.cacheTtl, price)
    }
    // Priced as if nothing were cached: an estimate that errs high keeps --max-cost a promise.
    const usage = { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0 }
    const usd = price && usageCost(usage, price)
    const batched = opts.batch ? { batchUsd: price && usageCost({ ...usage, batch: true }, price), batchMaxUsd: price && batchMaxUsd } : {}
    return { requests: requests.length, inputTokens, outputTokens, usd, ...batched }
  }

  /** The requests not answered yet, by key (one request asked twice is one request), and the answers the store holds. */
  const sortOut = <T>(requests: readonly ToolRequest[], tool: ToolSpec<T>, store: AnswerStore | undefined) => {
    const pending = new Map<string, { request: ToolRequest; body: Anthropic.MessageCreateParamsNonStreaming; at: number[] }>()
    const stored = new Map<number, ToolAnswer<T>>()
    requests.forEach((request, i) => {
      const body = build(request, tool)
      const key = keyOf(body)
      const found = opts.noCache ? undefined : store?.get(key, tool)
      if (found) stored.set(i, { ...found, cached: true })
      else pending.set(key, { request, body, at: [...(pending.get(key)?.at ?? []), i] })
    })
    return { pending, stored }
  }

  const batchBytes = (body: Anthropic.MessageCreateParamsNonStreaming, cacheTtl: CacheTtl) => Buffer.byteLength(JSON.stringify({ ...body, system: withCacheTtl(body.system, cacheTtl) }))

  const previewBatches = <T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): ToolBatchPreview => {
    const plan = opts.batch
    if (!plan) throw new Error('previewBatches on a tool caller without batch')
    const store = opts.cacheDir === undefined ? undefined : answerStore(opts.cacheDir)
    const { pending, stored } = sortOut(requests, tool, store)
    const ledger = opts.cacheDir === undefined || opts.noCache ? undefined : openBatchLedger(opts.cacheDir, { readOnly: true })
    const reattach = (ledger?.batches() ?? []).filter((b) => !b.done && b.customIds.some((id) => pending.has(id)))
    const held = new Set(reattach.flatMap((b) => b.customIds))
    const fresh = [...pending].filter(([key]) => !held.has(key))
    const { batches } = splitIntoBatches(fresh, ([key, p]) => batchBytes(p.body, plan.cacheTtl) + key.length, { maxRequests: plan.maxRequests, maxBytes: BATCH_LIMITS.maxBytes })
    return {
      requests: fresh.length,
      cached: stored.size,
      batches: batches.map((b) => ({ requests: b.items.length, bytes: b.bytes })),
      reattach: reattach.map((b) => b.id),
      interrupted: interruptedUploads(ledger, new Set(fresh.map(([key]) => key))).map((i) => ({ requests: i.requests, created: i.created })),
      estimate: estimate(fresh.map(([, p]) => p.request), tool),
    }
  }

  const askAll = async <T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): Promise<ToolAnswer<T>[]> => {
    if (opts.dryRun) throw new Error('askAll on a dry-run tool caller')
    if (opts.maxUsd !== undefined && price === undefined) {
      throw new UsageError(`--max-cost needs a price for model "${model}", which the price table does not have: add it to the config's anthropic.prices file, or drop --max-cost`)
    }
    const store = opts.cacheDir === undefined ? undefined : answerStore(opts.cacheDir)
    if (opts.batch) {
      const answers = await askBatched(requests, tool, store, opts.batch)
      return answers.map((a) => (a.error === undefined ? a : { ...a, error: redact(a.error) }))
    }
    const limit = pLimit(opts.concurrency ?? 4)
    const stop = new AbortController()
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal
    let fatal: FatalRouterError | undefined
    let reserved = 0
    let done = 0

    const ask = async (request: ToolRequest): Promise<ToolAnswer<T>> => {
      const body = preview(request, tool)
      const key = keyOf(body)
      const stored = opts.noCache ? undefined : store?.get(key, tool)
      if (stored) return { ...stored, cached: true }
      if (signal.aborted) return { error: 'not sent: the run was stopped', cached: false, notSent: true }
      const expected = estimate([request], tool).usd ?? 0
      if (opts.maxUsd !== undefined && spent + reserved + expected > opts.maxUsd) {
        return { error: `not sent: --max-cost ${opts.maxUsd} USD would be passed`, cached: false, notSent: true }
      }
      reserved += expected
      try {
        return await send(body, key, tool, signal)
      } finally {
        reserved -= expected
      }
    }

    const send = async (body: Anthropic.MessageCreateParamsNonStreaming, key: string, spec: ToolSpec<T>, signal: AbortSignal): Promise<ToolAnswer<T>> => {
      let problem = ''
      let usage: Usage | undefined
      for (let tries = 1; tries <= OUTPUT_TRIES; tries++) {
        let message: Anthropic.Message
        try {
          message = await retrying.messages.create(body, { signal, timeout: opts.timeoutMs })
        } catch (e) {
          if (signal.aborted) return { error: 'not sent: the run was stopped', cached: false, notSent: true }
          const failure = classifyError(e, model, baseURL)
          if (failure.fatal) {
            fatal ??= new FatalRouterError(failure.message)
            stop.abort(fatal)
          }
          return { error: failure.message, cached: false, ...(usage ? { usage } : {}) }
        }
        usage = addUsage(usage, readUsage(message.usage))
        if (price) spent += usageCost(readUsage(message.usage), price)
        const input = toolInput(message.content, spec)
        if ('value' in input) {
          store?.put(key, input.value, usage)
          return { value: input.value, usage, cached: false }
        }
        problem = input.problem
      }
      return { error: `${problem} (after ${OUTPUT_TRIES} tries)`, usage, cached: false }
    }

    const answers = await Promise.all(
      requests.map((r) =>
        limit(async () => {
          const answer = await ask(r)
          opts.onAnswer?.(++done, requests.length)
          return answer
        }),
      ),
    )
    if (fatal) throw fatal
    return answers.map((a) => (a.error === undefined ? a : { ...a, error: redact(a.error) }))
  }

  /** askAll through the Message Batches API: what the store has not answered goes as batches; answers in the order of `requests`. */
  const askBatched = async <T>(requests: readonly ToolRequest[], tool: ToolSpec<T>, store: AnswerStore | undefined, plan: ToolBatchOptions): Promise<ToolAnswer<T>[]> => {
    const { pending, stored } = sortOut(requests, tool, store)
    const answers: ToolAnswer<T>[] = requests.map((_, i) => stored.get(i) ?? { error: 'not sent: the run was stopped', cached: false, notSent: true })
    let done = 0
    const answered = (times: number) => {
      for (let k = 0; k < times; k++) opts.onAnswer?.(++done, requests.length)
    }
    answered(stored.size)
    if (pending.size === 0 || opts.signal?.aborted) return answers
    // --no-cache sends every request afresh: no reattaching to an earlier run's batch nor looking for an interrupted upload's, though this run's are still noted.
    const file = opts.cacheDir === undefined ? undefined : openBatchLedger(opts.cacheDir)
    const ledger: BatchLedger | undefined = file && opts.noCache ? { ...file, batches: () => [], intents: () => [] } : file
    const engine = createBatchEngine<T>(
      {
        api: sdkBatchApi(client, { timeoutMs: opts.timeoutMs, classify: (e) => classifyError(e, model, baseURL), where: baseURL ?? 'api.anthropic.com' }),
        params: (key) => {
          const { body } = pending.get(key)!
          return { ...body, system: withCacheTtl(body.system, plan.cacheTtl) }
        },
        bytes: (key) => batchBytes(pending.get(key)!.body, plan.cacheTtl),
        read: (message) => readBatchReply(message, tool),
        keep(key, value, usage) {
          if (usage) store?.put(key, value, usage)
        },
        keepUnclaimed(key, message) {
          // Another command's request, in a batch this one reattached: paid for, so kept for it (checked by its schema when read).
          if (!store || !isMessage(message)) return
          const call = (message.content as Array<{ type: string; input?: unknown }>).find((b) => b.type === 'tool_use')
          if (call) store.put(key, call.input, { ...readUsage(message.usage), batch: true })
        },
      },
      {
        pollMs: plan.pollMs,
        maxRequests: plan.maxRequests,
        retry: { maxTries: SDK_RETRIES + 1, baseDelayMs: 500, maxDelayMs: 30_000 },
        ...(ledger ? { ledger } : {}),
        ...(opts.maxUsd !== undefined && price ? { budget: batchBudget(opts.maxUsd - spent, price, plan.cacheTtl, (key) => pending.get(key)!) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(plan.onEvent ? { onEvent: plan.onEvent } : {}),
      },
    )
    try {
      const keys = [...pending.keys()]
      await engine.submit(keys)
      await Promise.all(
        keys.map(async (key) => {
          const { value, usage, error, notSent } = (await engine.outcome(key))!
          if (price && usage) spent += usageCost(usage, price)
          const answer: ToolAnswer<T> = error === undefined ? { value: value as T, cached: false } : { error, cached: false, ...(notSent ? { notSent } : {}) }
          if (usage) answer.usage = usage
          const { at } = pending.get(key)!
          for (const i of at) answers[i] = answer
          answered(at.length)
        }),
      )
      await engine.settle(keys)
      return answers
    } finally {
      batchIds.push(...engine.batchIds())
      file?.close()
    }
  }

  /** What one request of a batch is expected to cost, held against --max-cost until its result is in. */
  const batchBudget = (maxUsd: number, p: Price, cacheTtl: CacheTtl, of: (key: string) => { request: ToolRequest; body: Anthropic.MessageCreateParamsNonStreaming }) => ({
    maxUsd,
    estimateUsd: (key: string) => {
      const { request, body } = of(key)
      return batchEstimateUsd(estimateRequest(body, request), cacheTtl, p)
    },
    costOf: (u: Usage) => usageCost(u, p),
  })

  return { model, estimate, preview, previewBatches, askAll, spentUsd: () => spent, batchIds: () => [...batchIds] }
}

/** A request's tokens: the cached prefix (tools and system text), the rest, and the reply's expected length. */
function estimateRequest(body: Anthropic.MessageCreateParamsNonStreaming, request: ToolRequest): { prefixTokens: number; restTokens: number; outputTokens: number } {
  const prefixTokens = estimateTokens(JSON.stringify({ tools: body.tools, system: body.system }))
  return { prefixTokens, restTokens: Math.max(0, estimateTokens(JSON.stringify(body)) - prefixTokens), outputTokens: request.expectedOutputTokens ?? request.maxTokens ?? DEFAULT_MAX_TOKENS }
}

/** A request at the batch rate, writing its prefix to the prompt cache for `cacheTtl`: a batch's requests run side by side, so any may be the one that writes it. */
function batchEstimateUsd(e: { prefixTokens: number; restTokens: number; outputTokens: number }, cacheTtl: CacheTtl, price: Price): number {
  return usageCost({ inputTokens: e.restTokens, outputTokens: e.outputTokens, cacheReadTokens: 0, cacheWriteTokens: e.prefixTokens, ...(cacheTtl === '1h' ? { cacheWrite1hTokens: e.prefixTokens } : {}), batch: true }, price)
}

/** The system blocks with the cache lifetime a batch asks for. */
function withCacheTtl(system: Anthropic.MessageCreateParamsNonStreaming['system'], cacheTtl: CacheTtl): Anthropic.TextBlockParam[] {
  return (system as Anthropic.TextBlockParam[]).map((b) => (b.cache_control ? { ...b, cache_control: cacheControl(cacheTtl) } : b))
}

/** The tool's input from a reply's content, checked by its schema, or what is wrong with it. */
function toolInput<T>(content: readonly Anthropic.ContentBlock[], tool: ToolSpec<T>): { value: T } | { problem: string } {
  const call = content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use' && b.name === tool.name)
  const parsed = call ? tool.input.safeParse(call.input) : undefined
  if (parsed?.success) return { value: parsed.data }
  return { problem: call ? `the ${tool.name} tool input does not fit its schema: ${issuesText(parsed!.error)}` : `the reply did not call the ${tool.name} tool` }
}

/** A batch's succeeded message read as the live reply is; a malformed one is an error the engine resubmits once. */
function readBatchReply<T>(message: unknown, tool: ToolSpec<T>): BatchReading<T> {
  if (!isMessage(message)) return { error: new RouterError('bad_output', 'the batch result holds no message content') }
  const usage: Usage = { ...readUsage(message.usage), batch: true }
  const input = toolInput(message.content, tool)
  return 'value' in input ? { value: input.value, usage } : { error: new RouterError('bad_output', input.problem), usage }
}

/** The one sentence that makes the tool call the answer, whatever the model's tool_choice support. */
export function answerRule(toolName: string): string {
  return `Answer only by calling the ${toolName} tool, once, with your whole answer in its input.`
}

/** The tool's JSON schema, without the `$schema` line the Messages API does not take. */
function inputSchema<T>(tool: ToolSpec<T>): Anthropic.Tool.InputSchema {
  const { $schema: _, ...schema } = z.toJSONSchema(tool.input, { io: 'input' }) as Record<string, unknown>
  return schema as Anthropic.Tool.InputSchema
}

function issuesText(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`)
    .join('; ')
}

const storedSchema = z.object({ value: z.unknown(), usage: usageSchema })

/**
 * One file per answer, written to a temporary name and renamed: no journal
 * header, no tail to repair, and two commands sharing the folder never
 * interleave. Only valid answers are stored; an unreadable or stale file is
 * treated as absent (the request is sent again), never as an answer.
 */
type AnswerStore = ReturnType<typeof answerStore>

function answerStore(cacheDir: string) {
  checkCacheFolder(cacheDir)
  const dir = path.join(cacheDir, 'tool-calls')
  const file = (key: string) => path.join(dir, `${key.slice(0, 40)}.json`)
  return {
    get<T>(key: string, tool: ToolSpec<T>): { value: T; usage: Usage } | undefined {
      let json: unknown
      try {
        json = JSON.parse(readFileSync(file(key), 'utf8'))
      } catch {
        return undefined
      }
      const stored = storedSchema.safeParse(json)
      const value = stored.success ? tool.input.safeParse(stored.data.value) : undefined
      return stored.success && value?.success ? { value: value.data, usage: stored.data.usage } : undefined
    },
    put(key: string, value: unknown, usage: Usage): void {
      const target = file(key)
      const temporary = `${target}.${process.pid}.tmp`
      try {
        mkdirSync(dir, { recursive: true })
        writeFileSync(temporary, redact(JSON.stringify({ value, usage })))
        renameSync(temporary, target)
      } catch {
        // A cache that cannot be written costs a resend next time, not this run.
        rmSync(temporary, { force: true })
      }
    },
  }
}
