import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { redact, redactUrlCredentials, setSecrets, URL_CREDENTIALS } from '../src/text/safe.js'
import { seededRandom } from '../src/score/stats.js'
import { runInProcess, tempProject, writeFiles } from './support/cli.js'

const KEY = 'sk-ant-test-0123456789-SECRET'

/** A Messages server that answers the first request, then echoes the key back in every error kind (and in a tool input). */
function echoServer(): Promise<{ url: string; close: () => Promise<void> }> {
  let n = 0
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const key = String(req.headers['x-api-key'] ?? req.headers.authorization ?? '')
      const i = n++
      if (i === 0 || i % 5 === 1) {
        // A tool call whose input carries the key: only the agent name is kept, but say it all the same.
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ id: `m${i}`, type: 'message', role: 'assistant', model: 'claude-haiku-4-5', stop_reason: 'tool_use', content: [{ type: 'tool_use', id: 't', name: 'Agent', input: { subagent_type: 'golang-pro', prompt: `use ${key}` } }], usage: { input_tokens: 10, output_tokens: 5 } }))
        return
      }
      const status = [500, 400, 429, 502, 503][i % 5]!
      const html = status === 502
      res.writeHead(status, { 'content-type': html ? 'text/html' : 'application/json', 'retry-after': '0' })
      res.end(html ? `<html><body>bad gateway for ${key}</body></html>` : JSON.stringify({ type: 'error', error: { type: 'api_error', message: `upstream refused key ${key} (Authorization: Bearer ${key})` } }))
    })
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) })),
  )
}

let close: (() => Promise<void>) | undefined
afterEach(async () => {
  await close?.()
  close = undefined
})

/** Every file under dir, as text. */
async function everything(dir: string): Promise<Array<{ file: string; text: string }>> {
  const out: Array<{ file: string; text: string }> = []
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    const file = path.join(e.parentPath, e.name)
    out.push({ file: path.relative(dir, file), text: await readFile(file, 'utf8') })
  }
  return out
}

describe('the key is redacted at every sink', () => {
  it('a server echoing the key in 500, 400, 429, 502 (HTML) and 503 errors and in a tool input: 0 occurrences in anything routecheck printed or wrote', async () => {
    const dir = await tempProject()
    const rows = Array.from({ length: 20 }, (_, i) => `k${i},my goroutines leak ${i},golang-pro`)
    await writeFiles(dir, { 'cases.csv': `id,prompt,expected\n${rows.join('\n')}\n`, 'routecheck.config.json': JSON.stringify({ maxTries: 1 }) })
    const s = await echoServer()
    close = s.close
    const env = { ANTHROPIC_BASE_URL: s.url.replace('http://', 'http://admin:hunter2-password@'), ANTHROPIC_API_KEY: KEY }
    const r = await runInProcess(['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'cases.csv', '--repeats', '1', '--concurrency', '1', '--out', 'run'], { cwd: dir, env })
    expect(r.code, r.stderr).toBe(3) // some cases errored
    const files = await everything(dir)
    // The echoes happened, and what they said was kept, redacted.
    expect(files.find((f) => f.file === 'run/results.jsonl')!.text).toMatch(/upstream refused key Bearer \[redacted\]/)
    const searched = [...files.map((f) => f.file), 'stdout', 'stderr']
    expect(searched).toEqual(expect.arrayContaining(['run/summary.json', 'run/results.jsonl', 'run/junit.xml', 'run/report.md', 'run/report.html']))
    expect(searched.some((f) => f.startsWith('.routecheck/cache/'))).toBe(true)
    const haystack = [...files.map((f) => f.text), r.stdout, r.stderr].join('\n')
    const count = (needle: string) => haystack.split(needle).length - 1
    expect({ key: count(KEY), password: count('hunter2-password') }).toEqual({ key: 0, password: 0 })
    console.info(`secrets test: searched ${searched.length} files and streams (${searched.join(', ')}); the key appears ${count(KEY)} times`)
  })

  it('redact: keys as they are and URL-encoded, user:password in URLs, Authorization and x-api-key values', () => {
    setSecrets({ ANTHROPIC_API_KEY: 'sk-ant-abc/def+ghi', GITHUB_TOKEN: 'ghp_0123456789' })
    expect(redact('key sk-ant-abc/def+ghi and sk-ant-abc%2Fdef%2Bghi and ghp_0123456789')).toBe('key [redacted] and [redacted] and [redacted]')
    expect(redact('cannot reach https://bob:pw@example.test/v1')).toBe('cannot reach https://[redacted]@example.test/v1')
    expect(redact('{"authorization": "Bearer abc.def", "x-api-key":"zzz"}')).toBe('{"authorization": "[redacted]", "x-api-key":"[redacted]"}')
    setSecrets({})
  })
})

describe('finding user:password in URLs', () => {
  it('redactUrlCredentials finds exactly what the regular expression finds, on 20,000 random texts built to hold near-misses', () => {
    const random = seededRandom(42)
    const pieces = ['://', 'https', 'http', 'git+ssh', 'x.y-z', 'a', 'B', '_', '9', '@', ':', '/', ' ', '\n', '\t', '\u00a0', 'user', 'pw', '.', '-', '+', 'é', '%40', 'host', '::', '//', '@@']
    for (let n = 0; n < 20_000; n++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 14) }, () => pieces[Math.floor(random() * pieces.length)]!).join('')
      expect(redactUrlCredentials(text), JSON.stringify(text)).toBe(text.replace(URL_CREDENTIALS, '$1[redacted]@'))
    }
  })
})
