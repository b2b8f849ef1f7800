/**
 * A local stand-in for the Anthropic Messages API (POST /v1/messages), good enough for the real
 * `@anthropic-ai/sdk` to talk to through `baseURL`. It answers the two request shapes the
 * routecheck model router sends ("claude-code": an `Agent` tool; "classifier": a forced `route`
 * tool) with a deterministic word-overlap rule, simulates prompt caching in `usage`, and can
 * inject faults (HTTP errors, dropped connections, slow replies, malformed tool calls).
 *
 * It also answers Claude Code itself (the claude-code router's engine): requests that list the
 * agents in a `<system-reminder>` ("Available agent types for the Agent tool:") get an Agent call,
 * another tool call or text, as `engine` decides; `stream: true` gets the Messages streaming
 * events (SSE); count_tokens and /api/hello are answered and logged like the rest.
 *
 * Answering rule: the prompt and each agent's name + description are split into lowercase words
 * [a-z0-9]+ of 3+ characters minus a few stop words; an agent scores the number of distinct
 * prompt words its text holds; the best score wins, ties go to the alphabetically first name,
 * and a best score of 0 means no delegation.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** `stream_cut` (not in FAULTS, which the non-streaming tests cycle through): a streamed reply cut off after message_start. */
export type Fault = 'rate_limit' | 'server_error' | 'overloaded' | 'slow' | 'drop' | 'unknown_agent' | 'no_tool_call' | 'bad_tool_input' | 'stream_cut'

export const FAULTS: readonly Fault[] = ['rate_limit', 'server_error', 'overloaded', 'slow', 'drop', 'unknown_agent', 'no_tool_call', 'bad_tool_input']

export type ServerOptions = {
  /** ms to wait before every reply (default 0) */
  delayMs?: number
  /** ms a 'slow' fault waits before replying (default 5000); the client times out first */
  slowMs?: number
  /** decides a fault for a request; `seen` = how many times this exact request body was received before (0 on the first) */
  fault?: (info: { prompt: string; seen: number; index: number }) => Fault | undefined
  /** model ids that exist; any other model gets a 404 not_found_error (default: accept all) */
  models?: string[]
  /** seconds sent in retry-after with 'rate_limit' (default '0') */
  retryAfter?: string
  /** the Message Batches endpoints (POST /v1/messages/batches, GET /v1/messages/batches (the list), GET …/{id}, GET …/{id}/results) */
  batch?: BatchOptions
  /** how to answer Claude Code's routing requests; undefined (or no option) = the word-overlap rule over every listed agent */
  engine?: (info: { prompt: string; agents: AgentEntry[]; index: number; seen: number }) => EngineReply | undefined
  /**
   * How to answer a request offering one tool other than `route` and `Agent` (routecheck's drafting
   * calls: generate, probes, improve): the tool's input, or undefined for a text reply that calls no tool.
   */
  tool?: (info: { name: string; body: any; prompt: string; index: number; seen: number }) => Record<string, unknown> | undefined
  /**
   * Which agent the anthropic router's routing requests (the Agent tool of the claude-code and
   * template styles, the classifier's `route` tool) get: a name, 'none' for no delegation, or
   * undefined for the word-overlap rule. `agents` is the catalogue the request lists; `seen`
   * counts this exact body before (a repeat of a prompt with the same catalogue sends the same
   * body), and in a batch the submissions of its custom_id before.
   */
  route?: (info: { prompt: string; agents: AgentEntry[]; index: number; seen: number }) => string | undefined
  /**
   * Rate limits as the Messages API enforces them: token buckets checked as a message request
   * arrives, every reply carrying `anthropic-ratelimit-*` headers, and a request that does not
   * fit answered at once with 429 and a `retry-after` saying when it would.
   */
  rateLimits?: RateLimits
  /**
   * Keep every request in `requests` (default true). The benchmarks' server turns it off: 3,200
   * parsed 17 kB bodies kept alive cost its garbage collector a third of its CPU, and a server
   * busy collecting answers late, which the harness benchmark would charge to the client.
   */
  keepRequests?: boolean
  /** output tokens every reply's usage reports (default 20); a test comparing a dry run's price with what was paid sets the router's own estimate */
  outputTokens?: number
}

export type BatchOptions = {
  /** polls of a batch answered "in_progress" before it ends (default 1: the first poll sees it processing, the next one ended) */
  pollsToEnd?: number
  /**
   * What becomes of one request of a batch: undefined answers it by the usual rules; `submission`
   * counts the batches that held this custom_id before (0 the first time).
   */
  outcome?: (info: { customId: string; prompt: string; submission: number }) => BatchOutcome | undefined
  /** the id of the n-th batch created, from 1 (default msgbatch_test0001, …) */
  id?: (n: number) => string
  /** a fault for a call to the batch endpoints themselves (`call` counts that kind of call, from 0) */
  fault?: (info: { what: BatchCall; call: number }) => 'rate_limit' | 'server_error' | 'unauthorized' | undefined
  /**
   * Holds a create call once its body is read, until the promise settles: 'create' then makes the
   * batch whether or not the client is still there (the API makes it once it has the body),
   * 'discard' makes none, 'create-then-drop' makes it and cuts the connection without a reply (a
   * gateway failing after the API took the upload). `call` counts create calls, from 0. For
   * killing a client mid-upload.
   */
  holdCreate?: (info: { call: number; body: any }) => Promise<'create' | 'discard' | 'create-then-drop'> | undefined
  /** true drops a create call's connection as it arrives, before its body is read: nothing reaches the API (counted as the fault `create_dropped`) */
  dropCreate?: (call: number) => boolean
  /** the most batches a page of the list holds (default 1000, the API's most; a request's `limit` defaults to 20) */
  listPageMax?: number
}

