import { spawn } from 'node:child_process'
import http from 'node:http'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadCatalogue } from '../src/load/catalogue.js'
import { readTemplate } from '../src/route/anthropic.js'
import { buildRequestPrefix } from '../src/route/anthropic-request.js'
import { startServer } from './harness.js'
import { benchPrompts } from './lexical.js'

/**
 * What a user waits for: the built CLI as a child process, timed from spawn
 * to exit, with the phases it reports under ROUTECHECK_TIMING=1 (src/text/timing.ts),
 * its CPU and its peak RSS. BENCH_CLI points at another build (say, one from
 * before a change) to compare the two on the same machine and load.
 */

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

export type CliRun = { wallMs: number; cpuMs: number; peakRssMb: number; phases: Record<string, number>; phaseCpu: Record<string, number>; stderr: string }

/** The phases' lines of a ROUTECHECK_TIMING=1 run; a phase that comes twice (two datasets) is summed. */
export function parseTiming(stderr: string): Omit<CliRun, 'wallMs' | 'stderr'> {
  const phases: Record<string, number> = {}
  const phaseCpu: Record<string, number> = {}
  let cpuMs = 0
  let peakRssMb = 0
  for (const m of stderr.matchAll(/^timing {2}(\S+)\s+([\d.]+) ms {2}cpu\s+([\d.]+) ms(?: {2}peak rss (\d+) MB)?$/gm)) {
    const [, name, ms, cpu, rss] = m
    if (name === 'total') {
      cpuMs = Number(cpu)
      peakRssMb = Number(rss)
      continue
    }
    phases[name!] = round((phases[name!] ?? 0) + Number(ms), 1)
    phaseCpu[name!] = round((phaseCpu[name!] ?? 0) + Number(cpu), 1)
  }
  return { phases, phaseCpu, cpuMs, peakRssMb }
}

/** Runs the CLI with timings on and returns its figures; throws with its stderr if it fails. */
export async function timeCli(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliRun> {
  const cli = process.env.BENCH_CLI ?? path.join(root, 'dist/cli/main.js')
  const started = performance.now()
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env, ROUTECHECK_TIMING: '1', NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d))
    child.on('exit', (c) => resolve({ code: c, stderr: err }))
  })
  const wallMs = performance.now() - started
  if (code !== 0) throw new Error(`routecheck ${args.join(' ')} exited ${code}: ${stderr.slice(-1500)}`)
  return { wallMs, stderr, ...parseTiming(stderr) }
}

/** A CSV of `rows` distinct prompts (routing.csv's, repeated and numbered) with routing.csv's labels. */
export function writeBenchDataset(file: string, rows: number): void {
  const labels = (readFileSync(path.join(root, 'datasets/routing.csv'), 'utf8').match(/^r\d+,[^,\n]*,([a-z-]+)/gm) ?? []).map((l) => l.split(',')[2]!)
  const prompts = benchPrompts(rows)
  const csv = ['id,prompt,expected', ...prompts.map((p, i) => `b${i},"${p.replace(/"/g, '""')}",${labels[i % labels.length] ?? 'none'}`)].join('\n')
  writeFileSync(file, `${csv}\n`)
}

/** The phases as one figure per key, for the results row. */
const phaseKeys = (phases: Record<string, number>) => Object.fromEntries(Object.entries(phases).map(([k, v]) => [`ms:${k}`, Math.round(v)]))

/**
 * The anthropic router end to end: `n` prompts at concurrency `c` against a
 * Messages-API server in another process (bench/serve.ts) answering every
 * request 50 ms after it arrived. Ideal = ceil(n / c) × 50 ms, the fan-out
 * alone with no start-up, loading or reports; the ratio is the user's wait
 * over it. CPU per request is the CLI's whole CPU over n.
 */
