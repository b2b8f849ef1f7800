import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { BUILTIN_AGENTS } from '../load/builtin-agents.js'
import type { Catalogue } from '../load/catalogue.js'
import { sha256 } from '../load/catalogue.js'
import { UsageError } from '../load/input-error.js'
import { CHARS_PER_TOKEN } from '../text/tokens.js'
import type { CacheTtl } from '../load/config.js'
import { sdkBatchApi } from './anthropic-batch.js'
import { readUsage } from './anthropic-request.js'
import { classifyError, isMessage, reportErrorRateLimits, reportRateLimits, type AnthropicOptions, type ClientSettings } from './anthropic.js'
import { captureEngineRequest, promptFingerprint, withPrompt, type CapturedRequest } from './claude-code/capture.js'
import { classifyReply, type ReplyBlock } from './claude-code/decision-kind.js'
import { claudeVersion, loadAgentSdk, resolveClaudeBinary, SDK_PACKAGE } from './claude-code/engine.js'
import { captureKey, readCapture, writeCapture, type StoredCapture } from './replay-store.js'
import { RouterError, type Decision, type Router, type Usage } from './router.js'

/**
 * The anthropic router's claude-code style: Claude Code's own routing request, replayed.
 *
 * At the start of a run the engine runs once against a server inside routecheck (no key, no
 * network, no cost; claude-code/capture.ts) and its exact request is stored next to the run
 * journal. Every case is then one Messages API request through the same SDK client, retries,
 * journal, budget and timeouts as the other styles, with the captured headers and body: byte
 * for byte the capture but for the prompt (the last text block), the billing fingerprint Claude
 * Code derives from the prompt, and one prompt-cache breakpoint (withCacheOnSharedPrefix). The
 * reply is streamed, as Claude Code asks for it, and read with the engine's own taxonomy
 * (classifyReply). What it cannot replay: anything Claude Code does after its first request
 * (it never sends one in a routing run), and state the engine would read at routing time rather
 * than at capture time (today's date, the workspace's files): those are as they were captured.
 */

/** Output tokens per request, for estimates: thinking is on in Claude Code's request, then a tool call with a brief. */
const ESTIMATED_OUTPUT_TOKENS = 300

/** Why the replay cannot run here, or undefined when it can: the Agent SDK and a Claude Code binary are needed to capture. */
export async function replayUnavailable(claudeBin: string | undefined, env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  try {
    await loadAgentSdk()
  } catch {
    return `the Claude Agent SDK (${SDK_PACKAGE}) is not installed`
  }
  // A binary named in the config or on the command line is used as given: if it does not run, that is an error, not a fallback.
  if (claudeBin !== undefined) return undefined
  try {
    resolveClaudeBinary(undefined, env as NodeJS.ProcessEnv)
  } catch {
    return `no Claude Code binary was found (not on PATH, none in ${SDK_PACKAGE} for ${process.platform}-${process.arch})`
  }
  return undefined
}

export type ReplayOptions = AnthropicOptions & ClientSettings & { model: string }