export type BatchCall = 'create' | 'list' | 'retrieve' | 'results'

/** errored: an api_error (worth a resubmission); invalid: an invalid_request_error (not) */
export type BatchOutcome = 'errored' | 'invalid' | 'expired' | 'canceled'

/** A batch the server holds. Kept across reset(), as the API keeps batches whatever the client does. */
export type StoredBatch = {
  id: string
  requests: { custom_id: string; params: any }[]
  /** arrival index of the create request */
  createdBy: number
  /** when it was made (epoch ms): its created_at, the list's order */
  createdAt: number
  polls: number
  /** the results lines, once ended, in the order they are served (not the requests' order) */
  results?: { custom_id: string; result: any }[]
  /** results downloads */
  downloads: number
}

/** The Message Batches API's limits on one batch. */
const BATCH_MAX_REQUESTS = 100_000
const BATCH_MAX_BYTES = 256 * 1024 * 1024
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/
/** A batch's messages are numbered from here, apart from the live requests' arrival order. */
const BATCH_MESSAGE_INDEX = 900_000

/**
 * Token buckets, each holding `limit` and refilling continuously at `perSecond` (the API's are a
 * minute's worth: limit = 60 × perSecond). A request costs 1 request, its input tokens (the
 * prompt cache's reads excluded, as the API counts them) and its output tokens.
 */
export type RateLimits = {
  requests?: BucketSpec
  inputTokens?: BucketSpec
  outputTokens?: BucketSpec
}
export type BucketSpec = { limit: number; perSecond: number }

/**
 * A reply to Claude Code: delegate (`subagent` undefined leaves subagent_type out, which Claude
 * Code reads as general-purpose), call another tool, or answer in text.
 */
export type EngineReply =
  | { kind: 'agent'; subagent?: string; description?: string }
  | { kind: 'tool'; name: string; input: Record<string, unknown> }
  | { kind: 'text'; text?: string }

/** What a Claude Code routing request held. */
export type EngineRequest = {
  /** characters of all system blocks */
  systemChars: number
  tools: string[]
  /** the agent listing of the system-reminder, custom agents and built-ins alike */
  agents: AgentEntry[]
  /** the user's prompt: the last text block of the last user message */
  prompt: string
  /** what the server answered (set once decided; absent when a fault came first) */
  reply?: EngineReply
}

export type ReceivedRequest = {
  /** arrival order, from 0 */
  index: number
  headers: Record<string, string | string[] | undefined>
  /** the parsed JSON body (the raw text when it is not JSON) */
  body: any
  /** text of the last user message ('' when there is none) */
  prompt: string
  /** the fault injected into this request, if any */
  fault?: Fault
  method: string
  /** the URL path, e.g. /v1/messages, /v1/messages/count_tokens, /api/hello */
  path: string
  /** the query string's parameters (the batch list's limit, after_id, before_id) */
  query: Record<string, string>
  /** set on Claude Code's routing requests (those listing agents in a system-reminder) */
  engine?: EngineRequest
  /** the content and usage sent back, when a message was sent */
  sent?: { content: ContentBlock[]; usage: ApiUsage; streamed: boolean }
}

/** A token bucket, full at the start. */
class TokenBucket {
  private level: number
  private at: number
  constructor(readonly spec: BucketSpec) {
    this.level = spec.limit
    this.at = performance.now()
  }
  private refill(now: number): void {
    this.level = Math.min(this.spec.limit, this.level + ((now - this.at) / 1000) * this.spec.perSecond)
    this.at = now
  }
  /** ms until `cost` fits (0: it fits now) */
  waitFor(cost: number, now: number): number {
    this.refill(now)
    return this.level >= cost ? 0 : ((cost - this.level) / this.spec.perSecond) * 1000
  }
  take(cost: number): void {
    this.level -= cost
  }
  /** the API's three headers for this bucket */
  headers(name: string, now: number): Record<string, string> {
    this.refill(now)
    const full = ((this.spec.limit - this.level) / this.spec.perSecond) * 1000
    return {
      [`anthropic-ratelimit-${name}-limit`]: String(this.spec.limit),
      [`anthropic-ratelimit-${name}-remaining`]: String(Math.max(0, Math.floor(this.level))),
      [`anthropic-ratelimit-${name}-reset`]: new Date(Date.now() + full).toISOString(),
    }
  }
}

export type MessagesServer = {
  /** e.g. http://127.0.0.1:41234, for `new Anthropic({ baseURL })` */
  url: string
  /** every request received, faulted ones included, in arrival order */
  requests: ReceivedRequest[]
  /** every batch created, in order (kept across reset()) */
  batches: StoredBatch[]
  /** closes the server and every open connection; safe to call twice */
  close(): Promise<void>
  /** forgets requests, counts, seen bodies and the prompt cache */
  reset(): void
  counts(): { requests: number; faults: Record<string, number> }
  /** requests turned away by the rate limits, the most in flight at once, and what the admitted requests cost each bucket */
  traffic(): { rateLimited: number; peakInFlight: number; admitted: Record<'requests' | 'input-tokens' | 'output-tokens', number> }
}

export type AgentEntry = { name: string; description: string }

/** A reply's usage, as the API reports it. */
export type ApiUsage = {
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens: number
  cache_read_input_tokens: number
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number }
}

const MODEL_OUTPUT_TOKENS = 20

