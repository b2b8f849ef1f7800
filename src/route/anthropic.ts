import { readFileSync } from 'node:fs'
import Anthropic from '@anthropic-ai/sdk'
import type { Catalogue } from '../load/catalogue.js'
import { sha256 } from '../load/catalogue.js'
import { UsageError } from '../load/input-error.js'
import { buildRequest, buildRequestPrefix, readReply, requestBodyText, type RequestSettings } from './anthropic-request.js'
import { createNodeFetch } from './node-fetch.js'
import { RouterError, type Router } from './router.js'
import type { RouterStyle } from '../load/config.js'
import { estimateTokens } from '../text/tokens.js'

export const DEFAULT_MODEL = 'claude-haiku-4-5'
export const DEFAULT_TEMPLATE_FILE = new URL('../../templates/claude-code-agent-tool.md', import.meta.url)

export type AnthropicOptions = {
  model?: string
  style?: RouterStyle
  /** path to a replacement for the claude-code style's Agent tool wording */
  template?: string
  maxTokens?: number
  temperature?: number
  timeoutMs: number
  env?: Readonly<Record<string, string | undefined>>
  /** build requests without a key: for --dry-run, which sends nothing */
  dryRun?: boolean
}

/** Checks the key before anything is sent: one sentence, not a stack trace. */
export function requireApiKey(env: Readonly<Record<string, string | undefined>>): { apiKey: string | null; authToken: string | null } {
  const apiKey = env.ANTHROPIC_API_KEY?.trim() || null
  const authToken = env.ANTHROPIC_AUTH_TOKEN?.trim() || null
  if (!apiKey && !authToken) {
    throw new UsageError('the anthropic router needs an API key: export ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another Messages-API server), or run offline with --router lexical')
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

/** Output tokens per request, for estimates: a claude-code call writes a brief for the subagent, a classifier call a few fields. */
const ESTIMATED_OUTPUT_TOKENS: Record<RouterStyle, number> = { 'claude-code': 150, classifier: 40 }

/**
 * Claude as the router, through @anthropic-ai/sdk. The SDK's own retries are
 * off: the run engine retries, so it can count retries and honour
 * retry-after for every router alike.
 */
export function createAnthropicRouter(opts: AnthropicOptions): Router {
  const env = opts.env ?? process.env
  const settings: RequestSettings = {
    model: opts.model ?? DEFAULT_MODEL,
    style: opts.style ?? 'claude-code',
    template: readTemplate(opts.template),
    maxTokens: opts.maxTokens ?? 1024,
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
  }
  const credentials = opts.dryRun ? { apiKey: 'dry-run', authToken: null } : requireApiKey(env)
  const baseURL = env.ANTHROPIC_BASE_URL?.trim() || undefined
  if (baseURL !== undefined && !URL.canParse(baseURL)) throw new UsageError(`ANTHROPIC_BASE_URL is not a URL: "${baseURL}"`)
  // An empty ANTHROPIC_BASE_URL means "unset"; the SDK would read it as a URL, so name the default.
  const client = new Anthropic({ ...credentials, baseURL: baseURL ?? 'https://api.anthropic.com', maxRetries: 0, timeout: opts.timeoutMs, fetch: createNodeFetch() })
  const prefixes = new WeakMap<Catalogue, { prefix: ReturnType<typeof buildRequestPrefix>; json: string }>()
  const prefixFor = (catalogue: Catalogue) => {
    let built = prefixes.get(catalogue)
    if (!built) {
      const prefix = buildRequestPrefix(catalogue, settings)
      built = { prefix, json: JSON.stringify(prefix) }
      prefixes.set(catalogue, built)
    }
    return built
  }
  const cacheSettings = { model: settings.model, style: settings.style, template: sha256(settings.template), maxTokens: settings.maxTokens, temperature: settings.temperature ?? null }

  return {
    id: `anthropic:${settings.model}:${settings.style}`,
    deterministic: false,
    cacheKey: `anthropic ${JSON.stringify(cacheSettings)}`,
    pricedModel: settings.model,
    preview: (prompt, catalogue) => buildRequest(prefixFor(catalogue).prefix, prompt),
    estimate: (prompt, catalogue) => ({
      prefixTokens: estimateTokens(prefixFor(catalogue).json),
      promptTokens: estimateTokens(JSON.stringify(buildRequest(prefixFor(catalogue).prefix, prompt).messages)),
      outputTokens: ESTIMATED_OUTPUT_TOKENS[settings.style],
    }),
    async route(prompt, catalogue, signal) {
      const started = performance.now()
      try {
        // The SDK's own post, with the body already JSON: same client, headers, errors and timeouts as messages.create.
        const message = await client.post<Anthropic.Message>('/v1/messages', {
          body: requestBodyText(prefixFor(catalogue).json, prompt),
          headers: { 'content-type': 'application/json' },
          signal,
        })
        return readReply(settings.style, message, performance.now() - started)
      } catch (e) {
        throw classifyError(e, settings.model, baseURL)
      }
    },
  }
}

/** Maps an SDK failure to what the run engine should do with it. */
export function classifyError(e: unknown, model: string, baseURL: string | undefined): RouterError {
  if (e instanceof RouterError) return e
  const where = baseURL ?? 'api.anthropic.com'
  if (e instanceof Anthropic.APIConnectionTimeoutError) return new RouterError('timeout', 'the request timed out')
  if (e instanceof Anthropic.APIUserAbortError) return new RouterError('timeout', 'the request was aborted')
  if (e instanceof Anthropic.APIConnectionError) return new RouterError('connection', `cannot reach ${where}: ${rootCause(e)}`)
  if (e instanceof Anthropic.APIError) {
    const status = e.status ?? 0
    const type = (e.error as { error?: { type?: string; message?: string } } | undefined)?.error?.type ?? ''
    const detail = (e.error as { error?: { message?: string } } | undefined)?.error?.message ?? e.message
    const message = `HTTP ${status}${type ? ` ${type}` : ''}: ${detail}`
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

/** retry-after-ms, else retry-after in seconds or as an HTTP date. */
function retryAfter(headers: Headers | undefined): { retryAfterMs?: number } {
  const ms = Number(headers?.get('retry-after-ms'))
  if (headers?.get('retry-after-ms') && Number.isFinite(ms)) return { retryAfterMs: ms }
  const raw = headers?.get('retry-after')
  if (!raw) return {}
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return { retryAfterMs: seconds * 1000 }
  const date = Date.parse(raw)
  return Number.isNaN(date) ? {} : { retryAfterMs: Math.max(0, date - Date.now()) }
}
