import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import pLimit from 'p-limit'
import type { Catalogue } from '../load/catalogue.js'
import { BUILTIN_AGENTS } from '../load/builtin-agents.js'
import { NONE, type Case } from '../load/dataset.js'
import type { Journal } from './journal.js'
import { decisionSchema, RouterError, type Decision, type Router, type Usage } from './router.js'

/** One routing request: a case at one repeat index. One line of results.jsonl. */
export type Attempt = {
  caseId: string
  repeat: number
  decision?: Decision
  /** set when the request failed; such an attempt is never scored as a decision */
  error?: string
  /** how many times it was sent (1 = no retry); 0 when answered from the journal or never sent */
  tries: number
  /** answered from the run journal of an earlier run */
  cached?: boolean
  /** never sent: the budget ran out or the run was stopped */
  notSent?: boolean
  /** what kind of failure `error` is, for routers that classify them */
  errorKind?: string
}

export type RetryPolicy = {
  /** attempts per request, the first included */
  maxTries: number
  baseDelayMs: number
  maxDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { maxTries: 6, baseDelayMs: 500, maxDelayMs: 30_000 }

export type Budget = {
  maxUsd: number
  /** the price of one request's usage */
  costOf: (usage: Usage) => number
  /** what a request is expected to cost before any has finished */
  firstEstimateUsd: number
}

export type RunSettings = {
  repeats: number
  /** repeat indices start here (a re-test asks for fresh repeats, not the journal's) */
  firstRepeat?: number
  concurrency: number
  timeoutMs: number
  retry?: RetryPolicy
  /** finished requests are looked up here first and appended as they finish */
  journal?: Journal
  /** send the first request alone, so a prompt cache is written once before the fan-out */
  warmUp?: boolean
  budget?: Budget
  signal?: AbortSignal
  /** called as each attempt finishes, in completion order */
  onAttempt?: (attempt: Attempt) => void
  onRetry?: (error: RouterError, attempt: { caseId: string; repeat: number; tries: number }) => void
}

/**
 * Thrown when no request of the run can succeed: a bad key or an unknown
 * model (bad input: exit 2), or a server the warm-up request could not reach
 * (exit 3), where sending hundreds more requests would only fail slower.
 */
export class FatalRouterError extends Error {
  override name = 'FatalRouterError'
  readonly unreachable: boolean
  constructor(message: string, unreachable = false) {
    super(message)
    this.unreachable = unreachable
  }
}

type Job = { c: Case; repeat: number }

/**
 * Routes every case `repeats` times and returns the attempts in case order,
 * then repeat order. Errors that survive the retries are recorded against
 * their attempt, never turned into a decision.
 */
export async function routeCases(cases: readonly Case[], catalogue: Catalogue, router: Router, settings: RunSettings): Promise<Attempt[]> {
  // Claude Code's own agents are real choices too (the claude-code router picks them), never invalid names.
  const known = new Set([...catalogue.agents.map((a) => a.name), ...BUILTIN_AGENTS])
  const results = new Map<string, Attempt>()
  const id = (caseId: string, repeat: number) => `${caseId}\u0000${repeat}`
  const finish = (a: Attempt) => {
    results.set(id(a.caseId, a.repeat), a)
    settings.onAttempt?.(a)
  }

  const firstRepeat = settings.firstRepeat ?? 0
  const pending: Job[] = []
  for (const c of cases) {
    for (let repeat = firstRepeat; repeat < firstRepeat + settings.repeats; repeat++) {
      const cached = settings.journal?.get(c.prompt, repeat)
      if (cached) finish({ caseId: c.id, repeat, decision: flagUnknownAgent(cached, known), tries: 0, cached: true })
      else pending.push({ c, repeat })
    }
  }

  const stop = new AbortController()
  const signal = settings.signal ? AbortSignal.any([settings.signal, stop.signal]) : stop.signal
  setMaxListeners(0, signal) // every request in flight listens for the run to stop
  let fatal: FatalRouterError | undefined
  const spend = createSpendTracker(settings.budget)

  const run = async ({ c, repeat }: Job): Promise<void> => {
    if (signal.aborted) return finish({ caseId: c.id, repeat, error: 'not sent: the run was stopped', tries: 0, notSent: true })
    if (!(await spend.admit())) return finish({ caseId: c.id, repeat, error: `not sent: --max-cost ${settings.budget!.maxUsd} USD would be passed`, tries: 0, notSent: true })
    try {
      const attempt = await routeWithRetries(c, repeat, catalogue, router, known, settings, signal)
      spend.settle(attempt.decision?.usage)
      if (attempt.decision) settings.journal?.append(c.prompt, repeat, attempt.decision)
      finish(attempt)
    } catch (e) {
      spend.settle(undefined)
      if (!(e instanceof FatalRouterError)) throw e
      fatal ??= e
      stop.abort(e)
      finish({ caseId: c.id, repeat, error: e.message, tries: 1 })
    }
  }

  const [first, ...rest] = pending
  if (first && settings.warmUp) {
    await run(first)
    if (fatal) throw fatal
    const warm = results.get(id(first.c.id, first.repeat))
    // A first request that fails after its retries says the rest would too: stop before paying for them.
    if (warm?.error !== undefined && !warm.notSent) throw new FatalRouterError(`${warm.error}; the first request failed, so nothing else was sent`, true)
  }
  const limit = pLimit(settings.concurrency)
  await Promise.all((settings.warmUp ? rest : pending).map((job) => limit(() => run(job))))
  if (fatal) throw fatal

  return cases.flatMap((c) => Array.from({ length: settings.repeats }, (_, i) => results.get(id(c.id, firstRepeat + i))!))
}

async function routeWithRetries(c: Case, repeat: number, catalogue: Catalogue, router: Router, known: ReadonlySet<string>, settings: RunSettings, runSignal: AbortSignal): Promise<Attempt> {
  const policy = settings.retry ?? DEFAULT_RETRY
  for (let tries = 1; ; tries++) {
    const deadline = attemptDeadline(runSignal, settings.timeoutMs)
    const signal = deadline.signal
    let failure: RouterError
    try {
      const raw = await abortable(router.route(c.prompt, catalogue, signal), signal)
      const parsed = decisionSchema.safeParse(raw)
      if (parsed.success) return { caseId: c.id, repeat, decision: flagUnknownAgent(parsed.data, known), tries }
      failure = new RouterError('bad_output', `router ${router.id} returned a malformed decision: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { retryable: false })
    } catch (e) {
      if (runSignal.aborted) return { caseId: c.id, repeat, error: 'not sent: the run was stopped', tries, notSent: true }
      if (deadline.timedOut()) failure = new RouterError('timeout', `timed out after ${settings.timeoutMs / 1000}s`)
      else failure = asRouterError(e)
    } finally {
      deadline.dispose()
    }
    if (failure.fatal) throw new FatalRouterError(failure.message)
    if (!failure.retryable || tries >= policy.maxTries) {
      return { caseId: c.id, repeat, error: tries > 1 ? `${failure.message} (after ${tries} tries)` : failure.message, errorKind: failure.kind, tries }
    }
    settings.onRetry?.(failure, { caseId: c.id, repeat, tries })
    try {
      await sleep(retryDelayMs(tries, failure.retryAfterMs, policy), undefined, { signal: runSignal })
    } catch {
      return { caseId: c.id, repeat, error: 'not sent: the run was stopped', tries, notSent: true }
    }
  }
}

/**
 * Exponential backoff with jitter (half fixed, half random, so retries spread
 * out but never collapse to zero), or the server's retry-after when it gave
 * one: the server knows its own rate window better than any formula.
 */
export function retryDelayMs(tries: number, retryAfterMs: number | undefined, policy: RetryPolicy, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, 2 * policy.maxDelayMs)
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (tries - 1))
  return exp / 2 + random() * (exp / 2)
}

/**
 * Keeps spending under the budget: a request is admitted only if what has
 * been spent, plus what the requests in flight are expected to cost, plus
 * this one, stays within it. When it does not fit but others are in flight,
 * it waits for them: their real cost decides. Until a request has finished
 * the expectation is the caller's estimate; then it is the dearest request
 * after the first (the first writes the prompt cache and costs several times
 * the rest). Once one request is turned away, all later ones are.
 */
function createSpendTracker(budget: Budget | undefined) {
  let spent = 0
  let settled = 0
  let inFlight = 0
  let first = 0
  let dearest = 0
  let exhausted = false
  let waiters: Array<() => void> = []
  const expected = () => (settled === 0 ? budget!.firstEstimateUsd : settled === 1 ? first : dearest)
  return {
    async admit(): Promise<boolean> {
      if (!budget) return true
      for (;;) {
        if (exhausted) return false
        if (spent + (inFlight + 1) * expected() <= budget.maxUsd) {
          inFlight++
          return true
        }
        if (inFlight === 0) {
          exhausted = true
          return false
        }
        await new Promise<void>((resolve) => waiters.push(resolve))
      }
    },
    settle(usage: Usage | undefined) {
      if (!budget) return
      inFlight--
      if (usage) {
        const cost = budget.costOf(usage)
        spent += cost
        settled++
        if (settled === 1) first = cost
        else dearest = Math.max(dearest, cost)
      }
      const wake = waiters
      waiters = []
      for (const w of wake) w()
    },
  }
}

/** Custom routers throw plain errors; `retryable: true` (and `retryAfterMs`) on one asks for a retry. */
function asRouterError(e: unknown): RouterError {
  if (e instanceof RouterError) return e
  const { retryable, retryAfterMs } = (e ?? {}) as { retryable?: unknown; retryAfterMs?: unknown }
  return new RouterError(retryable === true ? 'server' : 'bad_request', e instanceof Error ? e.message : String(e), {
    retryable: retryable === true,
    ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
  })
}

/** An agent name the catalogue does not have is kept as `invalid`, and scored as wrong. */
export function flagUnknownAgent(d: Decision, known: ReadonlySet<string>): Decision {
  if (d.invalid !== undefined || d.agent === NONE || known.has(d.agent)) return d
  return { ...d, invalid: d.agent }
}

/**
 * One request's signal: aborts when the run stops or the timeout passes. One
 * controller and one timer, both released as soon as the request ends (the
 * harness benchmark showed AbortSignal.any/timeout per request as overhead).
 */
function attemptDeadline(runSignal: AbortSignal, timeoutMs: number) {
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort(new Error(`timed out after ${timeoutMs / 1000}s`))
  }, timeoutMs)
  const onStop = () => controller.abort(runSignal.reason)
  if (runSignal.aborted) onStop()
  else runSignal.addEventListener('abort', onStop, { once: true })
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer)
      runSignal.removeEventListener('abort', onStop)
    },
  }
}

/** Rejects when the signal fires, even if the router ignores it. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** The label a decision votes for: the agent, "none", or the unknown name it gave. */
export function decidedLabel(d: Decision): string {
  return d.invalid ?? d.agent
}