/** Starts the server on 127.0.0.1, on a free port. */
export async function startMessagesServer(opts: ServerOptions = {}): Promise<MessagesServer> {
  const delayMs = opts.delayMs ?? 0
  const slowMs = opts.slowMs ?? 5000
  const outputTokens = opts.outputTokens ?? MODEL_OUTPUT_TOKENS
  const retryAfter = opts.retryAfter ?? '0'
  const models = opts.models ? new Set(opts.models) : undefined

  const requests: ReceivedRequest[] = []
  let faults: Record<string, number> = {}
  const buckets = {
    requests: opts.rateLimits?.requests && new TokenBucket(opts.rateLimits.requests),
    'input-tokens': opts.rateLimits?.inputTokens && new TokenBucket(opts.rateLimits.inputTokens),
    'output-tokens': opts.rateLimits?.outputTokens && new TokenBucket(opts.rateLimits.outputTokens),
  }
  let rateLimited = 0
  let admitted = { requests: 0, 'input-tokens': 0, 'output-tokens': 0 }
  let inFlight = 0
  let peakInFlight = 0
  let seenBodies = new Map<string, number>()
  let cachedPrefixes = new Set<string>()
  let nextIndex = 0
  let received = 0
  const keepRequests = opts.keepRequests ?? true
  // `seen` is only read by the callbacks that decide faults and replies; hashing every body is skipped without them.
  const tracksSeen = opts.fault !== undefined || opts.engine !== undefined || opts.tool !== undefined || opts.route !== undefined
  const pending = new Set<AbortController>()
  const batches: StoredBatch[] = []
  const submissions = new Map<string, number>()
  const batchCalls: Record<BatchCall, number> = { create: 0, list: 0, retrieve: 0, results: 0 }
  let createArrivals = 0
  let createCalls = 0
  let batchMessages = 0

  const server = http.createServer((req, res) => {
    const arrived = performance.now()
    peakInFlight = Math.max(peakInFlight, ++inFlight)
    res.once('close', () => inFlight--)
    if (req.method === 'POST' && req.url === '/v1/messages/batches' && opts.batch?.dropCreate?.(createArrivals++)) {
      faults.create_dropped = (faults.create_dropped ?? 0) + 1
      req.socket.destroy()
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const aborter = new AbortController()
      pending.add(aborter)
      res.on('close', () => {
        pending.delete(aborter)
        // Only a reply cut short has work to cancel (aborting creates a DOMException: not for every request).
        if (!res.writableFinished) aborter.abort()
      })
      handle(req, res, raw, aborter.signal, arrived).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          sendError(res, 500, 'api_error', `test server failure: ${String(error)}`, 'req_test_failure')
        }
      })
    })
  })

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string, signal: AbortSignal, arrived: number): Promise<void> {
    const index = nextIndex++
    received++
    const requestId = `req_test${String(index).padStart(6, '0')}`
    let body: any = raw
    let parsed = true
    try {
      body = JSON.parse(raw)
    } catch {
      parsed = false
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    const engine = parsed ? readEngineRequest(body) : undefined
    const prompt = engine ? engine.prompt : parsed ? extractPrompt(body) : ''
    const record: ReceivedRequest = { index, headers: { ...req.headers }, body, prompt, method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), ...(engine ? { engine } : {}) }
    if (keepRequests) requests.push(record)
    let seen = 0
    if (tracksSeen) {
      const bodyKey = createHash('sha256').update(raw).digest('hex')
      seen = seenBodies.get(bodyKey) ?? 0
      seenBodies.set(bodyKey, seen + 1)
    }

    // Rate limits are checked as a message request arrives; the reply carries the buckets as they were then.
    const limitHeaders: Record<string, string> = {}
    if (opts.rateLimits && req.method === 'POST' && url.pathname === '/v1/messages' && parsed && isObject(body)) {
      const cost = { requests: 1, 'input-tokens': inputCost(body), 'output-tokens': outputTokens }
      const wait = Math.max(...Object.entries(buckets).map(([name, b]) => b?.waitFor(cost[name as keyof typeof cost], arrived) ?? 0))
      if (wait === 0) {
        for (const [name, b] of Object.entries(buckets)) b?.take(cost[name as keyof typeof cost])
        for (const name of Object.keys(admitted) as (keyof typeof admitted)[]) admitted[name] += cost[name]
      }
      for (const [name, b] of Object.entries(buckets)) if (b) Object.assign(limitHeaders, b.headers(name, arrived))
      for (const [k, v] of Object.entries(limitHeaders)) res.setHeader(k, v)
      if (wait > 0) {
        rateLimited++
        record.fault = 'rate_limit'
        return sendError(res, 429, 'rate_limit_error', 'This request would exceed your rate limit (test server)', requestId, { 'retry-after': (wait / 1000).toFixed(3) })
      }
    }

    // The delay counts from the request's arrival, so the server's own work is inside it, not on top.
    if (delayMs > 0 && !(await sleep(Math.max(0, delayMs - (performance.now() - arrived)), signal))) return

    // Claude Code's connectivity check (sent when non-essential traffic is on).
    if (url.pathname === '/api/hello') return sendJson(res, 200, {}, requestId)
    if (url.pathname === '/v1/messages/batches' || url.pathname.startsWith('/v1/messages/batches/')) return handleBatch(req, res, url, parsed ? body : undefined, raw, requestId, index)
    const countTokens = req.method === 'POST' && url.pathname === '/v1/messages/count_tokens'
    if (req.method !== 'POST' || (url.pathname !== '/v1/messages' && !countTokens)) {
      return sendError(res, 404, 'not_found_error', `${req.method ?? 'GET'} ${url.pathname} is not served by the test server`, requestId)
    }
    if (!req.headers['x-api-key'] && !req.headers.authorization) {
      return sendError(res, 401, 'authentication_error', 'x-api-key header is required', requestId)
    }
    if (!parsed || !isObject(body)) {
      return sendError(res, 400, 'invalid_request_error', 'request body is not valid JSON', requestId)
    }
    if (countTokens) return sendJson(res, 200, { input_tokens: tokens(raw) }, requestId)
    const invalid = validate(body)
    if (invalid) return sendError(res, 400, 'invalid_request_error', invalid, requestId)
    const refused = refusal(body)
    if (refused) return sendError(res, refused.status, refused.type, refused.message, requestId)
    const fault = opts.fault?.({ prompt, seen, index })
    if (fault) {
      record.fault = fault
      faults[fault] = (faults[fault] ?? 0) + 1
    }
    switch (fault) {
      case 'rate_limit':
        return sendError(res, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit (test server)', requestId, {
          'retry-after': retryAfter,
        })
      case 'server_error':
        return sendError(res, 500, 'api_error', 'Internal server error (test server)', requestId)
      case 'overloaded':
        return sendError(res, 529, 'overloaded_error', 'Overloaded (test server)', requestId)
      case 'drop':
        req.socket.destroy()
        return
      case 'slow':
        if (!(await sleep(slowMs, signal))) return
        break
      default:
        break
    }
    if (res.destroyed || req.socket.destroyed) return

    const { content, message } = compose(body, prompt, engine, fault, index, seen)
    record.sent = { content, usage: message.usage, streamed: body.stream === true }
    if (body.stream === true) sendSse(res, message, requestId, fault === 'stream_cut')
    else sendJson(res, 200, message, requestId)
  }

  function handleBatch(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: any, raw: string, requestId: string, index: number): void {
    if (!req.headers['x-api-key'] && !req.headers.authorization) return sendError(res, 401, 'authentication_error', 'x-api-key header is required', requestId)
    const [, id, tail] = /^\/v1\/messages\/batches(?:\/([^/]+))?(?:\/(results))?$/.exec(url.pathname) ?? []
    const what: BatchCall | undefined = req.method === 'POST' && id === undefined ? 'create' : req.method === 'GET' ? (id === undefined ? 'list' : tail ? 'results' : 'retrieve') : undefined
    if (!what) return sendError(res, 404, 'not_found_error', `${req.method ?? 'GET'} ${url.pathname} is not served by the test server`, requestId)
    const fault = opts.batch?.fault?.({ what, call: batchCalls[what]++ })
    if (fault === 'rate_limit') return sendError(res, 429, 'rate_limit_error', 'Rate limited (test server)', requestId, { 'retry-after': retryAfter })
    if (fault === 'server_error') return sendError(res, 500, 'api_error', 'Internal server error (test server)', requestId)
    if (fault === 'unauthorized') return sendError(res, 401, 'authentication_error', 'invalid x-api-key (test server)', requestId)
    if (what === 'create') {
      if (Buffer.byteLength(raw) > BATCH_MAX_BYTES) return sendError(res, 413, 'request_too_large', `the batch is larger than ${BATCH_MAX_BYTES} bytes`, requestId)
      const problem = checkBatch(body)
      if (problem) return sendError(res, 400, 'invalid_request_error', problem, requestId)
      const make = () => {
        const n = batches.length + 1
        const batch: StoredBatch = { id: opts.batch?.id?.(n) ?? `msgbatch_test${String(n).padStart(4, '0')}`, requests: body.requests, createdBy: index, createdAt: Date.now(), polls: 0, downloads: 0 }
        batches.push(batch)
        return batch
      }
      const held = opts.batch?.holdCreate?.({ call: createCalls++, body })
      if (!held) return sendJson(res, 200, batchJson(make()), requestId)
      void held.then((verdict) => {
        const batch = verdict === 'discard' ? undefined : make()
        if (verdict === 'create-then-drop') return void req.socket.destroy()
        if (res.destroyed || res.writableEnded) return
        if (batch) sendJson(res, 200, batchJson(batch), requestId)
        else sendError(res, 500, 'api_error', 'the batch was not created (test server)', requestId)
      })
      return
    }
    if (what === 'list') return sendJson(res, 200, listPage(url.searchParams), requestId)
    const batch = batches.find((b) => b.id === id)
    if (!batch) return sendError(res, 404, 'not_found_error', `no batch ${id}`, requestId)
    if (what === 'retrieve') {
      batch.polls++
      if (batch.polls > (opts.batch?.pollsToEnd ?? 1) && !batch.results) batch.results = processBatch(batch)
      return sendJson(res, 200, batchJson(batch), requestId)
    }
    if (!batch.results) return sendError(res, 404, 'not_found_error', `batch ${id} has not ended`, requestId)
    batch.downloads++
    const text = batch.results.map((line) => `${JSON.stringify(line)}\n`).join('')
    res.writeHead(200, { 'content-type': 'application/binary', 'content-length': String(Buffer.byteLength(text)), 'request-id': requestId })
    res.end(text)
  }

  /** Processes a batch: each request answered as a live one would be, then the lines shuffled (the API promises no order). */
  function processBatch(batch: StoredBatch): NonNullable<StoredBatch['results']> {
    const lines = batch.requests.map(({ custom_id, params }) => {
      const submission = submissions.get(custom_id) ?? 0
      submissions.set(custom_id, submission + 1)
      const engine = readEngineRequest(params)
      const prompt = engine ? engine.prompt : extractPrompt(params)
      const outcome = opts.batch?.outcome?.({ customId: custom_id, prompt, submission })
      const index = BATCH_MESSAGE_INDEX + batchMessages++
      // What a live request would be refused for, a batch's request errors with.
      const refused = refusal(params)
      if (refused) return { custom_id, result: { type: 'errored', error: { type: 'error', error: { type: refused.type, message: refused.message }, request_id: `req_test${index}` } } }
      if (outcome === 'expired' || outcome === 'canceled') return { custom_id, result: { type: outcome } }
      if (outcome === 'errored' || outcome === 'invalid') {
        const error = outcome === 'errored' ? { type: 'api_error', message: 'Internal server error (test server)' } : { type: 'invalid_request_error', message: 'messages: invalid (test server)' }
        return { custom_id, result: { type: 'errored', error: { type: 'error', error, request_id: `req_test${index}` } } }
      }
      const { message } = compose(params, prompt, engine, undefined, index, submission)
      return { custom_id, result: { type: 'succeeded', message } }
    })
    const order = (id: string) => createHash('sha256').update(id).digest('hex')
    return lines.sort((a, b) => (order(a.custom_id) < order(b.custom_id) ? -1 : 1))
  }

  /**
   * A page of the list, as the API serves it: newest first; `after_id` (the previous page's
   * last_id) for older batches, `before_id` (its first_id) for newer ones, the `limit` (1–1000,
   * default 20; at most `listPageMax` here) nearest to the cursor; has_more in that direction.
   */
  function listPage(query: URLSearchParams) {
    const newestFirst = [...batches].sort((a, b) => b.createdAt - a.createdAt || b.createdBy - a.createdBy)
    const limit = Math.min(Math.max(1, Number(query.get('limit') ?? 20) || 20), 1000, opts.batch?.listPageMax ?? 1000)
    const after = query.get('after_id')
    const before = query.get('before_id')
    let page: StoredBatch[]
    let hasMore: boolean
    if (before !== null) {
      const at = newestFirst.findIndex((b) => b.id === before)
      const newer = newestFirst.slice(0, Math.max(0, at))
      page = newer.slice(-limit)
      hasMore = newer.length > limit
    } else {
      const at = after === null ? -1 : newestFirst.findIndex((b) => b.id === after)
      const older = after !== null && at === -1 ? [] : newestFirst.slice(at + 1)
      page = older.slice(0, limit)
      hasMore = older.length > limit
    }
    return { data: page.map(batchJson), has_more: hasMore, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null }
  }

  function batchJson(batch: StoredBatch) {
    const counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 }
    if (!batch.results) counts.processing = batch.requests.length
    else for (const { result } of batch.results) counts[result.type as keyof typeof counts]++
    const created = new Date(batch.createdAt)
    return {
      id: batch.id,
      type: 'message_batch',
      processing_status: batch.results ? 'ended' : 'in_progress',
      request_counts: counts,
      created_at: created.toISOString(),
      ended_at: batch.results ? new Date(created.getTime() + 60_000 * batch.polls).toISOString() : null,
      expires_at: new Date(created.getTime() + 24 * 3600_000).toISOString(),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: batch.results ? `${url}/v1/messages/batches/${batch.id}/results` : null,
    }
  }

  /** The Message Batches API's checks on a create request. */
  function checkBatch(body: any): string | undefined {
    if (!isObject(body) || !Array.isArray(body.requests) || body.requests.length === 0) return 'requests: at least one request is required'
    if (body.requests.length > BATCH_MAX_REQUESTS) return `requests: at most ${BATCH_MAX_REQUESTS} requests`
    const ids = new Set<string>()
    for (const [i, r] of body.requests.entries()) {
      if (!isObject(r) || typeof r.custom_id !== 'string' || !CUSTOM_ID.test(r.custom_id)) return `requests.${i}.custom_id: must match ${CUSTOM_ID}`
      if (ids.has(r.custom_id)) return `requests.${i}.custom_id: ${r.custom_id} is not unique in the batch`
      ids.add(r.custom_id)
      if (!isObject(r.params)) return `requests.${i}.params: Field required`
      if (r.params.stream !== undefined) return `requests.${i}.params.stream: a batch request cannot stream`
      const invalid = validate(r.params)
      if (invalid) return `requests.${i}.params.${invalid}`
    }
    return undefined
  }

  /** A well-formed request the API still refuses: an unknown model, or a forced tool with a model that thinks by default. */
  function refusal(body: Record<string, any>): { status: number; type: string; message: string } | undefined {
    if (models && !models.has(body.model)) return { status: 404, type: 'not_found_error', message: `model: ${String(body.model)}` }
    if (THINKS_BY_DEFAULT.test(String(body.model)) && isObject(body.tool_choice) && (body.tool_choice.type === 'tool' || body.tool_choice.type === 'any')) {
      return { status: 400, type: 'invalid_request_error', message: 'tool_choice: forcing tool use is not supported with thinking; use tool_choice auto' }
    }
    return undefined
  }

  /** The reply to one Messages request, by the rules above: shared by live requests and a batch's. */
  function compose(body: Record<string, any>, prompt: string, engine: EngineRequest | undefined, fault: Fault | undefined, index: number, seen: number) {
    let content: ContentBlock[]
    if (engine) {
      const contentFault = fault === 'no_tool_call' || fault === 'bad_tool_input' || fault === 'unknown_agent'
      const reply = (contentFault ? undefined : opts.engine?.({ prompt, agents: engine.agents, index, seen })) ?? engineRule(prompt, engine.agents, fault)
      engine.reply = reply
      content = engineContent(reply, prompt, index)
    } else if (opts.tool && draftTool(body) !== undefined) {
      const name = draftTool(body)!
      const input = opts.tool({ name, body, prompt, index, seen })
      content = input === undefined ? [{ type: 'text', text: 'No tool call this time.' }] : [{ type: 'tool_use', id: `toolu_test${String(index).padStart(6, '0')}`, name, input }]
    } else content = answer(body, prompt, fault, index, opts.route && ((agents) => opts.route!({ prompt, agents, index, seen })))
    const message = {
      id: `msg_test${String(index).padStart(6, '0')}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: content.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: usage(body),
    }
    return { content, message }
  }

  /** Input tokens as the rate limit counts them: all but what the prompt cache already holds. */
  function inputCost(body: Record<string, any>): number {
    const prefix = cachedPrefixOf(body)
    const rest = tokens(JSON.stringify(body.messages))
    return isCacheable(body) && cachedPrefixes.has(`${String(body.model)}\n${prefix}`) ? rest : tokens(prefix) + rest
  }

  function usage(body: Record<string, any>): ApiUsage {
    const prefix = cachedPrefixOf(body)
    const rest = JSON.stringify(body.messages)
    const usage = { input_tokens: 0, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
    if (isCacheable(body)) {
      const key = `${String(body.model)}\n${prefix}`
      if (cachedPrefixes.has(key)) usage.cache_read_input_tokens = tokens(prefix)
      else {
        cachedPrefixes.add(key)
        usage.cache_creation_input_tokens = tokens(prefix)
      }
      usage.input_tokens = tokens(rest)
    } else {
      usage.input_tokens = tokens(prefix) + tokens(rest)
    }
    // As the API does: the cache writes split by lifetime (a breakpoint asking for ttl "1h", or the default 5 minutes).
    const hour = prefix.includes('"ttl":"1h"') || JSON.stringify(body.messages).includes('"ttl":"1h"') || JSON.stringify(body.cache_control ?? null).includes('"ttl":"1h"')
    return { ...usage, cache_creation: { ephemeral_5m_input_tokens: hour ? 0 : usage.cache_creation_input_tokens, ephemeral_1h_input_tokens: hour ? usage.cache_creation_input_tokens : 0 } }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`

  let closing: Promise<void> | undefined
  return {
    url,
    requests,
    batches,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const aborter of pending) aborter.abort()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
    reset() {
      requests.length = 0
      received = 0
      faults = {}
      seenBodies = new Map()
      cachedPrefixes = new Set()
      nextIndex = 0
      rateLimited = 0
      admitted = { requests: 0, 'input-tokens': 0, 'output-tokens': 0 }
      peakInFlight = inFlight
    },
    counts() {
      return { requests: received, faults: { ...faults } }
    },
    traffic() {
      return { rateLimited, peakInFlight, admitted: { ...admitted } }
    },
  }
}

