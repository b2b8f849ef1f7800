import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type Anthropic from '@anthropic-ai/sdk'
import pLimit from 'p-limit'
import { z } from 'zod'
import { UsageError } from '../load/input-error.js'
import { redact } from '../text/safe.js'
import { estimateTokens } from '../text/tokens.js'
import { classifyError, clientSettings } from './anthropic.js'
import { loadPrices, priceFor, usageCost, type PriceTable } from './cost.js'
import { checkCacheFolder } from './journal.js'
import { usageSchema, type Usage } from './router.js'
import { FatalRouterError } from './run.js'

/**
 * Claude asked to call one tool, its input checked by a zod schema: how
 * `generate`, `overlap --probe` and `improve` draft prompts and rewrites.
 * It sends through the anthropic router's client (key, ANTHROPIC_BASE_URL,
 * errors classified alike), keeps every valid answer in the cache folder
 * (one file per request, so a rerun never pays twice and a kill loses at
 * most the requests in flight), and stays inside --max-cost.
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
}

export type ToolCallEstimate = { requests: number; inputTokens: number; outputTokens: number; usd: number | undefined }

export type ToolCaller = {
  model: string
  /** what askAll would send and cost, nothing sent: for --dry-run and --max-cost */
  estimate<T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): ToolCallEstimate
  /** the Messages API body of one request */
  preview<T>(request: ToolRequest, tool: ToolSpec<T>): Anthropic.MessageCreateParamsNonStreaming
  /** answers in the order of `requests` */
  askAll<T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): Promise<ToolAnswer<T>[]>
  spentUsd(): number
}

/**
 * Drafting wants judgement more than speed, and runs tens of requests, not
 * thousands: the current Sonnet ($2 / $10 per million tokens; Sonnet 4.5
 * reaches end of life on 2026-11-30).
 */
export const DEFAULT_DRAFT_MODEL = 'claude-sonnet-5-5'
const DEFAULT_MAX_TOKENS = 4096
/** The SDK's own retries (429, 5xx, dropped connections, honouring retry-after): a handful of requests needs no scheduler. */
const SDK_RETRIES = 4
/** A reply whose tool input fails its schema is asked again this many times in all before it is an error. */
const OUTPUT_TRIES = 2

export function createToolCaller(opts: ToolCallerOptions): ToolCaller {
  const model = opts.model ?? DEFAULT_DRAFT_MODEL
  const price = priceFor(model, opts.prices ?? loadPrices())
  const { client, baseURL } = clientSettings(opts)
  const retrying = client.withOptions({ maxRetries: SDK_RETRIES })
  let spent = 0

  const preview = <T>(request: ToolRequest, tool: ToolSpec<T>): Anthropic.MessageCreateParamsNonStreaming => ({
    model,
    max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
    ...(opts.temperature === undefined ? {} : { temperature: opts.temperature }),
    // The system text (the catalogue, mostly) is the same across a command's requests: cache it once.
    system: [{ type: 'text', text: `${request.system}\n\n${answerRule(tool.name)}`, cache_control: { type: 'ephemeral' } }],
    // tool_choice stays "auto": models that think by default (Sonnet 5.5) answer a forced tool
    // choice with a 400. The system text asks for the call, and a reply without it is asked again.
    tools: [{ name: tool.name, description: tool.description, input_schema: inputSchema(tool) }],
    messages: [{ role: 'user', content: request.prompt }],
  })

  const estimate = <T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): ToolCallEstimate => {
    let inputTokens = 0
    let outputTokens = 0
    for (const r of requests) {
      inputTokens += estimateTokens(JSON.stringify(preview(r, tool)))
      outputTokens += r.expectedOutputTokens ?? r.maxTokens ?? DEFAULT_MAX_TOKENS
    }
    // Priced as if nothing were cached: an estimate that errs high keeps --max-cost a promise.
    const usd = price && usageCost({ inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0 }, price)
    return { requests: requests.length, inputTokens, outputTokens, usd }
  }

  const askAll = async <T>(requests: readonly ToolRequest[], tool: ToolSpec<T>): Promise<ToolAnswer<T>[]> => {
    if (opts.dryRun) throw new Error('askAll on a dry-run tool caller')
    if (opts.maxUsd !== undefined && price === undefined) {
      throw new UsageError(`--max-cost needs a price for model "${model}", which the price table does not have: add it to the config's anthropic.prices file, or drop --max-cost`)
    }
    const store = opts.cacheDir === undefined ? undefined : answerStore(opts.cacheDir)
    const limit = pLimit(opts.concurrency ?? 4)
    const stop = new AbortController()
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal
    let fatal: FatalRouterError | undefined
    let reserved = 0
    let done = 0

    const ask = async (request: ToolRequest): Promise<ToolAnswer<T>> => {
      const body = preview(request, tool)
      const key = sha256(JSON.stringify(body))
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
        const call = message.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use' && b.name === spec.name)
        const parsed = call ? spec.input.safeParse(call.input) : undefined
        if (parsed?.success) {
          store?.put(key, parsed.data, usage)
          return { value: parsed.data, usage, cached: false }
        }
        problem = call ? `the ${spec.name} tool input does not fit its schema: ${issuesText(parsed!.error)}` : `the reply did not call the ${spec.name} tool`
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

  return { model, estimate, preview, askAll, spentUsd: () => spent }
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

function readUsage(u: Anthropic.Usage): Usage {
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadTokens: u.cache_read_input_tokens ?? 0,
    cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
  }
}

function addUsage(a: Usage | undefined, b: Usage): Usage {
  if (!a) return b
  return { inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens, cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens }
}

function issuesText(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`)
    .join('; ')
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

const storedSchema = z.object({ value: z.unknown(), usage: usageSchema })

/**
 * One file per answer, written to a temporary name and renamed: no journal
 * header, no tail to repair, and two commands sharing the folder never
 * interleave. Only valid answers are stored; an unreadable or stale file is
 * treated as absent (the request is sent again), never as an answer.
 */
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