export async function benchCliHarness(concurrency: number, n = Math.max(400, 100 * concurrency), delayMs = 50): Promise<Record<string, number | string>> {
  const server = await startServer(delayMs)
  const dir = mkdtempSync(path.join(tmpdir(), 'routecheck-bench-e2e-'))
  try {
    writeBenchDataset(path.join(dir, 'cases.csv'), n)
    const args = ['eval', '--agents', path.join(root, 'agents'), '--router', 'anthropic', '--style', 'template', '--dataset', 'cases.csv', '--repeats', '1', '--concurrency', String(concurrency), '--out', 'run']
    const r = await timeCli(args, { cwd: dir, env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'bench' } })
    const ideal = Math.ceil(n / concurrency) * delayMs
    const route = r.phases.route ?? 0
    // Spawn to the end of routing: the run's wait if every report after it were free.
    const phases = Object.entries(r.phases)
    const untilRouted = phases.slice(0, phases.findIndex(([k]) => k === 'route') + 1).reduce((sum, [, ms]) => sum + ms, 0)
    return {
      n,
      concurrency,
      ms: Math.round(r.wallMs),
      idealMs: ideal,
      ratio: round(r.wallMs / ideal, 3),
      routeRatio: round(route / ideal, 3),
      untilRoutedRatio: round(untilRouted / ideal, 3),
      cpuMsPerRequest: round(r.cpuMs / n),
      routeCpuMsPerRequest: round((r.phaseCpu.route ?? 0) / n),
      cliPeakRssMb: r.peakRssMb,
      ...phaseKeys(r.phases),
    }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The lexical router end to end on `rows` prompts: prompts per second from spawn to exit, phases, CPU and peak RSS. */
export async function benchCliLexical(rows: number): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'routecheck-bench-e2e-'))
  try {
    writeBenchDataset(path.join(dir, 'cases.csv'), rows)
    const r = await timeCli(['eval', '--agents', path.join(root, 'agents'), '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })
    return {
      rows,
      ms: Math.round(r.wallMs),
      promptsPerSecond: Math.round((rows / r.wallMs) * 1000),
      cpuMsPerPrompt: round(r.cpuMs / rows, 3),
      cliPeakRssMb: r.peakRssMb,
      ...phaseKeys(r.phases),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The end-to-end floor under the harness case: bench/bare-client.mjs, a plain
 * Node program that sends the same requests (the template style's body for
 * the bundled agents, each prompt of the bench dataset) and nothing else,
 * timed like the CLI from spawn to exit against the same server. Its ratio is
 * what node start, the server and the network cost any client; routecheck's
 * own work is what the harness case adds over it.
 */
export async function benchBareProcess(concurrency: number, n = 100 * concurrency, delayMs = 50): Promise<Record<string, number | string>> {
  const server = await startServer(delayMs)
  const dir = mkdtempSync(path.join(tmpdir(), 'routecheck-bench-bare-'))
  try {
    const { catalogue } = await loadCatalogue(path.join(root, 'agents'))
    const prefix = buildRequestPrefix(catalogue, { model: 'claude-haiku-4-5', style: 'template', template: readTemplate(), maxTokens: 1024 })
    const input = path.join(dir, 'input.json')
    writeFileSync(input, JSON.stringify({ prefix, prompts: benchPrompts(n) }))
    const started = performance.now()
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [path.join(root, 'bench/bare-client.mjs'), server.url, input, String(concurrency)], { stdio: ['ignore', 'ignore', 'inherit'] })
      child.on('exit', resolve)
    })
    const ms = performance.now() - started
    if (code !== 0) throw new Error(`bench/bare-client.mjs exited ${code}`)
    const ideal = Math.ceil(n / concurrency) * delayMs
    return { n, concurrency, ms: Math.round(ms), idealMs: ideal, ratio: round(ms / ideal, 3) }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The floor under the harness case's routing: the same requests (the template style's
 * body for the bundled agents, each prompt of the bench dataset) from a bare
 * node:http client with keep-alive, `concurrency` at a time, against the same
 * server in another process; no SDK, no run engine, no CLI. What is left over
 * the ideal is the stand-in server's own work and the network, which no
 * client can remove.
 */
export async function benchBareClient(concurrency: number, n = 100 * concurrency, delayMs = 50): Promise<Record<string, number | string>> {
  const server = await startServer(delayMs)
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  try {
    const { catalogue } = await loadCatalogue(path.join(root, 'agents'))
    const prefix = buildRequestPrefix(catalogue, { model: 'claude-haiku-4-5', style: 'template', template: readTemplate(), maxTokens: 1024 })
    const prompts = benchPrompts(n)
    const url = new URL(`${server.url}/v1/messages`)
    const send = (prompt: string) =>
      new Promise<void>((resolve, reject) => {
        const body = JSON.stringify({ ...prefix, messages: [{ role: 'user', content: prompt }] })
        const req = http.request(
          { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': 'bench', 'anthropic-version': '2023-06-01', 'content-length': Buffer.byteLength(body) } },
          (res) => {
            const chunks: Buffer[] = []
            res.on('data', (c: Buffer) => chunks.push(c))
            res.on('end', () => (res.statusCode === 200 ? resolve(void JSON.parse(Buffer.concat(chunks).toString())) : reject(new Error(`HTTP ${res.statusCode}`))))
          },
        )
        req.on('error', reject)
        req.end(body)
      })
    let next = 0
    const cpu = process.cpuUsage()
    const started = performance.now()
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next < n) await send(prompts[next++]!) }))
    const ms = performance.now() - started
    const used = process.cpuUsage(cpu)
    const ideal = Math.ceil(n / concurrency) * delayMs
    return { n, concurrency, ms: Math.round(ms), idealMs: ideal, ratio: round(ms / ideal, 3), cpuMsPerRequest: round((used.user + used.system) / 1000 / n) }
  } finally {
    agent.destroy()
    await server.stop()
  }
}