/**
 * A fault picker that fails `rate` of first attempts (seen === 0) deterministically by prompt
 * hash, cycling through `kinds` (the kind is also picked by the hash, so it does not depend on
 * arrival order). Retries of the same body (seen > 0) never fail.
 */
export function faultOnFirstAttempt(rate: number, kinds: Fault[]): ServerOptions['fault'] {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`rate must be in [0, 1], got ${rate}`)
  return ({ prompt, seen }) => {
    if (seen > 0 || kinds.length === 0) return undefined
    const digest = createHash('sha256').update(prompt).digest()
    const unit = digest.readUInt32BE(0) / 2 ** 32
    if (unit >= rate) return undefined
    return kinds[digest.readUInt32BE(4) % kinds.length]
  }
}

// ---------------------------------------------------------------------------------------------
// Request reading

type Style = 'claude-code' | 'classifier' | 'plain'

type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function validate(body: Record<string, any>): string | undefined {
  if (typeof body.model !== 'string' || body.model === '') return 'model: Field required'
  if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required'
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: at least one message is required'
  return undefined
}

/** Text of a string or an array of text blocks. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .filter((block): block is { type: 'text'; text: string } => isObject(block) && block.type === 'text' && typeof block.text === 'string')
    .map((block) => block.text)
    .join('\n')
}

/** The text of the last user message. */
export function extractPrompt(body: unknown): string {
  if (!isObject(body) || !Array.isArray(body.messages)) return ''
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const message: unknown = body.messages[i]
    if (isObject(message) && message.role === 'user') return textOf(message.content)
  }
  return ''
}

