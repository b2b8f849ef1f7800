import { readFileSync } from 'node:fs'
import type Anthropic from '@anthropic-ai/sdk'
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk/error'
import { MessagesClient } from './anthropic-client.js'
import type { Catalogue } from '../load/catalogue.js'
import { sha256 } from '../load/catalogue.js'
import { UsageError } from '../load/input-error.js'
import { buildRequest, buildRequestPrefix, readReply, requestBodyBytes, requestBodyHead, type MessagesStyle, type RequestSettings } from './anthropic-request.js'
import { SDK_PACKAGE } from './claude-code/engine.js'
import { createNodeFetch } from './node-fetch.js'
import { readRateLimits, readRetryAfter, type RouteFeedback } from './rate-limit.js'
import { RouterError, type Router } from './router.js'
import type { CacheTtl, RouterStyle } from '../load/config.js'
import { sdkBatchApi } from './anthropic-batch.js'
import { estimateTokens } from '../text/tokens.js'

export const DEFAULT_MODEL = 'claude-haiku-4-5'
export const DEFAULT_TEMPLATE_FILE = new URL('../../templates/claude-code-agent-tool.md', import.meta.url)

export type AnthropicOptions = {
  model?: string
  /** unset: claude-code, or template (with a warning) where the Agent SDK is not installed */
  style?: RouterStyle
  /** path to a replacement for the template style's Agent tool wording */
  template?: string
  maxTokens?: number
  temperature?: number
  timeoutMs: number
  env?: Readonly<Record<string, string | undefined>>
  /** build requests without a key: for --dry-run, which sends nothing (and stores nothing) */
  dryRun?: boolean
  /** the run's catalogue: the claude-code style captures Claude Code's request for it before the first case */
  catalogue?: Catalogue
  /** where the claude-code style stores captured requests and finds them again (the run journal's folder) */
  cacheDir?: string
  /** capture Claude Code's request afresh instead of reusing a stored one (--no-cache) */
  noCache?: boolean
  /** the Claude Code to capture from, and a project to capture in (the claude-code router's settings) */
  claudeBin?: string
  workspace?: string
  /** one line for the user (stderr in the CLI) */
  warn?: (text: string) => void
}

/** Who needs the key and what works without one: the router's wording unless a caller (drafting) says otherwise. */
export type KeyUse = { who: string; offline: string }
const ROUTER_KEY_USE: KeyUse = { who: 'the anthropic router', offline: 'run offline with --router lexical' }

/** Checks the key before anything is sent: one sentence, not a stack trace. */
export function requireApiKey(env: Readonly<Record<string, string | undefined>>, use: KeyUse = ROUTER_KEY_USE): { apiKey: string | null; authToken: string | null } {
  const apiKey = env.ANTHROPIC_API_KEY?.trim() || null
  const authToken = env.ANTHROPIC_AUTH_TOKEN?.trim() || null
  if (!apiKey && !authToken) {
    throw new UsageError(`${use.who} needs an API key: export ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another Messages-API server), or ${use.offline}`)
  }
  return { apiKey, authToken }
}

export function readTemplate(file?: string): string {
  const source = file ?? DEFAULT_TEMPLATE_FILE
  let text: string
  try {
    text = readFileSync(source, 'utf8')
  } catch {
    throw new UsageError(`cannot read the prompt template ${String(file ?? source)}: check anthropic.template in the config`)
  }
  if (!text.includes('{{agents}}')) throw new UsageError(`the prompt template ${String(file ?? source)} has no {{agents}} placeholder for the agent list`)
  return text
}

/** Output tokens per request, for estimates: a template call writes a brief for the subagent, a classifier call a few fields. */
const ESTIMATED_OUTPUT_TOKENS: Record<MessagesStyle, number> = { template: 150, classifier: 40 }

/**
 * Claude as the router, through @anthropic-ai/sdk. Style claude-code replays
 * Claude Code's own request (replay.ts); template and classifier build
 * routecheck's own. Where the Agent SDK is missing, an unset style falls back
 * to template with one warning line (the router id then says "template", in
 * every report); a style of claude-code asked for by name is an error instead,
 * since the user wanted Claude Code's own request and would not get it.
 */
export async function createAnthropicRouter(opts: AnthropicOptions): Promise<Router> {
  // A configured template is checked whatever the style: bad input is reported before anything runs.
  if (opts.template !== undefined) readTemplate(opts.template)
  const style = opts.style ?? 'claude-code'
  if (style !== 'claude-code') return createMessagesRouter({ ...opts, style })
  const connection = clientSettings(opts) // key and base URL first: a missing key stops the run before any capture
  // Loaded only for this style: the replay's module pulls in the engine's.
  const replay = await import('./replay.js')
  const missing = await replay.replayUnavailable(opts.claudeBin, opts.env ?? process.env)
  if (missing === undefined) return replay.createReplayRouter({ ...opts, ...connection, model: opts.model ?? DEFAULT_MODEL })
  if (opts.style === 'claude-code') {
    throw new UsageError(`--style claude-code replays Claude Code's own request, which needs the Claude Agent SDK, but ${missing}: run \`npm install ${SDK_PACKAGE}\`, or pick --style template for routecheck's approximation`)
  }
  opts.warn?.(`warning: ${missing}, so the anthropic router uses --style template, routecheck's approximation of Claude Code's request (\`npm install ${SDK_PACKAGE}\` to replay Claude Code's own)\n`)
  return createMessagesRouter({ ...opts, style: 'template' })
}

