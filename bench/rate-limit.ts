import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadCatalogue } from '../src/load/catalogue.js'
import type { Case } from '../src/load/dataset.js'
import { createAnthropicRouter } from '../src/route/anthropic.js'
import type { Router } from '../src/route/router.js'
import { routeCases } from '../src/route/run.js'
import type { RateLimits } from '../test/support/messages-server.js'
import { startServer } from './harness.js'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits

/** How the run sets its concurrency: the controller (rate-limit.ts); the controller told nothing but 429s and retry-after (promptfoo's rule: halve on 429); or fixed. */
export type Mode = 'adaptive' | '429-only' | 'fixed'

/**
 * The two servers: one limited in requests (150 a second, a bucket of one
 * second's worth), one in input tokens (3.6 M a minute, 60,000 a second, a
 * bucket of one second's worth; prompts of ~400 tokens, so about 150
 * requests a second too). Both answer 100 ms after a request arrives, so 15
 * requests in flight reach the limit: fixed 8 leaves half of it idle, fixed
 * 64 asks for four times it. (At 50 ms and 300 a second, the two processes'
 * CPU on this 2-core machine, not the limit, set the pace.)
 */
export const SCENARIOS = {
  requests: { limits: { requests: { limit: 150, perSecond: 150 } } satisfies RateLimits, promptWords: 12 },
  'input-tokens': { limits: { requests: { limit: 5000, perSecond: 5000 }, inputTokens: { limit: 60_000, perSecond: 60_000 } } satisfies RateLimits, promptWords: 170 },
} as const

const TOPICS = ['my goroutines leak when the grpc client cancels', 'terraform wants to destroy the kubernetes cluster', 'the swiftui list stutters on scroll', 'this postgres query plan ignores the index']

/**
 * `n` requests through the anthropic router (template style, real SDK and
 * HTTP) against a rate-limited Messages-API server in another process
 * (bench/serve.ts), with the run's concurrency set by `mode` and at most
 * `concurrency` in flight. Throughput counts answered requests over the
 * routing's wall time; the share of the limit divides it by what the
 * binding bucket could admit in that time (its refill plus the full bucket
 * it started with).
 */
export async function benchRateLimit(scenario: keyof typeof SCENARIOS, mode: Mode, concurrency: number, n = 2000, delayMs = 100): Promise<Record<string, number | string>> {
  const { limits, promptWords } = SCENARIOS[scenario]
  const server = await startServer(delayMs, 'serve.ts', [JSON.stringify(limits)])
  let counts
  let result
  try {
    const { catalogue } = await loadCatalogue(path.join(root, 'agents'))
    const filler = Array.from({ length: promptWords }, (_, i) => `detail${i % 50}`).join(' ')
    const cases: Case[] = Array.from({ length: n }, (_, i) => ({ id: `q${i}`, prompt: `${TOPICS[i % TOPICS.length]} (ticket ${i}) ${filler}`, expected: ['none'], tags: [], line: i + 2 }))
    const base = await createAnthropicRouter({ style: 'template', timeoutMs: 60_000, env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'bench' } })
    const router: Router = mode === '429-only' ? { ...base, route: (p, c, s, feedback) => base.route(p, c, s, feedback && { rateLimits: (snap) => snap.retryAfterMs !== undefined && feedback.rateLimits({ retryAfterMs: snap.retryAfterMs }) }) } : base
    let windows = 0
    let windowSum = 0
    let lastWindow = 0
    let lastAt = 0
    const started = performance.now()
    const attempts = await routeCases(cases, catalogue, router, {
      repeats: 1,
      concurrency,
      timeoutMs: 60_000,
      warmUp: true,
      adaptive: mode !== 'fixed',
      // The time-weighted mean window, to show where the controller settled.
      onWindow: (w) => {
        const now = performance.now()
        if (lastAt > 0) {
          windowSum += lastWindow * (now - lastAt)
          windows += now - lastAt
        }
        lastWindow = w
        lastAt = now
      },
    })
    const ms = performance.now() - started
    if (lastAt > 0) {
      windowSum += lastWindow * (performance.now() - lastAt)
      windows += performance.now() - lastAt
    }
    const answered = attempts.filter((a) => a.decision).length
    result = { answered, ms, meanWindow: windows > 0 ? windowSum / windows : concurrency }
  } finally {
    counts = await server.stop()
  }
  // The binding bucket: the one whose admitted cost came nearest to what it could admit in the time (its refill plus the full bucket it started with).
  const seconds = result.ms / 1000
  const share = Math.max(
    (counts?.admitted.requests ?? 0) / (limits.requests.limit + limits.requests.perSecond * seconds),
    'inputTokens' in limits ? (counts?.admitted['input-tokens'] ?? 0) / (limits.inputTokens.limit + limits.inputTokens.perSecond * seconds) : 0,
  )
  const sent = counts?.requests ?? 0
  return {
    limit: scenario,
    mode: mode === 'fixed' ? `fixed ${concurrency}` : `${mode} ≤${concurrency}`,
    n,
    ms: Math.round(result.ms),
    perSecond: Math.round((result.answered / result.ms) * 1000),
    shareOfLimit: round(share),
    rejected429: counts?.rateLimited ?? 0,
    rejectedShare: round((counts?.rateLimited ?? 0) / Math.max(1, sent)),
    meanWindow: round(result.meanWindow, 1),
    peakInFlight: counts?.peakInFlight ?? 0,
    failed: n - result.answered,
  }
}