function findTool(body: Record<string, any>, name: string): Record<string, any> | undefined {
  if (!Array.isArray(body.tools)) return undefined
  return body.tools.find((tool: unknown) => isObject(tool) && tool.name === name)
}

/** The drafting tool a request offers: its only tool, when that is neither the Agent tool nor `route`. */
function draftTool(body: Record<string, any>): string | undefined {
  const tools = Array.isArray(body.tools) ? body.tools : []
  const name: unknown = tools.length === 1 && isObject(tools[0]) ? tools[0].name : undefined
  return typeof name === 'string' && name !== 'route' && name !== 'Agent' ? name : undefined
}

/** Models that think by default refuse a forced tool choice, as Claude Sonnet 5.5 does. */
const THINKS_BY_DEFAULT = /^claude-(sonnet-5|opus-5|fable-5|mythos-5)/

function styleOf(body: Record<string, any>): Style {
  if (isObject(body.tool_choice) && body.tool_choice.type === 'none') return 'plain'
  if (findTool(body, 'route')) return 'classifier'
  if (findTool(body, 'Agent')) return 'claude-code'
  return 'plain'
}

/** The part of a request the prompt cache holds (tools, then system), as text; worked out once per body. */
const prefixes = new WeakMap<object, string>()
function cachedPrefixOf(body: Record<string, any>): string {
  let prefix = prefixes.get(body)
  if (prefix === undefined) {
    prefix = JSON.stringify(body.tools ?? null) + JSON.stringify(body.system ?? null)
    prefixes.set(body, prefix)
  }
  return prefix
}