export async function createReplayRouter(opts: ReplayOptions): Promise<Router> {
  const env = (opts.env ?? process.env) as NodeJS.ProcessEnv
  const { client, baseURL, model } = opts
  const bin = resolveClaudeBinary(opts.claudeBin, env)
  const version = await claudeVersion(bin)
  const warn = opts.warn ?? (() => undefined)
  if (opts.maxTokens !== undefined || opts.temperature !== undefined) {
    warn(`warning: anthropic.maxTokens and anthropic.temperature apply to the template and classifier styles; the claude-code style sends Claude Code's own settings\n`)
  }

  const pending = new Map<string, Promise<CompiledReplay>>()
  const ready = new WeakMap<Catalogue, CompiledReplay>()
  const replayFor = (catalogue: Catalogue): Promise<CompiledReplay> => {
    const known = ready.get(catalogue)
    if (known) return Promise.resolve(known)
    const key = captureKey(catalogue, { version, model, workspace: opts.workspace })
    const id = JSON.stringify(key)
    let replay = pending.get(id)
    if (!replay) {
      replay = prepare(catalogue, key)
      pending.set(id, replay)
      replay.catch(() => pending.delete(id))
    }
    // Another Catalogue object with the same agents shares the capture.
    return replay.then((r) => {
      ready.set(catalogue, r)
      return r
    })
  }

  async function prepare(catalogue: Catalogue, key: ReturnType<typeof captureKey>): Promise<CompiledReplay> {
    let stored: StoredCapture | undefined
    if (opts.cacheDir !== undefined && !opts.noCache) {
      const found = readCapture(opts.cacheDir, key)
      if (found && 'problem' in found) warn(`warning: ${shown(found.file)}: ${found.problem}; capturing Claude Code's request again\n`)
      else stored = found
    }
    if (stored) {
      warn(`replaying Claude Code ${version}'s request, captured ${stored.created} (${shown(stored.file)})\n`)
      return compileReplay(stored.captured, catalogue)
    }
    const started = performance.now()
    let captured: CapturedRequest
    try {
      captured = await captureEngineRequest(catalogue, { claudeBin: bin, model, ...(opts.workspace !== undefined ? { workspace: opts.workspace } : {}), env: captureEnv(env) })
    } catch (e) {
      throw new UsageError(`could not capture Claude Code ${version}'s routing request (Claude Code runs once against a server inside routecheck): ${(e as Error).message.split('\n')[0]}`)
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    // A dry run stores nothing, as it sends nothing.
    if (opts.cacheDir !== undefined && !opts.dryRun) stored = writeCapture(opts.cacheDir, key, captured)
    warn(`captured Claude Code ${version}'s routing request for ${catalogue.agents.length} agents in ${seconds} s${stored ? `: ${shown(stored.file)}` : ''}\n`)
    return compileReplay(captured, catalogue)
  }

  // The run's catalogue is captured now, so the journal key, --dry-run and the cost estimate have the request.
  const first = opts.catalogue ? await replayFor(opts.catalogue) : undefined
  const readyFor = (catalogue: Catalogue): CompiledReplay => {
    const r = ready.get(catalogue)
    if (!r) throw new Error(`Claude Code's request for this catalogue has not been captured yet (route a case first)`)
    return r
  }

  return {
    id: `anthropic:${model}:claude-code@${version}`,
    deterministic: false,
    picksBuiltins: true,
    // The replayed request itself, minus what differs between two captures on one machine, so a changed
    // request (another Claude Code, another workspace) starts a fresh journal and a re-capture does not.
    cacheKey: `anthropic ${JSON.stringify({ model, style: 'claude-code', claudeCode: version, request: first?.hash ?? null })}`,
    pricedModel: model,
    preview: (prompt, catalogue) => {
      const r = readyFor(catalogue)
      return { url: r.url, headers: r.headers, body: r.body(prompt) }
    },
    estimate: (prompt, catalogue) => ({
      prefixTokens: Math.ceil(readyFor(catalogue).sharedChars / CHARS_PER_TOKEN),
      promptTokens: Math.ceil(JSON.stringify(prompt).length / CHARS_PER_TOKEN),
      outputTokens: ESTIMATED_OUTPUT_TOKENS,
    }),
    batch: {
      api: sdkBatchApi(client, {
        timeoutMs: opts.timeoutMs,
        // The beta features the captured request asks for apply to a batch as a whole; the session's other headers describe a live session.
        headers: Object.fromEntries(Object.entries(first?.headers ?? {}).filter(([name]) => BATCH_HEADERS.has(name.toLowerCase()))),
        classify: (e) => classifyError(e, model, baseURL),
        where: baseURL ?? 'api.anthropic.com',
      }),
      params: (prompt, catalogue, cacheTtl) => readyFor(catalogue).batchBody(prompt, cacheTtl),
      bytes: (prompt, catalogue) => readyFor(catalogue).batchBytes(prompt),
      read(message, catalogue) {
        if (!isMessage(message)) throw new RouterError('bad_output', 'the batch result holds no message content')
        const r = readyFor(catalogue)
        const { agent, kind, tool } = classifyReply(message.content as unknown as ReplyBlock[], r.custom, r.builtins)
        return { agent, kind, ...(tool !== undefined ? { tool } : {}), usage: readUsage(message.usage) }
      },
    },
    async route(prompt, catalogue, signal, feedback): Promise<Decision> {
      const started = performance.now()
      let r: CompiledReplay
      try {
        r = await replayFor(catalogue)
      } catch (e) {
        throw new RouterError('bad_request', (e as Error).message, { fatal: true })
      }
      try {
        // The SDK's own post, streamed as captured: same client, errors and timeouts as the other styles.
        const request = client.post<AsyncIterable<unknown>>(r.url, { body: r.bodyBytes(prompt), headers: r.headers, stream: true, signal })
        let events: AsyncIterable<unknown>
        if (feedback) {
          const { data, response } = await request.withResponse()
          reportRateLimits(feedback, response.headers)
          events = data
        } else events = await request
        const reply = await readReplyStream(events)
        const { agent, kind, tool } = classifyReply(reply.blocks, r.custom, r.builtins)
        return { agent, kind, ...(tool !== undefined ? { tool } : {}), usage: reply.usage, latencyMs: performance.now() - started }
      } catch (e) {
        if (e instanceof SyntaxError) throw new RouterError('server', `the reply stream held an event that is not JSON: ${e.message}`)
        if (feedback) reportErrorRateLimits(feedback, e)
        throw classifyError(e, model, baseURL)
      }
    },
  }
}

/** Captured headers a batch carries: those that change what the API does with the requests. */
const BATCH_HEADERS = new Set(['anthropic-beta', 'anthropic-version'])

/** A path as the user would type it: relative to the working folder when inside it. */
function shown(file: string): string {
  const rel = path.relative(process.cwd(), file)
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel
}

/** The capture talks to a server inside this process: a proxy in the caller's environment must not carry it elsewhere. */
function captureEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env)) if (!/^(https?_proxy|all_proxy)$/i.test(k)) out[k] = v
  return out
}

