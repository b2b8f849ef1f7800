import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Catalogue } from '../load/catalogue.js'
import { BUILTIN_AGENTS } from '../load/builtin-agents.js'
import { NONE, type Case } from '../load/dataset.js'
import { capName } from './cost.js'
import type { Journal } from './journal.js'
import { createConcurrencyController, type ConcurrencyController, type Outcome, type RateLimitSnapshot, type RouteFeedback } from './rate-limit.js'
import { RouterError, type Decision, type Router, type Usage } from './router.js'

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
  /** the cap as the user knows it, for the message of a request not sent (default: --max-cost maxUsd USD) */
  named?: string
  /** the price of one request's usage */
  costOf: (usage: Usage) => number
  /** what a request is expected to cost before any has finished: it writes the prompt cache */
  firstEstimateUsd: number
  /** what a request reading the prompt cache is expected to cost (the first one's estimate if not given) */
  readEstimateUsd?: number
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
  /**
   * Follow the server's rate limits (rate-limit.ts): on by default for routers
   * that report them, off for the others; off means `concurrency` in flight.
   */
  adaptive?: boolean
  /** the number of requests allowed in flight changed (adaptive runs only) */
  onWindow?: (window: number) => void
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

/**
 * Routes every case `repeats` times and returns the attempts in case order,
 * then repeat order. Errors that survive the retries are recorded against
 * their attempt, never turned into a decision.
 *
 * `concurrency` workers take the cases in turn, each sending one request at
 * a time. With a router that reports the server's rate limits (the anthropic
 * router), a controller (rate-limit.ts) decides how many of them may have a
 * request in flight, never more than `concurrency`; otherwise all may.
 * Per request the engine costs one AbortController and one promise (a
 * local router, none: router.ts `local`): the timeouts share one timer (requests end in about the order they start, so
 * the oldest unfinished one is always the next to time out), and a stop
 * reaches the requests in flight through one listener.
 */