export type ClientSettings = { client: MessagesClient; baseURL: string | undefined }

/** The SDK client every style sends through: the key (none for a dry run), the base URL, no SDK retries, the node:http fetch. */
export function clientSettings(opts: Pick<AnthropicOptions, 'env' | 'dryRun' | 'timeoutMs'> & { keyUse?: KeyUse }): ClientSettings {
  const env = opts.env ?? process.env
  const credentials = opts.dryRun ? { apiKey: 'dry-run', authToken: null } : requireApiKey(env, opts.keyUse)
  const baseURL = env.ANTHROPIC_BASE_URL?.trim() || undefined
  if (baseURL !== undefined && !URL.canParse(baseURL)) throw new UsageError(`ANTHROPIC_BASE_URL is not a URL: "${baseURL}"`)
  // An empty ANTHROPIC_BASE_URL means "unset"; the SDK would read it as a URL, so name the default.
  const client = new MessagesClient({ ...credentials, baseURL: baseURL ?? 'https://api.anthropic.com', maxRetries: 0, timeout: opts.timeoutMs, fetch: createNodeFetch() })
  return { client, baseURL }
}

/**
 * The template and classifier styles: routecheck's own requests. The SDK's
 * own retries are off: the run engine retries, so it can count retries and
 * honour retry-after for every router alike.
 */
export function createMessagesRouter(opts: AnthropicOptions & { style: MessagesStyle }): Router {
  const settings: RequestSettings = {
    model: opts.model ?? DEFAULT_MODEL,
    style: opts.style,
    template: readTemplate(opts.template),
    maxTokens: opts.maxTokens ?? 1024,
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
  }
  const { client, baseURL } = clientSettings(opts)
  type Prefix = { prefix: ReturnType<typeof buildRequestPrefix>; json: string; head: Buffer; bytes: number }
  const prefixes = new WeakMap<Catalogue, Map<CacheTtl, Prefix>>()
  // Live requests keep the 5-minute cache; a batch may ask for the hour.
  const prefixFor = (catalogue: Catalogue, cacheTtl: CacheTtl = '5m'): Prefix => {
    let byTtl = prefixes.get(catalogue)
    if (!byTtl) prefixes.set(catalogue, (byTtl = new Map()))
    let built = byTtl.get(cacheTtl)
    if (!built) {
      const prefix = buildRequestPrefix(catalogue, { ...settings, ...(cacheTtl === '1h' ? { cacheTtl } : {}) })
      const json = JSON.stringify(prefix)
      built = { prefix, json, head: requestBodyHead(json), bytes: Buffer.byteLength(json) }
      byTtl.set(cacheTtl, built)
    }
    return built
  }
  const cacheSettings = { model: settings.model, style: settings.style, template: sha256(settings.template), maxTokens: settings.maxTokens, temperature: settings.temperature ?? null }

  return {
    id: `anthropic:${settings.model}:${settings.style}`,
    deterministic: false,
    cacheKey: `anthropic ${JSON.stringify(cacheSettings)}`,
    pricedModel: settings.model,
    reportsRateLimits: true,
    preview: (prompt, catalogue) => buildRequest(prefixFor(catalogue).prefix, prompt),
    estimate: (prompt, catalogue) => ({
      prefixTokens: estimateTokens(prefixFor(catalogue).json),
      promptTokens: estimateTokens(JSON.stringify(buildRequest(prefixFor(catalogue).prefix, prompt).messages)),
      outputTokens: ESTIMATED_OUTPUT_TOKENS[settings.style],
    }),
    async route(prompt, catalogue, signal, feedback) {
      const started = performance.now()
      try {
        // The SDK's own post, with the body already JSON bytes: same client, headers, errors and timeouts as messages.create.
        const request = client.post<Anthropic.Message>('/v1/messages', {
          body: requestBodyBytes(prefixFor(catalogue).head, prompt),
          headers: { 'content-type': 'application/json' },
          signal,
        })
        if (!feedback) return readReply(settings.style, await request, performance.now() - started)
        const { data, response } = await request.withResponse()
        reportRateLimits(feedback, response.headers)
        return readReply(settings.style, data, performance.now() - started)
      } catch (e) {
        if (feedback) reportErrorRateLimits(feedback, e)
        throw classifyError(e, settings.model, baseURL)
      }
    },
    batch: {
      api: sdkBatchApi(client, { timeoutMs: opts.timeoutMs, classify: (e) => classifyError(e, settings.model, baseURL), where: baseURL ?? 'api.anthropic.com' }),
      params: (prompt, catalogue, cacheTtl) => buildRequest(prefixFor(catalogue, cacheTtl).prefix, prompt),
      // requestBodyBytes's size without building it; the 1-hour prefix is the longer one, an upper bound for either.
      bytes: (prompt, catalogue) => prefixFor(catalogue, '1h').bytes + Buffer.byteLength(JSON.stringify(prompt)) + MESSAGES_WRAPPER_BYTES,
      read(message) {
        if (!isMessage(message)) throw new RouterError('bad_output', 'the batch result holds no message content')
        const { latencyMs: _, ...decision } = readReply(settings.style, message, 0)
        return decision
      },
    },
  }
}