// ---------------------------------------------------------------------------------------------
// The request

export type CompiledReplay = {
  version: string
  /** path and query, as captured (e.g. /v1/messages?beta=true) */
  url: string
  /** as captured: no credentials, no per-connection headers (the client adds its key) */
  headers: Record<string, string>
  /** the request body for a prompt, as JSON text */
  bodyText(prompt: string): string
  /** the same, as the UTF-8 bytes sent */
  bodyBytes(prompt: string): Buffer
  /** the same body, parsed (for --dry-run) */
  body(prompt: string): Record<string, unknown>
  /** characters of JSON every case shares (all but the prompt) */
  sharedChars: number
  /** sha256 of the request without what differs between two captures on one machine */
  hash: string
  custom: ReadonlySet<string>
  /** Claude Code's own agents, as its listing names them (the engine router reads them from the engine) */
  builtins: readonly string[]
  /**
   * The body as one request of a Message Batch: not streamed (a batch cannot stream), every
   * breakpoint cached for `cacheTtl`. Built from one parsed template per lifetime: only the
   * prompt's and the fingerprint's parts are new objects, the ~100 KB rest is shared, so a batch
   * of thousands of cases holds the capture once.
   */
  batchBody(prompt: string, cacheTtl: CacheTtl): Record<string, unknown>
  /** an upper bound of batchBody's size as JSON, in bytes */
  batchBytes(prompt: string): number
}

type Block = { type: string; text?: string; cache_control?: unknown; [k: string]: unknown }
type Body = { system?: Block[]; tools?: Block[]; messages?: { role: string; content: unknown }[]; [k: string]: unknown }

/** The API's limit on cache_control breakpoints per request. */
const MAX_BREAKPOINTS = 4