export async function routeCases(cases: readonly Case[], catalogue: Catalogue, router: Router, settings: RunSettings): Promise<Attempt[]> {
  // Claude Code's own agents are real choices too (the claude-code router picks them), never invalid names.
  const known = new Set([...catalogue.agents.map((a) => a.name), ...BUILTIN_AGENTS])
  const { repeats } = settings
  const firstRepeat = settings.firstRepeat ?? 0
  const policy = settings.retry ?? DEFAULT_RETRY
  // Attempt k is case floor(k / repeats) at repeat firstRepeat + k % repeats: the order the attempts are returned in.
  const results = new Array<Attempt>(cases.length * repeats)
  const finish = (k: number, a: Attempt) => {
    results[k] = a
    settings.onAttempt?.(a)
  }

  const pending: number[] = []
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!
    for (let r = 0; r < repeats; r++) {
      const repeat = firstRepeat + r
      const cached = settings.journal?.get(c.prompt, repeat)
      if (cached) finish(i * repeats + r, { caseId: c.id, repeat, decision: flagUnknownAgent(cached, known), tries: 0, cached: true })
      else pending.push(i * repeats + r)
    }
  }

  const stop = new AbortController()
  const signal = settings.signal ? AbortSignal.any([settings.signal, stop.signal]) : stop.signal
  setMaxListeners(0, signal) // every retry waiting out its backoff listens for the run to stop
  const flights = createFlights(settings.timeoutMs, signal)
  const spend = settings.budget ? createSpendTracker(settings.budget) : undefined
  const adaptive = settings.adaptive ?? router.reportsRateLimits === true
  let fatal: FatalRouterError | undefined
  let gate: Gate | undefined
  let firstSnapshot: RateLimitSnapshot | undefined

  const notSent = (c: Case, repeat: number, tries: number): Attempt => ({ caseId: c.id, repeat, error: 'not sent: the run was stopped', tries, notSent: true })

  /** One request and its retries. */
  const send = async (c: Case, repeat: number): Promise<Attempt> => {
    for (let tries = 1; ; tries++) {
      if (gate && !(await gate.enter(tries > 1))) return notSent(c, repeat, tries - 1)
      const seq = gate?.controller.dispatched() ?? 0
      let snapshot: RateLimitSnapshot | undefined
      const feedback: RouteFeedback | undefined = adaptive ? { rateLimits: (s) => (snapshot = s) } : undefined
      // A local router computes in this process: no timeout could interrupt it, so it gets no deadline of its own.
      const flight = router.local ? undefined : flights.start()
      let failure: RouterError
      try {
        const work = router.route(c.prompt, catalogue, flight?.controller.signal ?? signal, feedback)
        const decision = await (flight ? flights.race(flight, work) : work)
        firstSnapshot ??= snapshot
        gate?.leave({ seq, now: performance.now(), result: 'ok', snapshot })
        return { caseId: c.id, repeat, decision: flagUnknownAgent(decision, known), tries }
      } catch (e) {
        if (signal.aborted) {
          gate?.leave()
          return notSent(c, repeat, tries)
        }
        failure = flight?.timedOut ? new RouterError('timeout', `timed out after ${settings.timeoutMs / 1000}s`) : asRouterError(e)
        firstSnapshot ??= snapshot
        const result = failure.kind === 'rate_limit' ? 'rate-limited' : failure.kind === 'overloaded' ? 'overloaded' : 'failed'
        gate?.leave({ seq, now: performance.now(), result, snapshot, retryAfterMs: failure.retryAfterMs })
      } finally {
        if (flight) flights.end(flight)
      }
      if (failure.fatal) throw new FatalRouterError(failure.message)
      if (!failure.retryable || tries >= policy.maxTries) {
        return { caseId: c.id, repeat, error: tries > 1 ? `${failure.message} (after ${tries} tries)` : failure.message, errorKind: failure.kind, tries }
      }
      settings.onRetry?.(failure, { caseId: c.id, repeat, tries })
      try {
        await sleep(retryDelayMs(tries, failure.retryAfterMs, policy), undefined, { signal })
      } catch {
        return notSent(c, repeat, tries)
      }
    }
  }

  const run = async (k: number): Promise<void> => {
    const c = cases[Math.floor(k / repeats)]!
    const repeat = firstRepeat + (k % repeats)
    if (signal.aborted) return finish(k, notSent(c, repeat, 0))
    if (spend && !(await spend.admit())) return finish(k, { caseId: c.id, repeat, error: `not sent: ${capName(settings.budget!)} would be passed`, tries: 0, notSent: true })
    try {
      const attempt = await send(c, repeat)
      spend?.settle(attempt.decision?.usage)
      if (attempt.decision) settings.journal?.append(c.prompt, repeat, attempt.decision)
      finish(k, attempt)
    } catch (e) {
      spend?.settle(undefined)
      if (!(e instanceof FatalRouterError)) throw e
      fatal ??= e
      stop.abort(e)
      finish(k, { caseId: c.id, repeat, error: e.message, tries: 1 })
    }
  }

  try {
    let queue = pending
    if (pending.length > 0 && settings.warmUp) {
      const first = pending[0]!
      queue = pending.slice(1)
      await run(first)
      if (fatal) throw fatal
      const warm = results[first]!
      // A first request that fails after its retries says the rest would too: stop before paying for them.
      if (warm.error !== undefined && !warm.notSent) throw new FatalRouterError(`${warm.error}; the first request failed, so nothing else was sent`, true)
    }
    // The warm-up's reply, when there was one, says how much room the limits leave to start with.
    if (adaptive) gate = createGate(createConcurrencyController(settings.concurrency, firstSnapshot), signal, settings.onWindow)
    let next = 0
    const worker = async () => {
      while (next < queue.length) await run(queue[next++]!)
    }
    await Promise.all(Array.from({ length: Math.min(settings.concurrency, queue.length) }, worker))
  } finally {
    flights.close()
    gate?.close()
  }
  if (fatal) throw fatal
  return results
}

