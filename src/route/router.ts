import { z } from 'zod'
import type { Catalogue } from '../load/catalogue.js'
import type { CacheTtl } from '../load/config.js'
import type { RouteFeedback } from './rate-limit.js'

export const usageSchema = z.object({
  inputTokens: z.number().nonnegative(),
  outputTokens: z.number().nonnegative(),
  cacheReadTokens: z.number().nonnegative(),
  cacheWriteTokens: z.number().nonnegative(),
  /** of cacheWriteTokens, those written to the 1-hour cache (priced apart) */
  cacheWrite1hTokens: z.number().nonnegative().optional(),
  /** served by the Message Batches API, billed at the batch rate */
  batch: z.boolean().optional(),
})
export type Usage = z.infer<typeof usageSchema>

/** What a router answers for one prompt (DESIGN "Routers"). Validated, since custom routers are user code. */
/**
 * What Claude Code did with a prompt: delegated to a catalogue agent, to one
 * of its own agents, called another tool itself, or answered in text.
 */
export const DECISION_KINDS = ['custom', 'builtin', 'tool', 'answer'] as const
export type DecisionKind = (typeof DECISION_KINDS)[number]

export const decisionSchema = z.object({
  /** an agent name, or "none" */
  agent: z.string().min(1),
  /** the router named an agent that does not exist (scored as wrong) */
  invalid: z.string().optional(),
  scores: z.record(z.string(), z.number()).optional(),
  runnerUp: z.string().optional(),
  /** the router's own confidence in its choice, 0–1, where it states one */
  confidence: z.number().min(0).max(1).optional(),
  usage: usageSchema.optional(),
  latencyMs: z.number().nonnegative(),
  /**
   * What the engine did (claude-code router): delegated to a catalogue agent, to one of Claude
   * Code's own agents, called another tool itself (`tool` names it), or answered in text.
   */
  kind: z.enum(DECISION_KINDS).optional(),
  /** the tool the main assistant called itself, when `kind` is "tool" */
  tool: z.string().optional(),
  /** the Message Batch that answered it (--batch) */
  batch: z.string().optional(),
})
export type Decision = z.infer<typeof decisionSchema>

/** A request's size before it is sent, for --dry-run figures and the --max-cost budget. */
export type RequestEstimate = {
  /** the part every request of a run shares (the catalogue), written to the prompt cache once, then read */
  prefixTokens: number
  promptTokens: number
  outputTokens: number
}

/** The one interface every router implements. */
export interface Router {
  /** stable identity of the router and its settings, e.g. "lexical" or "anthropic:claude-haiku-4-5:claude-code" */
  id: string
  /** whether the same prompt always gets the same decision (sets the default repeats) */
  deterministic?: boolean
  /**
   * Everything besides the catalogue and prompt that changes an answer (model,
   * style, template, sampling). A router that sets it gets the run journal:
   * finished requests are kept and never sent twice.
   */
  cacheKey?: string
  /** it can pick Claude Code's own agents (Explore, general-purpose, Plan…), as Claude Code itself and its replay can */
  picksBuiltins?: boolean
  /** the model whose prices apply to `usage`, where there is one */
  pricedModel?: string
  /**
   * It answers from this process alone, computing without I/O (the lexical
   * router): nothing could interrupt it, so the run engine gives it the run's
   * own signal and no timeout, which made half of a lexical run's routing.
   */
  local?: boolean
  /**
   * It passes each reply's rate-limit headers to `feedback`, so the run can
   * follow the server's limits (rate-limit.ts) instead of a fixed concurrency.
   */
  reportsRateLimits?: boolean
  /** `feedback` is given when the run follows rate limits; a router that reports them calls it before it answers or throws */
  route(prompt: string, catalogue: Catalogue, signal: AbortSignal, feedback?: RouteFeedback): Promise<Decision>
  /** the request `route` would send for this prompt, for --dry-run; routers that send nothing omit it */
  preview?(prompt: string, catalogue: Catalogue): unknown
  /** what that request is likely to cost in tokens; routers that send nothing omit it */
  estimate?(prompt: string, catalogue: Catalogue): RequestEstimate
  /** frees what the router holds (engine processes, temporary workspaces); called once when the run is done */
  close?(): Promise<void>
  /** the same requests sent through the Message Batches API (--batch); routers that cannot omit it */
  batch?: BatchRouting
}

/** How a router's requests go into a Message Batch, and how a batch's results are read back. */
export type BatchRouting = {
  api: BatchApi
  /** the Messages API params of the request `route` would send for this prompt (never streamed), the shared prefix cached for `cacheTtl` */
  params(prompt: string, catalogue: Catalogue, cacheTtl: CacheTtl): object
  /** an upper bound of those params' size as JSON, in bytes, without building them (batches are split by size) */
  bytes(prompt: string, catalogue: Catalogue): number
  /** a succeeded result's message as a decision, read as `route` reads a reply; a RouterError when it holds none */
  read(message: unknown, catalogue: Catalogue): Omit<Decision, 'latencyMs'>
}

export type BatchCounts = { processing: number; succeeded: number; errored: number; canceled: number; expired: number }

/** A Message Batch as the API reports it. */
export type BatchStatus = {
  id: string
  status: 'in_progress' | 'canceling' | 'ended'
  counts: BatchCounts
  createdAt: string
  endedAt: string | null
  expiresAt: string
}

/** One line of a batch's results. */
export type BatchResult =
  | { customId: string; outcome: 'succeeded'; message: unknown }
  | { customId: string; outcome: 'errored'; errorType: string; error: string }
  | { customId: string; outcome: 'expired' | 'canceled' }

/** The Message Batches endpoints. Failures are RouterErrors, classified as for single requests. */
export interface BatchApi {
  create(requests: readonly { custom_id: string; params: object }[], signal: AbortSignal): Promise<BatchStatus>
  /** how long one create call may take before it is given up (an upload of up to 256 MB) */
  readonly createTimeoutMs: number
  /** the account's batches created at or after `sinceMs` (epoch ms), newest first, every page of the list read */
  listSince(sinceMs: number, signal: AbortSignal): Promise<BatchStatus[]>
  retrieve(id: string, signal: AbortSignal): Promise<BatchStatus>
  /** the results file, streamed, in any order */
  results(id: string, signal: AbortSignal): AsyncIterable<BatchResult>
}

export type RouterErrorKind = 'rate_limit' | 'overloaded' | 'server' | 'timeout' | 'connection' | 'bad_output' | 'auth' | 'not_found' | 'bad_request'

/**
 * A failed request, classified so the run engine knows what to do with it:
 * retry (with the server's retry-after when it sent one), record it against
 * the case, or stop the whole run because no request can succeed.
 */
export class RouterError extends Error {
  override name = 'RouterError'
  readonly kind: RouterErrorKind
  readonly retryable: boolean
  /** no request of this run can succeed (bad key, unknown model): stop at once */
  readonly fatal: boolean
  readonly retryAfterMs: number | undefined
  constructor(kind: RouterErrorKind, message: string, opts: { retryable?: boolean; fatal?: boolean; retryAfterMs?: number } = {}) {
    super(message)
    this.kind = kind
    this.retryable = opts.retryable ?? ['rate_limit', 'overloaded', 'server', 'timeout', 'connection', 'bad_output'].includes(kind)
    this.fatal = opts.fatal ?? false
    this.retryAfterMs = opts.retryAfterMs
  }
}
