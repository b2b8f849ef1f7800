import { describe, expect, it } from 'vitest'
import type { Catalogue } from '../src/load/catalogue.js'
import { createConcurrencyController, GROW_ABOVE, headroom, readRateLimits, SHRINK_BELOW, type Outcome, type RateLimitSnapshot } from '../src/route/rate-limit.js'
import { RouterError, type Decision, type Router } from '../src/route/router.js'
import { routeCases } from '../src/route/run.js'

/**
 * The rate-limit controller (src/route/rate-limit.ts) as a plain function of
 * the replies it is told about, the headers it reads them from, and the run
 * engine driving a router that reports them. The end-to-end run against the
 * rate-limited Messages-API stand-in is in anthropic.test.ts; how close it
 * gets to the limit is measured by `npm run bench -- ratelimit`, not here.
 */

const requests = (remaining: number, limit = 100): RateLimitSnapshot => ({ requests: { limit, remaining } })

/** Drives the controller through `n` replies at time `now`, each to a request sent just before. */
function reply(c: ReturnType<typeof createConcurrencyController>, n: number, outcome: { result?: Outcome['result']; snapshot?: RateLimitSnapshot; retryAfterMs?: number; now?: number }) {
  for (let i = 0; i < n; i++) c.settled({ seq: c.dispatched(), now: outcome.now ?? 0, result: outcome.result ?? 'ok', snapshot: outcome.snapshot, retryAfterMs: outcome.retryAfterMs })
}