type Flight = { controller: AbortController; due: number; done: boolean; timedOut: boolean; fail?: ((reason: Error) => void) | undefined }

/**
 * The requests in flight, oldest first, with their deadlines. Every request
 * gets the same timeout, so deadlines come in the order requests start: one
 * timer, set for the oldest unfinished request, serves them all. A stop of
 * the run aborts every request in flight.
 */
function createFlights(timeoutMs: number, runSignal: AbortSignal) {
  let queue: Flight[] = []
  let head = 0
  let timer: NodeJS.Timeout | undefined
  const abort = (f: Flight, reason: unknown) => {
    f.controller.abort(reason)
    f.fail?.(reason instanceof Error ? reason : new Error('aborted'))
  }
  const skipDone = () => {
    while (head < queue.length && queue[head]!.done) head++
    if (head === queue.length) {
      queue = []
      head = 0
    } else if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head)
      head = 0
    }
  }
  const arm = () => {
    if (timer === undefined && head < queue.length) timer = setTimeout(expire, Math.max(0, queue[head]!.due - performance.now()))
  }
  const expire = () => {
    timer = undefined
    const now = performance.now()
    for (; head < queue.length; head++) {
      const f = queue[head]!
      if (f.done) continue
      if (f.due > now) break
      f.timedOut = true
      abort(f, new Error(`timed out after ${timeoutMs / 1000}s`))
    }
    skipDone()
    arm()
  }
  const onStop = () => {
    for (let i = head; i < queue.length; i++) if (!queue[i]!.done) abort(queue[i]!, runSignal.reason)
  }
  runSignal.addEventListener('abort', onStop, { once: true })
  return {
    start(): Flight {
      const f: Flight = { controller: new AbortController(), due: performance.now() + timeoutMs, done: false, timedOut: false }
      if (runSignal.aborted) f.controller.abort(runSignal.reason)
      queue.push(f)
      arm()
      return f
    },
    end(f: Flight) {
      f.done = true
      f.fail = undefined
      skipDone()
      if (head === queue.length && timer !== undefined) {
        clearTimeout(timer)
        timer = undefined
      }
    },
    /** The router's answer, or a rejection as soon as the request times out or the run stops, even if the router ignores its signal. */
    race<T>(f: Flight, work: Promise<T>): Promise<T> {
      const { signal } = f.controller
      if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
      return new Promise<T>((resolve, reject) => {
        f.fail = reject
        work.then(resolve, reject)
      })
    },
    close() {
      runSignal.removeEventListener('abort', onStop)
      clearTimeout(timer)
    },
  }
}

type Gate = ReturnType<typeof createGate>

/**
 * Admits requests while fewer than the controller's window are in flight and
 * no retry-after is pending; retries go before requests not yet sent.
 */
function createGate(controller: ConcurrencyController, runSignal: AbortSignal, onWindow?: (window: number) => void) {
  let active = 0
  const waiting: Array<(admitted: boolean) => void> = []
  let timer: NodeJS.Timeout | undefined
  let shown = controller.window
  onWindow?.(shown)
  const pump = () => {
    if (controller.window !== shown) onWindow?.((shown = controller.window))
    const wait = controller.pausedUntil - performance.now()
    if (wait > 0) {
      timer ??= setTimeout(() => {
        timer = undefined
        pump()
      }, wait)
      return
    }
    while (waiting.length > 0 && active < controller.window) {
      active++
      waiting.shift()!(true)
    }
  }
  const onStop = () => {
    for (const w of waiting.splice(0)) w(false)
  }
  runSignal.addEventListener('abort', onStop, { once: true })
  return {
    controller,
    /** True when the request may be sent (at once, or when a place frees); false when the run stopped first. */
    enter(retry: boolean): Promise<boolean> | boolean {
      if (runSignal.aborted) return false
      if (waiting.length === 0 && active < controller.window && controller.pausedUntil <= performance.now()) {
        active++
        return true
      }
      return new Promise<boolean>((resolve) => (retry ? waiting.unshift(resolve) : waiting.push(resolve)))
    },
    /** The request is over; its outcome, when it reached the server, moves the window. */
    leave(outcome?: Outcome) {
      active--
      if (outcome) controller.settled(outcome)
      pump()
    },
    close() {
      runSignal.removeEventListener('abort', onStop)
      clearTimeout(timer)
    },
  }
}