/**
 * The one deliberate difference from Claude Code's request: where the prompt cache is told to
 * stop. Claude Code marks the prompt block itself (so the next turn of its session reads the
 * whole first turn from the cache); the shared part then ends at system[2], and the ~25 KB of
 * system-reminders before the prompt (the agent listing among them) are paid for by every case,
 * and written to a cache entry no later case can read. A replay routes many prompts after the
 * same reminders, so the breakpoint goes on the block just before the prompt (the last
 * reminder): the first case writes system + tools + reminders once, every later case reads
 * them. The model sees the same text either way; only the bill changes. At most 4 breakpoints
 * are allowed: should the capture already hold 4, the earliest go (a later breakpoint caches
 * all that comes before it).
 */
export function withCacheOnSharedPrefix(captured: Record<string, unknown>): Record<string, unknown> {
  const body = structuredClone(captured) as Body
  const last = body.messages?.at(-1)
  const content = Array.isArray(last?.content) ? (last.content as Block[]) : undefined
  const promptAt = content ? content.findLastIndex((b) => b.type === 'text') : -1
  if (!content || promptAt < 1) return body
  const prompt = content[promptAt]!
  const marker = prompt.cache_control ?? { type: 'ephemeral' }
  delete prompt.cache_control
  content[promptAt - 1]!.cache_control = marker
  // In prompt-cache order: tools, system, messages.
  const marked = [...(body.tools ?? []), ...(body.system ?? []), ...(body.messages ?? []).flatMap((m) => (Array.isArray(m.content) ? (m.content as Block[]) : []))].filter(
    (b) => b.cache_control !== undefined,
  )
  for (const b of marked.slice(0, Math.max(0, marked.length - MAX_BREAKPOINTS))) delete b.cache_control
  return body
}

/**
 * The body as JSON text with two slots: the prompt, and the billing fingerprint derived from
 * it. A run builds each case's 100 KB body by joining strings, not by cloning and serialising
 * the capture per case; a self-check at compile time proves the join equals withPrompt.
 */
export function compileReplay(captured: CapturedRequest, catalogue: Catalogue): CompiledReplay {
  const { version } = captured
  const shared = withCacheOnSharedPrefix(captured.body)
  const promptSlot = `routecheck-prompt-${randomUUID()}`
  const printSlot = `routecheck-fingerprint-${randomUUID()}`
  let text = JSON.stringify(withPrompt({ body: shared, version }, promptSlot))
  const billed = `cc_version=${version}.${promptFingerprint(promptSlot, version)}`
  if (text.split(billed).length === 2) text = text.replace(billed, `cc_version=${version}.${printSlot}`)
  const pieces = text.split(new RegExp(`("${promptSlot}"|${printSlot})`))
  if (pieces.filter((p) => p === `"${promptSlot}"`).length !== 1) throw new Error('the captured request has no single prompt block to replace')
  const fill = (p: string, prompt: string) => (p === `"${promptSlot}"` ? JSON.stringify(prompt) : p === printSlot ? promptFingerprint(prompt, version) : undefined)
  const bodyText = (prompt: string) => pieces.map((p) => fill(p, prompt) ?? p).join('')
  // The shared pieces are encoded once: UTF-8-encoding a fresh 100 KB string per case was the client's largest cost.
  const encoded = pieces.map((p) => (fill(p, '') === undefined ? Buffer.from(p) : undefined))
  const bodyBytes = (prompt: string) => Buffer.concat(pieces.map((p, i) => encoded[i] ?? Buffer.from(fill(p, prompt)!)))
  const check = 'routecheck self-check: "quotes", a \\ backslash, ünïcode, \u2028 and a\nnewline'
  if (!isDeepStrictEqual(JSON.parse(bodyText(check)), withPrompt({ body: shared, version }, check)) || bodyBytes(check).toString('utf8') !== bodyText(check)) {
    throw new Error('internal error: the compiled replay differs from the captured request')
  }
  const custom = new Set(catalogue.agents.map((a) => a.name))
  const listed = listedAgents(captured.body).filter((name) => !custom.has(name))
  const batchTemplates = new Map<CacheTtl, (fill: (slotted: string) => string) => unknown>()
  const batchBody = (prompt: string, cacheTtl: CacheTtl) => {
    let build = batchTemplates.get(cacheTtl)
    if (!build) batchTemplates.set(cacheTtl, (build = slotFiller(batchTemplate(text, cacheTtl), (t) => t.includes(promptSlot) || t.includes(printSlot))))
    const print = promptFingerprint(prompt, version)
    return build((t) => (t === promptSlot ? prompt : t.replaceAll(printSlot, print))) as Record<string, unknown>
  }
  const { stream: _stream, ...unstreamed } = withPrompt({ body: shared, version }, check)
  if (!isDeepStrictEqual(batchBody(check, '5m'), unstreamed)) throw new Error('internal error: the batch form of the replay differs from the captured request')
  // Per cache breakpoint, `,"ttl":"1h"`; the fingerprint's slot is longer than the fingerprint.
  const ttlBytes = (text.match(/"cache_control":/g)?.length ?? 0) * 12
  const sharedBytes = encoded.reduce((n, b) => n + (b?.length ?? 0), 0) + ttlBytes
  return {
    version,
    url: captured.url,
    headers: captured.headers,
    bodyText,
    bodyBytes,
    body: (prompt) => JSON.parse(bodyText(prompt)) as Record<string, unknown>,
    sharedChars: text.length - promptSlot.length - 2,
    hash: requestHash(captured),
    custom,
    builtins: listed.length > 0 ? listed : BUILTIN_AGENTS,
    batchBody,
    batchBytes: (prompt) => sharedBytes + Buffer.byteLength(JSON.stringify(prompt)) + printSlot.length,
  }
}