function isCacheable(body: Record<string, any>): boolean {
  const marked = (block: unknown) => isObject(block) && block.cache_control != null
  return (
    body.cache_control != null ||
    (Array.isArray(body.tools) && body.tools.some(marked)) ||
    (Array.isArray(body.system) && body.system.some(marked))
  )
}

const ENTRY_START = /^- ([a-z0-9][a-z0-9_-]*):(.*)$/

/**
 * Agent entries in a catalogue text: an entry starts at a line "- NAME: DESCRIPTION" and runs
 * (descriptions may hold newlines) until the next such line or the end of the text. A trailing
 * " (Tools: …)" is part of the entry and is cut from the description.
 */
const parsedLines = new Map<string, AgentEntry[]>()
export function parseAgentLines(text: string): AgentEntry[] {
  const cached = parsedLines.get(text)
  if (cached) return cached
  if (parsedLines.size > 1000) parsedLines.clear()
  const entries = parseAgentLinesUncached(text)
  parsedLines.set(text, entries)
  return entries
}

function parseAgentLinesUncached(text: string): AgentEntry[] {
  return parseAgentEntries(text, ENTRY_START)
}

function parseAgentEntries(text: string, entryStart: RegExp): AgentEntry[] {
  const entries: { name: string; lines: string[] }[] = []
  for (const line of text.split(/\r?\n/)) {
    const start = entryStart.exec(line)
    if (start) entries.push({ name: start[1] ?? '', lines: [(start[2] ?? '').trim()] })
    else entries.at(-1)?.lines.push(line)
  }
  return entries.map(({ name, lines }) => ({
    name,
    description: lines.join('\n').trim().replace(/\s*\(Tools:[^()]*\)\s*$/, ''),
  }))
}

