import http from 'node:http'
import https from 'node:https'

/**
 * A `fetch` for the Anthropic SDK on Node's own http(s) client with
 * keep-alive. The SDK, its headers, errors and timeouts stay as they are;
 * only the transport changes. Why: at 32 requests in flight the harness
 * benchmark spent 1.4 ms of CPU per request with the built-in fetch (undici's
 * WHATWG streams), against 0.4 ms for the same request on node:http, and the
 * client, not the network, was what kept a run above the ideal time.
 */
export function createNodeFetch(): typeof fetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
  }
  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
    const client = url.protocol === 'https:' ? https : http
    const agent = agents[url.protocol as keyof typeof agents]
    if (!agent) throw new TypeError(`fetch failed: unsupported protocol ${url.protocol}`)
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((value, key) => (headers[key] = value))
    const body = await bodyBytes(init.body)
    if (body) headers['content-length'] = String(body.byteLength)
    const signal = init.signal ?? undefined

    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new DOMException('aborted', 'AbortError'))
      const req = client.request(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', (e) => reject(new TypeError('fetch failed', { cause: e })))
        res.on('end', () => {
          signal?.removeEventListener('abort', onAbort)
          const responseHeaders = new Headers()
          for (const [key, value] of Object.entries(res.headers)) {
            if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v)
            else if (value !== undefined) responseHeaders.set(key, value)
          }
          const status = res.statusCode ?? 502
          const payload = status === 204 || status === 304 ? null : Buffer.concat(chunks)
          resolve(new Response(payload, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }))
        })
      })
      const onAbort = () => {
        req.destroy()
        reject(signal?.reason ?? new DOMException('aborted', 'AbortError'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      // Like fetch: a network failure is a TypeError whose cause is the system error (ECONNREFUSED, …).
      req.on('error', (e) => {
        signal?.removeEventListener('abort', onAbort)
        reject(new TypeError('fetch failed', { cause: e }))
      })
      req.end(body)
    })
  }) as typeof fetch
}

async function bodyBytes(body: RequestInit['body']): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return Buffer.from(body)
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  // Anything else (streams, forms) goes through a Response, which knows how to read them all.
  return Buffer.from(await new Response(body).arrayBuffer())
}