/** `,"messages":[{"role":"user","content":` and `}]` around the prompt in requestBodyBytes. */
const MESSAGES_WRAPPER_BYTES = 40

/** Enough of a Message to read a decision from. */
export function isMessage(m: unknown): m is Pick<Anthropic.Message, 'content' | 'usage'> {
  return typeof m === 'object' && m !== null && Array.isArray((m as { content?: unknown }).content)
}

/** A reply's rate-limit headers, to the run engine; a reply without them reports nothing. */
export function reportRateLimits(feedback: RouteFeedback, headers: Headers | undefined): void {
  const snapshot = headers ? readRateLimits(headers) : undefined
  if (snapshot) feedback.rateLimits(snapshot)
}

/**
 * An HTTP error's rate-limit headers (a 429 has them all). An error event
 * inside a streamed reply (status 200) has none of its own: the reply's
 * headers were reported when it began.
 */
export function reportErrorRateLimits(feedback: RouteFeedback, e: unknown): void {
  if (e instanceof APIError && e.status !== undefined) reportRateLimits(feedback, e.headers)
}

/** Maps an SDK failure to what the run engine should do with it. */
export function classifyError(e: unknown, model: string, baseURL: string | undefined): RouterError {
  if (e instanceof RouterError) return e
  const where = baseURL ?? 'api.anthropic.com'
  if (e instanceof APIConnectionTimeoutError) return new RouterError('timeout', 'the request timed out')
  if (e instanceof APIUserAbortError) return new RouterError('timeout', 'the request was aborted')
  if (e instanceof APIConnectionError) return new RouterError('connection', `cannot reach ${where}: ${rootCause(e)}`)
  if (e instanceof APIError) {
    const status = e.status ?? 0
    const type = (e.error as { error?: { type?: string; message?: string } } | undefined)?.error?.type ?? ''
    const detail = (e.error as { error?: { message?: string } } | undefined)?.error?.message ?? e.message
    const message = `HTTP ${status}${type ? ` ${type}` : ''}: ${detail}`
    // An `error` event inside a streamed reply (the HTTP status was 200): its type says what went wrong.
    if (e.status === undefined) {
      const streamed = `error event in the reply stream${type ? ` (${type})` : ''}: ${detail}`
      if (type === 'overloaded_error') return new RouterError('overloaded', streamed)
      if (type === 'rate_limit_error') return new RouterError('rate_limit', streamed)
      if (type === 'invalid_request_error') return new RouterError('bad_request', streamed, { retryable: false })
      return new RouterError('server', streamed)
    }
    if (status === 401 || status === 403) return new RouterError('auth', `${where} refused the API key (${message}); check ANTHROPIC_API_KEY`, { fatal: true })
    if (status === 404) return new RouterError('not_found', `${where} does not know model "${model}" (${message}); pick another with --model`, { fatal: true })
    if (status === 429) return new RouterError('rate_limit', message, retryAfter(e.headers))
    if (status === 529 || type === 'overloaded_error') return new RouterError('overloaded', message, retryAfter(e.headers))
    if (status === 408 || status === 409 || status >= 500) return new RouterError('server', message, retryAfter(e.headers))
    return new RouterError('bad_request', message, { retryable: false })
  }
  return new RouterError('bad_request', e instanceof Error ? e.message : String(e), { retryable: false })
}

/** The deepest cause's code or message: fetch wraps ECONNREFUSED two levels down, under "fetch failed". */
function rootCause(e: Error): string {
  let cur: unknown = e
  let best = e.message
  for (let depth = 0; cur instanceof Error && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code
    best = typeof code === 'string' ? code : cur.message
    cur = cur.cause
  }
  return best
}

/** The server's wait, for the run engine's retry (rate-limit.ts reads it). */
function retryAfter(headers: Headers | undefined): { retryAfterMs?: number } {
  const ms = readRetryAfter(headers)
  return ms === undefined ? {} : { retryAfterMs: ms }
}