/** The compiled body with its slots, parsed, as a batch request: `stream` left out, breakpoints given the lifetime. */
function batchTemplate(text: string, cacheTtl: CacheTtl): Record<string, unknown> {
  const { stream: _stream, ...body } = JSON.parse(text) as Record<string, unknown>
  if (cacheTtl === '1h') {
    const visit = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(visit)
      else if (typeof v === 'object' && v !== null) {
        const o = v as Record<string, unknown>
        if (typeof o.cache_control === 'object' && o.cache_control !== null) o.cache_control = { ...o.cache_control, ttl: '1h' }
        Object.values(o).forEach(visit)
      }
    }
    visit(body)
  }
  return body
}

/**
 * A builder of copies of `template` in which every string `slotted` picks out is replaced by
 * `fill(string)`; every object, array and string without a slot is the template's own, shared
 * by all copies.
 */
export function slotFiller(template: unknown, slotted: (text: string) => boolean): (fill: (text: string) => string) => unknown {
  if (typeof template === 'string') return slotted(template) ? (fill) => fill(template) : () => template
  if (typeof template !== 'object' || template === null) return () => template
  const entries = Object.entries(template).map(([k, v]) => [k, slotFiller(v, slotted), holdsSlot(v, slotted)] as const)
  if (!entries.some(([, , slot]) => slot)) return () => template
  const array = Array.isArray(template)
  return (fill) => {
    const out: Record<string, unknown> | unknown[] = array ? [] : {}
    for (const [k, build, slot] of entries) (out as Record<string, unknown>)[k] = slot ? build(fill) : (template as Record<string, unknown>)[k]
    return out
  }
}

function holdsSlot(v: unknown, slotted: (text: string) => boolean): boolean {
  if (typeof v === 'string') return slotted(v)
  if (typeof v !== 'object' || v === null) return false
  return Object.values(v).some((x) => holdsSlot(x, slotted))
}

const AGENT_LISTING = 'Available agent types for the Agent tool:'
const LISTED = /^- ([A-Za-z0-9][A-Za-z0-9_:.-]*): /gm

/** The names in Claude Code's agent listing (a system-reminder of the prompt's message). */
export function listedAgents(body: Record<string, unknown>): string[] {
  const last = (body as Body).messages?.at(-1)
  const blocks = Array.isArray(last?.content) ? (last.content as Block[]) : []
  const listing = blocks.find((b) => b.type === 'text' && b.text?.includes(AGENT_LISTING))?.text ?? ''
  return [...listing.matchAll(LISTED)].map((m) => m[1]!)
}

