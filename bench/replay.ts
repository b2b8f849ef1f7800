import { mkdtemp, rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadCatalogue } from '../src/load/catalogue.js'
import type { Case } from '../src/load/dataset.js'
import { createAnthropicRouter } from '../src/route/anthropic.js'
import { createClaudeCodeRouter } from '../src/route/claude-code/index.js'
import { routeCases } from '../src/route/run.js'
import { startServer } from './harness.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.join(here, '..')

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

/** Prompts the server's word-overlap rule sends to custom agents, built-ins and plain answers alike. */
const TOPICS = ['my goroutines leak when the grpc client cancels', 'terraform wants to destroy the kubernetes cluster', 'find files by pattern and grep for symbols', 'Plan the implementation strategy and its architectural trade-offs', 'what is the capital of peru']
const casesOf = (n: number): Case[] => Array.from({ length: n }, (_, i) => ({ id: `r${i}`, prompt: `${TOPICS[i % TOPICS.length]} (request ${i})`, expected: ['none'], tags: [], line: i + 2 }))

/**
 * The anthropic router's replay of Claude Code's request (style claude-code): N cases against a
 * server in another process that answers after a fixed delay, at concurrency c. The one-off
 * capture (Claude Code run once) is timed apart; the ratio is the routing phase's wall time over
 * the ideal ceil(N / c) × delay, warm-up request included, as in the harness case. `lean` is
 * bench/serve-stream.ts (reads each 100 KB request through, streams a fixed reply); `test` is
 * the test suite's server, which parses, ranks and keeps every request.
 */
export async function benchReplay(concurrency: number, server_: 'lean' | 'test' = 'lean', n = 2000, delayMs = 50): Promise<Record<string, number | string>> {
  const server = await startServer(delayMs, server_ === 'lean' ? 'serve-stream.ts' : 'serve.ts')
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'routecheck-bench-replay-'))
  try {
    const { catalogue } = await loadCatalogue(path.join(root, 'agents'))
    const env = { PATH: process.env.PATH, ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'bench' }
    const make = () => createAnthropicRouter({ timeoutMs: 60_000, env, catalogue, cacheDir })
    let started = performance.now()
    await make()
    const captureMs = performance.now() - started
    started = performance.now()
    const router = await make() // the stored capture, as a second run finds it
    const reuseMs = performance.now() - started
    const bodyChars = JSON.stringify((router.preview!('x', catalogue) as { body: unknown }).body).length
    const cases = casesOf(n)
    const cpu = process.cpuUsage()
    started = performance.now()
    const attempts = await routeCases(cases, catalogue, router, { repeats: 1, concurrency, timeoutMs: 60_000, warmUp: true })
    const ms = performance.now() - started
    const used = process.cpuUsage(cpu)
    const ideal = Math.ceil(n / concurrency) * delayMs
    return {
      server: server_,
      n,
      concurrency,
      ms: Math.round(ms),
      idealMs: ideal,
      ratio: round(ms / ideal, 3),
      clientCpuMsPerRequest: round((used.user + used.system) / 1000 / n),
      requestKb: round(bodyChars / 1024, 1),
      captureMs: Math.round(captureMs),
      reuseMs: Math.round(reuseMs),
      failed: attempts.filter((a) => a.error).length,
    }
  } finally {
    await server.stop()
    await rm(cacheDir, { recursive: true, force: true })
  }
}

/** CPU seconds of this process's children that have exited (Linux: /proc/self/stat cutime + cstime). */
function childCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')
  // After "pid (comm) ": state is field 3, so cutime (16) and cstime (17) are at 13 and 14 here; clock ticks of 10 ms.
  return (Number(fields[13]) + Number(fields[14])) * 10
}

/**
 * The claude-code router (Claude Code itself, one process per case) against the same server:
 * cases per second and CPU per case, this process and the engines together, at concurrency c.
 * No warm-up request: the figure is the steady rate.
 */
export async function benchEngine(concurrency: number, n = 16, delayMs = 50): Promise<Record<string, number>> {
  const server = await startServer(delayMs)
  try {
    const { catalogue } = await loadCatalogue(path.join(root, 'agents'))
    const router = await createClaudeCodeRouter({ env: { PATH: process.env.PATH, ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'bench' }, timeoutMs: 120_000 })
    try {
      const cases = casesOf(n)
      const cpu = process.cpuUsage()
      const children = childCpuMs()
      const started = performance.now()
      const attempts = await routeCases(cases, catalogue, router, { repeats: 1, concurrency, timeoutMs: 120_000, warmUp: false })
      const ms = performance.now() - started
      // Engines that answered exit by themselves at once; give the last ones a moment to be reaped and counted.
      await new Promise((resolve) => setTimeout(resolve, 1500))
      const own = process.cpuUsage(cpu)
      const engines = childCpuMs() - children
      return {
        n,
        concurrency,
        ms: Math.round(ms),
        casesPerSecond: round(n / (ms / 1000)),
        msPerCase: Math.round(ms / n),
        cpuMsPerCase: Math.round(((own.user + own.system) / 1000 + engines) / n),
        engineCpuMsPerCase: Math.round(engines / n),
        failed: attempts.filter((a) => a.error).length,
      }
    } finally {
      await router.close()
    }
  } finally {
    await server.stop()
  }
}
