/**
 * A Messages-API server in its own process, for the benchmarks: answers every request after a
 * fixed delay (argv[2], ms), under the rate limits given as JSON in argv[3] (test/support/messages-server.ts
 * RateLimits), if any. Prints its URL; on SIGTERM, prints its counts and traffic as JSON and exits.
 */
import { startMessagesServer, type RateLimits } from '../test/support/messages-server.js'

const delayMs = Number(process.argv[2] ?? 50)
const rateLimits = process.argv[3] ? (JSON.parse(process.argv[3]) as RateLimits) : undefined
const server = await startMessagesServer({ delayMs, keepRequests: false, ...(rateLimits ? { rateLimits } : {}) })
process.stdout.write(`${server.url}\n`)
process.on('SIGTERM', () => {
  if (process.env.BENCH_SERVER_CPU) process.stderr.write(`server cpu ms: ${JSON.stringify(process.cpuUsage())}\n`)
  process.stdout.write(`${JSON.stringify({ ...server.counts(), ...server.traffic() })}\n`, () => void server.close().then(() => process.exit(0)))
})