/** The longest wait between two tries: a server's retry-after, capped at twice the backoff's own cap. */
export function longestRetryDelayMs(policy: RetryPolicy): number {
  return 2 * policy.maxDelayMs
}

/**
 * Exponential backoff with jitter (half fixed, half random, so retries spread
 * out but never collapse to zero), or the server's retry-after when it gave
 * one: the server knows its own rate window better than any formula.
 */
export function retryDelayMs(tries: number, retryAfterMs: number | undefined, policy: RetryPolicy, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, longestRetryDelayMs(policy))
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (tries - 1))
  return exp / 2 + random() * (exp / 2)
}

/**
 * Keeps spending under the budget: a request is admitted only if what has
 * been spent, plus what the requests in flight are expected to cost, plus
 * this one, stays within it. When it does not fit but others are in flight,
 * it waits for them: their real cost decides. Until a request has finished
 * the expectation is the caller's estimate of a cache write. Once the first
 * has (it wrote the prompt cache and costs several times the rest), a new
 * request reads the cache: the estimate of a read, scaled up by as much as
 * the first's real cost passed its estimate. From the second on, it is the
 * dearest request after the first. Once one request is turned away, all
 * later ones are. (Expecting the first's cost of the second stopped a small
 * cap, such as a shard's share, after one request with half of it unspent.)
 */
function createSpendTracker(budget: Budget) {
  let spent = 0
  let settled = 0
  let inFlight = 0
  let first = 0
  let dearest = 0
  let exhausted = false
  let waiters: Array<() => void> = []
  const read = budget.readEstimateUsd ?? budget.firstEstimateUsd
  const calibrated = () => (budget.firstEstimateUsd > 0 ? Math.min(first, read * Math.max(1, first / budget.firstEstimateUsd)) : first)
  const expected = () => (settled === 0 ? budget.firstEstimateUsd : settled === 1 ? calibrated() : dearest)
  return {
    async admit(): Promise<boolean> {
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

/**
 * Custom routers throw plain errors: `retryable: true` (and `retryAfterMs`)
 * on one asks for a retry; `status: 429` marks it a rate-limit rejection,
 * retried and counted by the rate-limit controller like the API's.
 */
function asRouterError(e: unknown): RouterError {
  if (e instanceof RouterError) return e
  const { retryable, retryAfterMs, status } = (e ?? {}) as { retryable?: unknown; retryAfterMs?: unknown; status?: unknown }
  const message = e instanceof Error ? e.message : String(e)
  const wait = typeof retryAfterMs === 'number' ? { retryAfterMs } : {}
  if (status === 429) return new RouterError('rate_limit', message, wait)
  return new RouterError(retryable === true ? 'server' : 'bad_request', message, { retryable: retryable === true, ...wait })
}

/** An agent name the catalogue does not have is kept as `invalid`, and scored as wrong. */
export function flagUnknownAgent(d: Decision, known: ReadonlySet<string>): Decision {
  if (d.invalid !== undefined || d.agent === NONE || known.has(d.agent)) return d
  return { ...d, invalid: d.agent }
}

/** The label a decision votes for: the agent, "none", or the unknown name it gave. */
export function decidedLabel(d: Decision): string {
  return d.invalid ?? d.agent
}