// ---------------------------------------------------------------------------------------------
// Claude Code's own request

const AGENT_LISTING = 'Available agent types for the Agent tool:'
/** Claude Code's names include built-ins such as "Explore" and "Plan". */
const ENGINE_ENTRY_START = /^- ([A-Za-z0-9][A-Za-z0-9_:.-]*):(.*)$/

/** Text blocks of every user message, in order. */
function userTextBlocks(body: Record<string, any>): string[] {
  if (!Array.isArray(body.messages)) return []
  return body.messages
    .filter((m: unknown) => isObject(m) && m.role === 'user')
    .flatMap((m: Record<string, any>) => (typeof m.content === 'string' ? [m.content] : Array.isArray(m.content) ? m.content : []))
    .map((b: unknown) => (typeof b === 'string' ? b : isObject(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : undefined))
    .filter((t: string | undefined): t is string => t !== undefined)
}

/** The listing, prompt and shape of a Claude Code routing request; undefined for any other request. */
export function readEngineRequest(body: unknown): EngineRequest | undefined {
  if (!isObject(body)) return undefined
  const texts = userTextBlocks(body)
  const reminder = texts.findLast((t) => t.includes(AGENT_LISTING))
  if (reminder === undefined) return undefined
  let listing = reminder.slice(reminder.indexOf(AGENT_LISTING) + AGENT_LISTING.length).split('</system-reminder>')[0] ?? ''
  // The listing ends with a paragraph of advice, not an agent.
  const paragraphs = listing.trim().split(/\n\s*\n/)
  if (paragraphs.length > 1 && !paragraphs.at(-1)!.startsWith('- ')) listing = paragraphs.slice(0, -1).join('\n\n')
  const last = body.messages.at(-1)
  const lastTexts = isObject(last) && last.role === 'user' ? userTextBlocks({ messages: [last] }) : []
  const system = typeof body.system === 'string' ? body.system : Array.isArray(body.system) ? body.system.map((b: any) => (typeof b?.text === 'string' ? b.text : '')).join('') : ''
  return {
    systemChars: system.length,
    tools: Array.isArray(body.tools) ? body.tools.map((t: any) => String(t?.name)) : [],
    agents: parseAgentEntries(listing, ENGINE_ENTRY_START),
    prompt: lastTexts.at(-1) ?? '',
  }
}

/** The default answer to Claude Code: the best-matching listed agent, or text when none matches. */
function engineRule(prompt: string, agents: readonly AgentEntry[], fault: Fault | undefined): EngineReply {
  if (fault === 'no_tool_call') return { kind: 'text' }
  if (fault === 'bad_tool_input') return { kind: 'agent' }
  if (fault === 'unknown_agent') return { kind: 'agent', subagent: 'ghost-agent' }
  const ranking = rankAgents(prompt, agents)
  return ranking.agent === 'none' ? { kind: 'text' } : { kind: 'agent', subagent: ranking.agent }
}

function engineContent(reply: EngineReply, prompt: string, index: number): ContentBlock[] {
  const id = `toolu_test${String(index).padStart(6, '0')}`
  switch (reply.kind) {
    case 'text':
      return [{ type: 'text', text: reply.text ?? 'I can help with that directly.' }]
    case 'tool':
      return [{ type: 'tool_use', id, name: reply.name, input: reply.input }]
    case 'agent':
      return [
        { type: 'text', text: 'I will hand this to a subagent.' },
        {
          type: 'tool_use',
          id,
          name: 'Agent',
          input: { ...(reply.subagent !== undefined ? { subagent_type: reply.subagent } : {}), description: reply.description ?? shortDescription(prompt), prompt },
        },
      ]
  }
}

function catalogueOf(body: Record<string, any>, style: Style): AgentEntry[] {
  if (style === 'claude-code') {
    const tool = findTool(body, 'Agent')
    return parseAgentLines(typeof tool?.description === 'string' ? tool.description : '')
  }
  if (style === 'classifier') {
    const described = new Map(parseAgentLines(textOf(body.system)).map((entry) => [entry.name, entry.description]))
    const names: unknown = findTool(body, 'route')?.input_schema?.properties?.agent?.enum
    const list = Array.isArray(names) ? names.filter((name): name is string => typeof name === 'string' && name !== 'none') : [...described.keys()]
    return list.map((name) => ({ name, description: described.get(name) ?? '' }))
  }
  return []
}

// ---------------------------------------------------------------------------------------------
// Answering

const STOP_WORDS = new Set(
  (
    'the and for with this that these those from into onto over under about above after before are was were been being ' +
    'has have had having does did doing not but nor any all each both few more most other some such only own same than ' +
    'too very can will just should could would might must shall may you your yours our ours they them their its his her ' +
    'him she what which who whom why how when where there here then also use used uses using please want need make get'
  ).split(' '),
)

/** Lowercase words [a-z0-9]+ of 3+ characters, stop words removed. */
export function words(text: string): Set<string> {
  const out = new Set<string>()
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    if (word.length >= 3 && !STOP_WORDS.has(word)) out.add(word)
  }
  return out
}

