/** A Messages-API server in its own process, for the harness benchmark: answers every request after a fixed delay. */
import { startMessagesServer } from '../test/support/messages-server.js'

const delayMs = Number(process.argv[2] ?? 50)
const server = await startMessagesServer({ delayMs })
process.stdout.write(`${server.url}\n`)
process.on('SIGTERM', () => {
  if (process.env.BENCH_SERVER_CPU) process.stderr.write(`server cpu ms: ${JSON.stringify(process.cpuUsage())}\n`)
  void server.close().then(() => process.exit(0))
})
