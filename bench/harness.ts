import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadCatalogue } from '../src/load/catalogue.js'
import type { Case } from '../src/load/dataset.js'
import { createAnthropicRouter } from '../src/route/anthropic.js'
import { routeCases } from '../src/route/run.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.join(here, '..')

/** Starts bench/serve.ts (or another server script of bench/) in another process, so the server's work does not share the client's event loop. */
export async function startServer(delayMs: number, script = 'serve.ts'): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, script), String(delayMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
  return { url, stop: () => child.kill('SIGTERM') }
}

/**
 * Harness overhead: N cases through the anthropic router (real SDK, real
 * HTTP) against a server that answers after a fixed delay, at concurrency c.
 * The ideal wall time is ceil(N / c) × delay; the ratio says what the harness
 * adds on top (the warm-up request is counted, as a real run pays it too).
 */
export async function benchHarness(concurrency: number, n = 2000, delayMs = 50): Promise<Record<string, number>> {
  const server = await startServer(delayMs)
  try {
    const { catalogue } = await loadCatalogue(path.join(root, 'agents'))
    const cases: Case[] = Array.from({ length: n }, (_, i) => ({ id: `h${i}`, prompt: `my goroutines leak when the grpc client cancels (request ${i})`, expected: ['golang-pro'], tags: [], line: i + 2 }))
    const router = await createAnthropicRouter({ style: 'template', timeoutMs: 60_000, env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'bench' } })
    const cpu = process.cpuUsage()
    const started = performance.now()
    const attempts = await routeCases(cases, catalogue, router, { repeats: 1, concurrency, timeoutMs: 60_000, warmUp: true })
    const ms = performance.now() - started
    const used = process.cpuUsage(cpu)
    const failed = attempts.filter((a) => a.error).length
    const ideal = Math.ceil(n / concurrency) * delayMs
    // Client CPU per request: what the harness itself costs, whatever the machine's load.
    const clientCpuMsPerRequest = Math.round(((used.user + used.system) / 1000 / n) * 100) / 100
    return { n, concurrency, ms: Math.round(ms), idealMs: ideal, ratio: Math.round((ms / ideal) * 1000) / 1000, clientCpuMsPerRequest, failed }
  } finally {
    server.stop()
  }
}
