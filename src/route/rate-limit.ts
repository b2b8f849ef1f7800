/**
 * Concurrency that follows the server's rate limits. The Messages API sends,
 * on every reply (429s included), how full each of its token buckets is:
 * requests, input tokens, output tokens and all tokens, each as a limit, what
 * remains and when the bucket is full again; and `retry-after` on a 429.
 * A run reads them to stay under the limit instead of walking into it:
 *
 * - while at least a quarter of every bucket remains, the window of requests
 *   in flight grows: by one per reply at first (doubling each round trip),
 *   then by one per round trip once a limit has been felt;
 * - between a quarter and a tenth it holds: the run is near the limit and
 *   lives on what the buckets refill;
 * - under a tenth it shrinks to 0.7 of itself, on a 429 to half, and after a
 *   429 or 529 nothing new is sent until its retry-after has passed;
 * - it never passes --concurrency, nor drops under 1.
 *
 * One cut per round trip: replies to requests sent before the last cut speak
 * of the old window, so they cannot cut again (as TCP counts one loss per
 * window). Everything here is a plain function of its inputs and the time it
 * is given, so the tests drive it without a server.
 *
 * Why these numbers: with a bucket holding 10 to 60 round trips of traffic
 * (the API's per-minute buckets against a 1–6 s reply; the bench's
 * one-second bucket against a 100 ms one), a tenth is one to six round trips
 * of headroom, enough to cut before the bucket runs dry; holding from a
 * quarter down, rather than growing to the tenth, keeps the window from
 * overshooting by the time the cut lands. Holding from half down instead
 * left more of the bucket unspent at the end of a run: bench/rate-limit.ts
 * measured 0.87–0.94 of the limit against 0.91–0.94 from a quarter, both
 * with under 1.5% of requests turned away (README "Rate limits").
 */

/** One token bucket as the server reports it. */
export type Bucket = { limit: number; remaining: number; resetAtMs?: number }

/** The rate-limit headers of one reply; a bucket the server did not report is absent. */
export type RateLimitSnapshot = {
  requests?: Bucket
  tokens?: Bucket
  inputTokens?: Bucket
  outputTokens?: Bucket
  /** retry-after(-ms), in ms from when the reply arrived */
  retryAfterMs?: number
}

/** What a router reports back about each request it sends, besides its decision. */
export type RouteFeedback = {
  /** the rate-limit headers of the reply (success or error), read as the reply arrives */
  rateLimits(snapshot: RateLimitSnapshot): void
}

type HeaderSource = { get(name: string): string | null | undefined }

const BUCKETS = { requests: 'requests', tokens: 'tokens', inputTokens: 'input-tokens', outputTokens: 'output-tokens' } as const

/**
 * The `anthropic-ratelimit-*` headers and `retry-after` of a reply;
 * undefined when it has none (a server or proxy that does not send them).
 * `nowMs` is the local clock, for an HTTP-date retry-after.
 */
export function readRateLimits(headers: HeaderSource, nowMs: number = Date.now()): RateLimitSnapshot | undefined {
  const snapshot: RateLimitSnapshot = {}
  let found = false
  for (const [key, name] of Object.entries(BUCKETS) as [keyof typeof BUCKETS, string][]) {
    const limit = Number(headers.get(`anthropic-ratelimit-${name}-limit`) ?? Number.NaN)
    const remaining = Number(headers.get(`anthropic-ratelimit-${name}-remaining`) ?? Number.NaN)
    if (!(limit > 0) || !Number.isFinite(remaining)) continue
    const reset = Date.parse(headers.get(`anthropic-ratelimit-${name}-reset`) ?? '')
    snapshot[key] = { limit, remaining: Math.max(0, remaining), ...(Number.isNaN(reset) ? {} : { resetAtMs: reset }) }
    found = true
  }
  const retryAfterMs = readRetryAfter(headers, nowMs)
  if (retryAfterMs !== undefined) {
    snapshot.retryAfterMs = retryAfterMs
    found = true
  }
  return found ? snapshot : undefined
}

/** retry-after-ms, else retry-after in seconds or as an HTTP date; undefined when absent or unreadable. */
export function readRetryAfter(headers: HeaderSource | undefined, nowMs: number = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms')
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms))
  const raw = headers?.get('retry-after')
  if (!raw) return undefined
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs)
}

/** The share of the emptiest bucket that remains (1 when the server reported none). */
export function headroom(snapshot: RateLimitSnapshot | undefined): number {
  if (!snapshot) return 1
  let least = 1
  for (const key of Object.keys(BUCKETS) as (keyof typeof BUCKETS)[]) {
    const b = snapshot[key]
    if (b) least = Math.min(least, b.remaining / b.limit)
  }
  return least
}

