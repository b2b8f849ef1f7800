import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CLI, tempProject } from './support/cli.js'
import { startMessagesServer, type MessagesServer } from './support/messages-server.js'

let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** The built CLI routing routing.csv with the anthropic router against a slow local server, stopped by `signal` once 60 requests arrived. */
async function stopMidRun(signal: NodeJS.Signals) {
  const dir = await tempProject({ datasets: true })
  server = await startMessagesServer({ delayMs: 20, models: ['claude-haiku-4-5'] })
  const s = server
  const args = ['eval', '--router', 'anthropic', '--dataset', 'datasets/routing.csv', '--repeats', '1', '--concurrency', '4', '--out', 'run']
  const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: 'test-key', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  while (s.requests.length < 60) await new Promise((r) => setTimeout(r, 5))
  child.kill(signal)
  return { dir, code: await exited, stderr, sent: s.requests.length }
}

describe('SIGTERM and SIGHUP stop a run as Ctrl-C does', () => {
  it.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s: stops sending, writes the run folder with what is done, exits 3', async (signal) => {
    const { dir, code, stderr, sent } = await stopMidRun(signal)
    expect(code).toBe(3)
    expect(stderr).toContain(`stopping (${signal})`)
    expect(sent).toBeLessThan(352)
    const summary = JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8')) as { metrics: { decided: number; errored: number }; requests: { notSent: number } }
    expect(summary.metrics.decided + summary.metrics.errored).toBe(352)
    expect(summary.metrics.decided).toBeGreaterThanOrEqual(56)
    expect(summary.requests.notSent).toBeGreaterThan(0)
  })
})
