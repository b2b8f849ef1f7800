import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Catalogue } from '../../load/catalogue.js'
import { createClaudeCodeRouter, type ClaudeCodeOptions } from './router.js'

/**
 * Claude Code's exact routing request for a catalogue, captured once by running the engine
 * against a server on 127.0.0.1 that records what it receives and answers in text. With it,
 * the anthropic router can later send the very same request itself, without the engine.
 */
export type CapturedRequest = {
  /** Claude Code's version that built the request */
  version: string
  /** the path and query it posted to, e.g. "/v1/messages?beta=true" */
  url: string
  /** request headers, minus credentials and per-connection ones */
  headers: Record<string, string>
  /** the parsed JSON body (stream: true; the prompt is the last text block of the last message) */
  body: Record<string, unknown>
  /** every request the engine made, in order (one with non-essential traffic off) */
  requests: number
}

const DROPPED_HEADERS = new Set(['host', 'content-length', 'connection', 'x-api-key', 'authorization', 'accept-encoding'])

export async function captureEngineRequest(catalogue: Catalogue, opts: Omit<ClaudeCodeOptions, 'env'> & { prompt?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CapturedRequest> {
  const seen: { url: string; headers: http.IncomingHttpHeaders; body: unknown }[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        body = undefined
      }
      seen.push({ url: req.url ?? '/', headers: req.headers, body })
      const url = new URL(req.url ?? '/', 'http://localhost')
      if (req.method === 'POST' && url.pathname === '/v1/messages') return replyText(res, body)
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not served by the capture server' } }))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const { ANTHROPIC_AUTH_TOKEN: _token, ...env } = opts.env ?? process.env
  const router = await createClaudeCodeRouter({
    ...opts,
    maxRetries: 0,
    env: { ...env, ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`, ANTHROPIC_API_KEY: 'routecheck-capture' },
  })
  try {
    await router.route(opts.prompt ?? 'Hello', catalogue, new AbortController().signal)
  } finally {
    await router.close()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  const routing = seen.filter((r) => isObject(r.body) && Array.isArray(r.body.tools) && r.body.tools.length > 0).at(-1)
  if (!routing || !isObject(routing.body)) throw new Error(`Claude Code ${router.version} sent no routing request to the capture server (${seen.length} requests)`)
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(routing.headers)) {
    if (!DROPPED_HEADERS.has(name) && value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return { version: router.version, url: routing.url, headers, body: routing.body, requests: seen.length }
}

/**
 * The captured request with another prompt: the last text block of the last user message, and
 * the fingerprint in the billing header, which Claude Code derives from the prompt (found by
 * comparing captures; test/claude-code.test.ts checks it against the engine). The metadata's
 * session id is left as captured.
 */
export function withPrompt(captured: Pick<CapturedRequest, 'body' | 'version'>, prompt: string): Record<string, unknown> {
  const body = structuredClone(captured.body) as { system?: { type: string; text?: string }[]; messages?: { role: string; content: unknown }[] }
  const last = body.messages?.at(-1)
  const blocks = Array.isArray(last?.content) ? (last.content as { type: string; text?: string }[]) : undefined
  const text = blocks?.findLast((b) => b.type === 'text')
  if (!text) throw new Error('the captured request has no prompt block')
  text.text = prompt
  for (const block of body.system ?? []) {
    if (block.type === 'text' && block.text?.startsWith('x-anthropic-billing-header:')) {
      block.text = block.text.replace(/cc_version=[^;]*/, `cc_version=${captured.version}.${promptFingerprint(prompt, captured.version)}`)
    }
  }
  return body as Record<string, unknown>
}

/** Three hex digits from characters 4, 7 and 20 of the prompt and the version. */
export function promptFingerprint(prompt: string, version: string): string {
  const chars = [4, 7, 20].map((i) => prompt[i] ?? '0').join('')
  return createHash('sha256').update(`59cf53e54c78${chars}${version}`).digest('hex').slice(0, 3)
}

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A streamed text reply (Claude Code always streams). */
function replyText(res: http.ServerResponse, body: unknown): void {
  const model = isObject(body) && typeof body.model === 'string' ? body.model : 'unknown'
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  const send = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
  const usage = { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
  send('message_start', { message: { id: 'msg_capture', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage } })
  send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
  send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Captured.' } })
  send('content_block_stop', { index: 0 })
  send('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } })
  send('message_stop', {})
  res.end()
}
