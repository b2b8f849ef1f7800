import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeFetch } from '../src/route/node-fetch.js'

/**
 * routecheck's fetch (node:http underneath, a lean Response on top) against
 * the built-in fetch, on the same replies from a real server: whatever a
 * caller reads of a Response must read the same.
 */
let server: http.Server
let base = ''
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      switch (req.url) {
        case '/json':
          res.writeHead(200, { 'Content-Type': 'application/json', 'Request-Id': 'req_1', 'X-Echo-Length': String(body.length), 'X-Echo-Header': String(req.headers['x-test'] ?? ''), 'anthropic-ratelimit-requests-remaining': '41' })
          return res.end(JSON.stringify({ hello: 'wörld', n: 1 }))
        case '/limited':
          res.setHeader('set-cookie', ['a=1', 'b=2'])
          res.setHeader('vary', ['accept', 'origin'])
          res.writeHead(429, 'Too Many Requests', { 'retry-after': '3', 'content-type': 'application/json' })
          return res.end('{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}')
        case '/empty':
          res.writeHead(204)
          return res.end()
        case '/bom':
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
          return res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('ünïcode')]))
        case '/sse':
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          res.write('event: message_start\ndata: {"a":1}\n\n')
          return setTimeout(() => res.end('event: message_stop\ndata: {}\n\n'), 5)
        default:
          res.writeHead(404)
          return res.end('no')
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

const lean = createNodeFetch()
const both = (path: string, init?: RequestInit) => Promise.all([fetch(`${base}${path}`, init), lean(`${base}${path}`, init)])
const view = (r: Response) => ({ status: r.status, ok: r.ok, statusText: r.statusText, url: r.url, headers: [...r.headers].filter(([k]) => !['date', 'keep-alive', 'connection'].includes(k)) })

describe('node:http fetch with a lean Response', () => {
  it('reads a JSON reply as fetch does: status, headers (sorted, case-insensitive), url, JSON; and sends the headers and body it was given', async () => {
    const init = { method: 'POST', headers: new Headers({ 'X-Test': 'yes', 'content-type': 'application/json' }), body: '{"q":"é"}' }
    const [a, b] = await both('/json', init)
    expect(view(b)).toEqual(view(a))
    expect(b.headers.get('REQUEST-ID')).toBe('req_1')
    expect(b.headers.get('x-echo-header')).toBe('yes')
    expect(b.headers.get('x-echo-length')).toBe(a.headers.get('x-echo-length'))
    expect(b.headers.has('Content-Type')).toBe(true)
    expect(b.headers.get('nope')).toBeNull()
    expect(b.headers instanceof Headers).toBe(true)
    expect(await b.json()).toEqual(await a.json())
    expect(b.bodyUsed).toBe(true)
    await expect(b.text()).rejects.toThrow(TypeError)
  })

  it('a 429: status text, repeated headers joined as fetch joins them, set-cookie apart, and the body as text', async () => {
    const [a, b] = await both('/limited')
    expect(view(b)).toEqual(view(a))
    expect(b.headers.get('vary')).toBe(a.headers.get('vary'))
    expect(b.headers.getSetCookie()).toEqual(a.headers.getSetCookie())
    expect(await b.text()).toBe(await a.text())
    expect(() => b.headers.set('x', '1')).toThrow(TypeError)
  })

  it('no body for a 204; a byte-order mark dropped from text; a streamed reply read as chunks of the same bytes', async () => {
    const [a, b] = await both('/empty')
    expect([b.status, b.body]).toEqual([a.status, a.body])
    expect(await b.text()).toBe(await a.text())
    const [c, d] = await both('/bom')
    expect(await d.text()).toBe(await c.text())
    const [e, f] = await both('/sse')
    const read = async (r: Response) => {
      const parts: Uint8Array[] = []
      for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) parts.push(chunk)
      return Buffer.concat(parts).toString()
    }
    expect(await read(f)).toBe(await read(e))
    expect(f.bodyUsed).toBe(true)
  })

  it('a refused connection is a TypeError with the system error as its cause; an aborted request rejects with the signal reason', async () => {
    const closed = http.createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const refused = await lean(`http://127.0.0.1:${port}/x`).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(TypeError)
    expect(((refused as Error).cause as { code?: string }).code).toBe('ECONNREFUSED')
    const stop = new AbortController()
    const pending = lean(`${base}/sse`, { signal: stop.signal })
    stop.abort(new Error('stopped'))
    await expect(pending).rejects.toThrow('stopped')
  })
})
