/**
 * A lean Messages-API stand-in for the replay benchmark, in its own process: reads each request
 * through without parsing it and, after a fixed delay from its arrival, streams one reply (an
 * Agent tool call, as Claude Code's requests get) as Server-Sent Events. The test server
 * (test/support/messages-server.ts) parses and keeps every 100 KB body, which at 640 requests a
 * second makes it, not the client, the thing measured.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

const delayMs = Number(process.argv[2] ?? 50)
const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
const reply =
  event('message_start', { message: { id: 'msg_bench', type: 'message', role: 'assistant', model: 'claude-haiku-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 30, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 25_000 } } }) +
  event('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_bench', name: 'Agent', input: {} } }) +
  event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"subagent_type":"golang-pro",' } }) +
  event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '"description":"Fix the leak","prompt":"Fix the goroutine leak"}' } }) +
  event('content_block_stop', { index: 0 }) +
  event('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 20 } }) +
  event('message_stop', {})

let bytes = 0
let requests = 0
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const arrived = performance.now()
  req.on('data', (chunk: Buffer) => (bytes += chunk.length))
  req.on('end', () => {
    requests++
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_bench' })
      res.end(reply)
    }, Math.max(0, delayMs - (performance.now() - arrived)))
  })
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`))
process.on('SIGTERM', () => {
  if (process.env.BENCH_SERVER_CPU) process.stderr.write(`server: ${requests} requests, ${Math.round(bytes / 1024)} KB, cpu ms ${JSON.stringify(process.cpuUsage())}\n`)
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