describe('reading the rate-limit headers', () => {
  it('reads every bucket the API sends, its reset as a time, and retry-after in its three forms', () => {
    const h = new Headers({
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:01Z',
      'anthropic-ratelimit-input-tokens-limit': '2000000',
      'anthropic-ratelimit-input-tokens-remaining': '1990000',
      'anthropic-ratelimit-output-tokens-limit': '400000',
      'anthropic-ratelimit-output-tokens-remaining': '399000',
      'anthropic-ratelimit-tokens-limit': '2400000',
      'anthropic-ratelimit-tokens-remaining': '2389000',
      'retry-after': '7',
    })
    const s = readRateLimits(h, 0)!
    expect(s.requests).toEqual({ limit: 4000, remaining: 3999, resetAtMs: Date.parse('2026-01-01T00:00:01Z') })
    expect(s.inputTokens).toEqual({ limit: 2_000_000, remaining: 1_990_000 })
    expect(s.outputTokens?.remaining).toBe(399_000)
    expect(s.tokens?.limit).toBe(2_400_000)
    expect(s.retryAfterMs).toBe(7000)
    expect(headroom(s)).toBeCloseTo(0.995, 3) // input tokens are the emptiest
    expect(readRateLimits(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }))?.retryAfterMs).toBe(250)
    expect(readRateLimits(new Headers({ 'retry-after': new Date(60_000).toUTCString() }), 30_000)?.retryAfterMs).toBe(30_000)
  })

  it('a reply without them (a proxy, another server) reports nothing, and a bucket without a usable limit is left out', () => {
    expect(readRateLimits(new Headers({ 'content-type': 'application/json' }))).toBeUndefined()
    const s = readRateLimits(new Headers({ 'anthropic-ratelimit-requests-limit': '0', 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-output-tokens-limit': '10', 'anthropic-ratelimit-output-tokens-remaining': 'x' }))
    expect(s).toBeUndefined()
    expect(headroom(undefined)).toBe(1)
  })
})

describe('the concurrency controller', () => {
  it('without limits to read it starts at --concurrency and stays there; it never passes it', () => {
    const c = createConcurrencyController(32)
    expect(c.window).toBe(32)
    reply(c, 500, {})
    expect(c.window).toBe(32)
  })

  it('starts from the first reply: what that request took from each bucket sizes the first round trip', () => {
    // A full bucket of 300 requests that the first request left at 299: a tenth of what remains.
    expect(createConcurrencyController(64, requests(299, 300)).window).toBe(29)
    // 4,000 input tokens of 60,000 went to the first request (a cache write): a tenth of the rest is 1.4 requests.
    expect(createConcurrencyController(64, { inputTokens: { limit: 60_000, remaining: 56_000 }, requests: { limit: 5000, remaining: 4999 } }).window).toBe(1)
    // A bucket already under a tenth (another run shares the key): one at a time.
    expect(createConcurrencyController(64, requests(5, 100)).window).toBe(1)
    expect(createConcurrencyController(8, requests(3999, 4000)).window).toBe(8)
  })

  it('grows while at least a quarter of every bucket remains: doubling each round trip at first, then one per round trip', () => {
    const c = createConcurrencyController(1000, requests(999, 1000))
    const start = c.window
    reply(c, start, { snapshot: requests(900, 1000) })
    expect(c.window).toBe(2 * start) // one per reply: a round trip's replies double it
    reply(c, 1, { snapshot: requests(20, 100) }) // under a quarter: growth stops, slow start is over
    const held = c.window
    reply(c, 50, { snapshot: requests(15, 100) })
    expect(c.window).toBe(held)
    reply(c, held + 2, { snapshot: requests(80, 100) })
    expect(c.window).toBe(held + 1) // a round trip's worth of replies (and a little: each adds 1 / window) adds one
  })

  it('shrinks once per round trip when less than a tenth remains: replies to requests sent before the cut do not cut again', () => {
    const c = createConcurrencyController(64)
    const inFlight = Array.from({ length: 64 }, () => c.dispatched())
    for (const seq of inFlight) c.settled({ seq, now: 0, result: 'ok', snapshot: requests(SHRINK_BELOW * 100 - 1) })
    expect(c.window).toBe(Math.floor(64 * 0.7))
    // Requests sent after the cut, answered still low: the next cut.
    reply(c, 1, { snapshot: requests(5) })
    expect(c.window).toBe(Math.floor(64 * 0.7 * 0.7))
  })

  it('halves on a 429 that shows the limits, and sends nothing new until its retry-after has passed', () => {
    const c = createConcurrencyController(40)
    const seqs = [c.dispatched(), c.dispatched(), c.dispatched()]
    const empty = requests(0)
    c.settled({ seq: seqs[0]!, now: 1000, result: 'rate-limited', snapshot: empty, retryAfterMs: 2500 })
    expect(c.window).toBe(20)
    expect(c.pausedUntil).toBe(3500)
    c.settled({ seq: seqs[1]!, now: 1001, result: 'rate-limited', snapshot: empty, retryAfterMs: 100 })
    expect(c.window).toBe(20) // the same round trip
    expect(c.pausedUntil).toBe(3500) // a shorter wait never shortens the pause
    // retry-after read from the headers when the router's error had none
    c.settled({ seq: c.dispatched(), now: 2000, result: 'rate-limited', snapshot: { ...empty, retryAfterMs: 4000 } })
    expect(c.window).toBe(10)
    expect(c.pausedUntil).toBe(6000)
  })

  it('a 429 without the limits costs the window the share of its round trip that was rejected: a storm halves it, a stray one barely moves it', () => {
    /** A round trip: `n` requests in flight, answered with `results` in turn, then one sent after them answered, which closes it. */
    const roundTrip = (c: ReturnType<typeof createConcurrencyController>, results: Outcome['result'][]) => {
      const seqs = results.map(() => c.dispatched())
      results.forEach((result, i) => c.settled({ seq: seqs[i]!, now: 0, result }))
      c.settled({ seq: c.dispatched(), now: 0, result: 'failed' })
    }
    const stray = createConcurrencyController(32)
    roundTrip(stray, [...Array<'ok'>(31).fill('ok'), 'rate-limited'])
    expect(stray.window).toBe(31) // 32 × (1 − 1/32)
    const storm = createConcurrencyController(32)
    roundTrip(storm, [...Array<'ok'>(8).fill('ok'), ...Array<'rate-limited'>(24).fill('rate-limited')])
    expect(storm.window).toBe(16) // three quarters rejected: at most half goes
  })

  it('a 529 is the server\'s load: it pauses for retry-after and leaves the window alone', () => {
    const c = createConcurrencyController(16)
    reply(c, 16, { result: 'overloaded', retryAfterMs: 300, now: 50 })
    reply(c, 16, { result: 'failed' })
    expect(c.window).toBe(16)
    expect(c.pausedUntil).toBe(350)
  })

  it('never drops under 1, and a failure that is not a rejection (timeout, 500) moves nothing', () => {
    const c = createConcurrencyController(4)
    for (let i = 0; i < 20; i++) reply(c, 1, { result: 'rate-limited', snapshot: requests(0) })
    expect(c.window).toBe(1)
    reply(c, 30, { result: 'failed' })
    expect(c.window).toBe(1)
    reply(c, 30, { result: 'ok', snapshot: requests(GROW_ABOVE * 100 + 10) })
    expect(c.window).toBeGreaterThan(1)
  })
})

describe('the run engine with a router that reports rate limits', () => {
  const catalogue = { agents: [{ name: 'a', description: 'x' }], fingerprint: 'f' } as unknown as Catalogue
  const cases = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `c${i}`, prompt: `p${i}`, expected: ['a'], tags: [], line: i + 2 }))
  const tick = () => new Promise((r) => setTimeout(r, 2))

  /** A router whose one bucket of `limit` requests refills by one each reply; it counts what is in flight. */
  function bucketRouter(limit: number, opts: { reports?: boolean; rejectFirst?: number; retryAfterMs?: number } = {}) {
    let remaining = limit
    let inFlight = 0
    let peak = 0
    let rejected = 0
    const sentAt: number[] = []
    const router: Router = {
      id: 'bucket',
      reportsRateLimits: opts.reports ?? true,
      async route(_prompt, _catalogue, _signal, feedback): Promise<Decision> {
        sentAt.push(performance.now())
        peak = Math.max(peak, ++inFlight)
        await tick()
        inFlight--
        if (rejected < (opts.rejectFirst ?? 0)) {
          rejected++
          feedback?.rateLimits({ requests: { limit, remaining: 0 }, retryAfterMs: opts.retryAfterMs ?? 0 })
          throw new RouterError('rate_limit', 'HTTP 429', { retryAfterMs: opts.retryAfterMs ?? 0 })
        }
        remaining = Math.max(0, Math.min(limit, remaining - 1 + (remaining < limit / 2 ? 1 : 0)))
        feedback?.rateLimits({ requests: { limit, remaining } })
        return { agent: 'a', latencyMs: 2 }
      },
    }
    return { router, peak: () => peak, sentAt }
  }

  it('keeps at most the window in flight, never more than --concurrency, and every case is decided', async () => {
    const { router, peak } = bucketRouter(40)
    const windows: number[] = []
    const attempts = await routeCases(cases(300), catalogue, router, { repeats: 1, concurrency: 16, timeoutMs: 5000, warmUp: true, onWindow: (w) => windows.push(w) })
    expect(attempts.every((a) => a.decision?.agent === 'a')).toBe(true)
    expect(peak()).toBeLessThanOrEqual(16)
    expect(Math.max(...windows)).toBeLessThanOrEqual(16)
    // The first reply left 39 of 40: a tenth of that is 3 to start with, then it grew.
    expect(windows[0]).toBe(3)
    expect(Math.max(...windows)).toBeGreaterThan(3)
  })

  it('after a 429 nothing new is sent before its retry-after has passed', async () => {
    const { router, sentAt } = bucketRouter(1000, { rejectFirst: 1, retryAfterMs: 150 })
    const attempts = await routeCases(cases(20), catalogue, router, { repeats: 1, concurrency: 8, timeoutMs: 5000, warmUp: true })
    expect(attempts.every((a) => a.decision)).toBe(true)
    expect(attempts[0]!.tries).toBe(2)
    // The warm-up's 429 said 150 ms: its retry, and everything after it, waited that long.
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(145)
  })

  it('a custom router\'s plain error with status 429 is a rate-limit rejection: retried after its retry-after, and nothing is sent meanwhile', async () => {
    const sentAt: number[] = []
    let calls = 0
    const router: Router = {
      id: 'custom',
      reportsRateLimits: true,
      async route(): Promise<Decision> {
        sentAt.push(performance.now())
        if (calls++ === 0) throw Object.assign(new Error('HTTP 429'), { status: 429, retryAfterMs: 120 })
        return { agent: 'a', latencyMs: 1 }
      },
    }
    const retried: string[] = []
    const attempts = await routeCases(cases(5), catalogue, router, { repeats: 1, concurrency: 4, timeoutMs: 5000, warmUp: true, onRetry: (e) => retried.push(e.kind) })
    expect(attempts.every((a) => a.decision)).toBe(true)
    expect(retried).toEqual(['rate_limit'])
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(115)
  })

  it('a router that does not report them gets no feedback and --concurrency in flight, as always', async () => {
    const { router, peak } = bucketRouter(40, { reports: false })
    const seen: unknown[] = []
    const plain: Router = { ...router, reportsRateLimits: false, route: (p, c, s, feedback) => (seen.push(feedback), router.route(p, c, s, feedback)) }
    const windows: number[] = []
    await routeCases(cases(100), catalogue, plain, { repeats: 1, concurrency: 16, timeoutMs: 5000, onWindow: (w) => windows.push(w) })
    expect(seen.every((f) => f === undefined)).toBe(true)
    expect(peak()).toBe(16)
    expect(windows).toEqual([])
  })
})