/** Grow while at least this share of every bucket remains. */
export const GROW_ABOVE = 0.25
/** Shrink when less than this share of some bucket remains. */
export const SHRINK_BELOW = 0.1
/** The window after a bucket runs low, and after a 429 whose headers show the limits. */
const LOW_CUT = 0.7
const REJECT_CUT = 0.5

/** How one request ended, as the controller needs it. */
export type Outcome = {
  /** the number `dispatched` gave the request */
  seq: number
  /** when the reply arrived (ms, any monotonic clock shared with `dispatched` and `pausedUntil`) */
  now: number
  /** answered; turned away for the rate limits (429) or the server's load (529); or failed otherwise (timeout, 500, …) */
  result: 'ok' | 'rate-limited' | 'overloaded' | 'failed'
  snapshot?: RateLimitSnapshot | undefined
  /** when turned away: how long the server asked to wait (retry-after) */
  retryAfterMs?: number | undefined
}

export type ConcurrencyController = {
  /** requests allowed in flight now: 1 to the maximum */
  readonly window: number
  /** send nothing new before this time (a 429's or 529's retry-after) */
  readonly pausedUntil: number
  /** a request is sent: its sequence number, to give back with its outcome */
  dispatched(): number
  /** a request's reply (or rejection) arrived */
  settled(outcome: Outcome): void
}

const hasBuckets = (s: RateLimitSnapshot | undefined) => s !== undefined && (Object.keys(BUCKETS) as (keyof typeof BUCKETS)[]).some((k) => s[k] !== undefined)

/**
 * The window of requests in flight, between 1 and `max`. It starts from the
 * first reply's snapshot when there is one: what that request took from each
 * bucket (a bucket full before it, the run's first, lost `limit − remaining`)
 * says how many more would spend a tenth of what remains, and the first round
 * trip sends no more than that; 1 when a bucket is already under a tenth.
 * Without one it starts at `max`: a server that reports no limits is trusted
 * until it answers 429.
 *
 * A 429 whose reply shows the buckets is the API's limit (or its limit on
 * ramping up too fast): the window halves. A 429 without them (a proxy, a
 * gateway) cannot say whether this run caused it: after each window's worth
 * of replies (about a round trip's), the window loses the share of them
 * that were such 429s (at most half), so a storm halves it and a stray one
 * barely moves it: with a share p of requests rejected at random it settles
 * near 1/p, where promptfoo's halving on every 429 settles near √(2/p).
 * A 529 is the server's load, not this run's rate: it pauses for its
 * retry-after and leaves the window alone (the retries back off).
 */
export function createConcurrencyController(max: number, first?: RateLimitSnapshot): ConcurrencyController {
  let window = max
  // The first reply's cost to each bucket (what it took from a bucket full before it), to size the first round trip.
  for (const key of Object.keys(BUCKETS) as (keyof typeof BUCKETS)[]) {
    const b = first?.[key]
    const spent = b ? b.limit - b.remaining : 0
    if (b && spent >= 1) window = Math.min(window, Math.max(1, Math.floor((SHRINK_BELOW * b.remaining) / spent)))
  }
  if (headroom(first) < SHRINK_BELOW) window = 1
  let slowStart = headroom(first) >= GROW_ABOVE
  let nextSeq = 0
  let cutAfter = -1 // replies to requests numbered up to this one were sent before the last cut
  let pausedUntil = 0
  let roundReplies = 0
  let roundBlind429s = 0
  const cut = (factor: number, seq: number) => {
    slowStart = false
    if (seq <= cutAfter) return
    window = Math.max(1, window * factor)
    cutAfter = nextSeq - 1
  }
  return {
    get window() {
      return Math.max(1, Math.min(max, Math.floor(window)))
    },
    get pausedUntil() {
      return pausedUntil
    },
    dispatched: () => nextSeq++,
    settled({ seq, now, result, snapshot, retryAfterMs }) {
      roundReplies++
      if (result === 'rate-limited' && !hasBuckets(snapshot)) roundBlind429s++
      // A window's worth of replies: as many as are in flight at once, about one round trip's.
      if (roundReplies >= window) {
        if (roundBlind429s > 0) cut(Math.max(REJECT_CUT, 1 - roundBlind429s / roundReplies), seq)
        roundReplies = 0
        roundBlind429s = 0
      }
      if (result === 'rate-limited' || result === 'overloaded') {
        const wait = retryAfterMs ?? snapshot?.retryAfterMs
        if (wait !== undefined) pausedUntil = Math.max(pausedUntil, now + wait)
        if (result === 'overloaded') return
        if (hasBuckets(snapshot)) cut(REJECT_CUT, seq)
        else slowStart = false
        return
      }
      const left = headroom(snapshot)
      if (left < SHRINK_BELOW) cut(LOW_CUT, seq)
      else if (left < GROW_ABOVE) slowStart = false
      // Only an answer is evidence of room: a timeout or a 500 says nothing about the limits.
      else if (result === 'ok') window = Math.min(max, window + (slowStart ? 1 : 1 / window))
    },
  }
}