export type Ranking = { agent: string; runnerUp: string; confidence: number; scores: Record<string, number> }

/** The deterministic answer: best agent (or 'none'), runner-up and confidence. */
// Every request of a run carries the same catalogue: tokenise each agent once, so the server's own
// work stays small next to the client's (the harness benchmark measures the client).
const agentWords = new Map<string, Set<string>>()
function wordsOfAgent(name: string, description: string): Set<string> {
  const key = `${name}\u0000${description}`
  let set = agentWords.get(key)
  if (!set) {
    if (agentWords.size > 50_000) agentWords.clear()
    set = words(`${name} ${description}`)
    agentWords.set(key, set)
  }
  return set
}

// parseAgentLines hands out the same entries for the same catalogue: their words are found without rebuilding the key.
const entryWords = new WeakMap<AgentEntry, Set<string>>()

export function rankAgents(prompt: string, agents: readonly AgentEntry[]): Ranking {
  const promptWords = words(prompt)
  const scored = agents.map((entry) => {
    const { name } = entry
    let own = entryWords.get(entry)
    if (!own) entryWords.set(entry, (own = wordsOfAgent(name, entry.description)))
    let score = 0
    for (const word of promptWords) if (own.has(word)) score++
    return { name, score }
  })
  scored.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const scores = Object.fromEntries(scored.map(({ name, score }) => [name, score]))
  const first = scored[0]
  const second = scored[1]
  if (!first || first.score === 0) {
    return { agent: 'none', runnerUp: first?.name ?? 'none', confidence: 0, scores }
  }
  const secondScore = second?.score ?? 0
  return {
    agent: first.name,
    runnerUp: second && second.score > 0 ? second.name : 'none',
    confidence: first.score / (first.score + secondScore + 1),
    scores,
  }
}

function shortDescription(prompt: string): string {
  const head = prompt.trim().split(/\s+/).slice(0, 5).join(' ')
  return head === '' ? 'Handle the request' : head
}

function answer(body: Record<string, any>, prompt: string, fault: Fault | undefined, index: number, pick?: (agents: AgentEntry[]) => string | undefined): ContentBlock[] {
  const style = styleOf(body)
  const toolId = `toolu_test${String(index).padStart(6, '0')}`
  if (style === 'plain' || fault === 'no_tool_call') {
    return [{ type: 'text', text: 'I can help with that directly.' }]
  }
  const toolName = style === 'claude-code' ? 'Agent' : 'route'
  if (fault === 'bad_tool_input') {
    return [{ type: 'tool_use', id: toolId, name: toolName, input: { description: 'x' } }]
  }
  const agents = catalogueOf(body, style)
  const ranking = rankAgents(prompt, agents)
  const agent = fault === 'unknown_agent' ? 'ghost-agent' : (pick?.(agents) ?? ranking.agent)
  if (style === 'classifier') {
    return [{ type: 'tool_use', id: toolId, name: 'route', input: { agent, runnerUp: ranking.runnerUp, confidence: ranking.confidence } }]
  }
  if (agent === 'none') {
    return [{ type: 'text', text: "I'll handle this myself; none of the available agents fits this request." }]
  }
  return [
    {
      type: 'tool_use',
      id: toolId,
      name: 'Agent',
      input: { subagent_type: agent, description: shortDescription(prompt), prompt },
    },
  ]
}

// ---------------------------------------------------------------------------------------------
// Replying

function tokens(text: string): number {
  return Math.ceil(text.length / 4)
}

function sendJson(res: http.ServerResponse, status: number, payload: unknown, requestId: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return
  const text = JSON.stringify(payload)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'request-id': requestId,
    ...headers,
  })
  res.end(text)
}

/**
 * The Messages streaming events for a finished message: message_start, then per block
 * content_block_start / delta(s) / stop (tool input in two input_json_delta pieces, as the API
 * splits it), message_delta with stop_reason and usage, message_stop. `cut` drops the
 * connection after message_start.
 */
function sendSse(res: http.ServerResponse, message: { content: ContentBlock[]; usage: ApiUsage; stop_reason: string } & Record<string, unknown>, requestId: string, cut: boolean): void {
  if (res.destroyed || res.headersSent) return
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': requestId })
  const send = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
  const { content, usage, stop_reason, ...rest } = message
  send('message_start', { message: { ...rest, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } })
  if (cut) {
    res.socket?.destroy()
    return
  }
  content.forEach((block, index) => {
    if (block.type === 'text') {
      send('content_block_start', { index, content_block: { type: 'text', text: '' } })
      send('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } })
    } else {
      send('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } })
      const json = JSON.stringify(block.input)
      const half = Math.floor(json.length / 2)
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } })
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } })
    }
    send('content_block_stop', { index })
  })
  send('message_delta', { delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens ?? 0 } })
  send('message_stop', {})
  res.end()
}

function sendError(res: http.ServerResponse, status: number, type: string, message: string, requestId: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { type: 'error', error: { type, message }, request_id: requestId }, requestId, headers)
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (the client went away, or the server closed). */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(true)
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      resolve(false)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