/**
 * The request's identity for the journal key: url, headers and body without what changes from
 * one capture to the next on the same machine: the engine's temporary workspace and config dir
 * (their random folder name), the session and device ids (metadata, one header), the date, and
 * the capture's own prompt and its billing fingerprint.
 */
export function requestHash(captured: CapturedRequest): string {
  const { 'x-claude-code-session-id': _session, ...headers } = captured.headers
  const { metadata: _metadata, ...body } = captured.body
  const text = JSON.stringify({ url: captured.url, headers, body: withPrompt({ body, version: captured.version }, '') })
    .replace(/routecheck-claude-code-[A-Za-z0-9]{6}/g, 'routecheck-claude-code-XXXXXX')
    .replace(/(Today's date is )\d{4}-\d{2}-\d{2}/g, '$1YYYY-MM-DD')
  return sha256(text)
}

// ---------------------------------------------------------------------------------------------
// The reply

type Event = { type?: unknown; index?: unknown; message?: { usage?: Record<string, unknown> }; content_block?: Record<string, unknown>; delta?: Record<string, unknown>; usage?: Record<string, unknown> }

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined)

/**
 * The Messages streaming events, put back together: the content blocks (tool inputs parsed from
 * their JSON pieces) and the usage. A stream that ends before message_stop was cut: retryable.
 */
export async function readReplyStream(events: AsyncIterable<unknown>): Promise<{ blocks: ReplyBlock[]; usage: Usage }> {
  const blocks: ReplyBlock[] = []
  const inputs: string[] = []
  const usage: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }
  const take = (u: Record<string, unknown> | undefined) => {
    if (!u) return
    usage.inputTokens = count(u.input_tokens) ?? usage.inputTokens
    usage.outputTokens = count(u.output_tokens) ?? usage.outputTokens
    usage.cacheReadTokens = count(u.cache_read_input_tokens) ?? usage.cacheReadTokens
    usage.cacheWriteTokens = count(u.cache_creation_input_tokens) ?? usage.cacheWriteTokens
    // Claude Code may ask for the 1-hour cache itself; those writes are priced apart.
    const write1h = count((u.cache_creation as Record<string, unknown> | undefined)?.ephemeral_1h_input_tokens)
    if (write1h) usage.cacheWrite1hTokens = write1h
  }
  let stopped = false
  for await (const raw of events) {
    const e = raw as Event
    const i = typeof e.index === 'number' ? e.index : -1
    switch (e.type) {
      case 'message_start':
        take(e.message?.usage)
        break
      case 'content_block_start':
        if (i >= 0 && e.content_block && typeof e.content_block.type === 'string') {
          blocks[i] = { ...(e.content_block as ReplyBlock) }
          inputs[i] = ''
        }
        break
      case 'content_block_delta': {
        const block = blocks[i]
        if (!block || !e.delta) break
        if (e.delta.type === 'input_json_delta' && typeof e.delta.partial_json === 'string') inputs[i] += e.delta.partial_json
        else if (e.delta.type === 'text_delta' && typeof e.delta.text === 'string') block.text = `${typeof block.text === 'string' ? block.text : ''}${e.delta.text}`
        break
      }
      case 'content_block_stop': {
        const block = blocks[i]
        if (block && (block.type === 'tool_use' || block.type === 'server_tool_use') && inputs[i]) {
          try {
            block.input = JSON.parse(inputs[i]!) as unknown
          } catch {
            throw new RouterError('bad_output', `the model's ${String(block.name)} call has input that is not JSON: ${inputs[i]!.slice(0, 200)}`)
          }
        }
        break
      }
      case 'message_delta':
        take(e.usage)
        break
      case 'message_stop':
        stopped = true
        break
      default:
        break
    }
  }
  if (!stopped) throw new RouterError('connection', 'the reply stream ended before message_stop (cut off)')
  return { blocks: blocks.filter((b) => b !== undefined), usage }
}
