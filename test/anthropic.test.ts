import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadPrices, priceFor, usageCost } from '../src/route/cost.js'
import { casesCsv, CLI, runCli, SIX_CASES, tempProject, writeFiles } from './support/cli.js'
import { faultOnFirstAttempt, parseAgentLines, startMessagesServer, type MessagesServer, type ServerOptions } from './support/messages-server.js'

/**
 * The anthropic router against a real HTTP server speaking the Messages API,
 * through the real SDK and the real CLI. The server answers by a fixed rule,
 * so two runs can be compared decision by decision. Tests of the request's
 * shape, of a malformed Agent call and of the budget use --style template,
 * routecheck's own request; the default style's replay of Claude Code's
 * request is tested in anthropic-replay.test.ts.
 */
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function serve(opts: ServerOptions = {}): Promise<MessagesServer> {
  server = await startMessagesServer({ retryAfter: '0.01', models: ['claude-haiku-4-5'], ...opts })
  return server
}
const envFor = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: 'test-key' })
const summaryOf = async (dir: string, run = 'run') => JSON.parse(await readFile(path.join(dir, run, 'summary.json'), 'utf8'))
const decisions = (s: { cases: Array<{ id: string; decision: string | null }> }) => s.cases.map((c) => [c.id, c.decision])

describe('anthropic router: faults, retries and the prompt cache', () => {
  it('routing.csv with 20% of first attempts failing decides every case as a fault-free run does, and counts the retries', async () => {
    const dir = await tempProject({ datasets: true })
    const clean = await serve()
    const args = ['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'datasets/routing.csv', '--repeats', '1', '--concurrency', '16', '--timeout', '2', '--no-cache']
    const first = await runCli([...args, '--out', 'clean'], { cwd: dir, env: envFor(clean) })
    expect(first.code).toBe(0)
    await clean.close()

    const faulty = await serve({ slowMs: 5000, fault: faultOnFirstAttempt(0.2, ['rate_limit', 'server_error', 'overloaded', 'slow', 'drop', 'bad_tool_input']) })
    const second = await runCli([...args, '--out', 'faulty'], { cwd: dir, env: envFor(faulty) })
    expect(second.code, second.stderr).toBe(0)
    const counts = faulty.counts()
    const injected = Object.values(counts.faults).reduce((a, b) => a + b, 0)
    expect(injected).toBeGreaterThan(352 * 0.12)
    expect(Object.keys(counts.faults).sort()).toEqual(['bad_tool_input', 'drop', 'overloaded', 'rate_limit', 'server_error', 'slow'])

    const a = await summaryOf(dir, 'clean')
    const b = await summaryOf(dir, 'faulty')
    expect(b.metrics.errored).toBe(0)
    expect(decisions(b)).toEqual(decisions(a))
    expect(b.metrics.accuracy).toBe(a.metrics.accuracy)
    // Every injected fault cost one retry (a busy machine may add a timeout or two), and every try reached the server.
    expect(b.requests).toMatchObject({ sent: 352, errored: 0 })
    expect(b.requests.retries).toBeGreaterThanOrEqual(injected)
    expect(counts.requests).toBe(352 + b.requests.retries)
    expect(second.stdout).toMatch(new RegExp(`requests 352 sent \\(${b.requests.retries} retries\\)`))
  })

  it.each(['template', 'classifier'] as const)('%s style: identical catalogue-prefix bytes with cache_control in every request, listing every agent', async (style) => {
    const dir = await tempProject({ datasets: true })
    const s = await serve()
    const r = await runCli(['eval', '--router', 'anthropic', '--style', style, '--dataset', 'datasets/python-backend.csv', '--repeats', '1', '--out', 'run', '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(s.requests).toHaveLength(138)
    const prefixes = new Set(s.requests.map((q) => JSON.stringify({ model: q.body.model, tools: q.body.tools, system: q.body.system, tool_choice: q.body.tool_choice })))
    expect(prefixes.size).toBe(1)
    const body = s.requests[0]!.body
    const agentNames = (await readdir(path.join(dir, 'agents'))).map((f) => f.replace(/\.md$/, '')).sort()
    if (style === 'template') {
      expect(body.tools).toHaveLength(1)
      expect(body.tools[0].name).toBe('Agent')
      expect(body.tools[0].cache_control).toEqual({ type: 'ephemeral' })
      expect(body.tools[0].input_schema.required).toEqual(['subagent_type', 'description', 'prompt'])
      expect(parseAgentLines(body.tools[0].description).map((a) => a.name).sort()).toEqual(agentNames)
      expect(body.tools[0].description).toContain('- golang-pro: ')
      expect(body.tools[0].description).toMatch(/- database-optimizer: .*\(Tools: Read, Grep, Glob, Bash\)/)
      expect(body.tool_choice).toBeUndefined()
    } else {
      expect(body.system.at(-1).cache_control).toEqual({ type: 'ephemeral' })
      expect(body.tool_choice).toBeUndefined() // a forced choice is a 400 on models that think by default
      expect(body.system[0].text).toMatch(/call the route tool once/)
      expect([...body.tools[0].input_schema.properties.agent.enum].sort()).toEqual([...agentNames, 'none'].sort())
      expect(parseAgentLines(body.system[0].text).map((a) => a.name).sort()).toEqual(agentNames)
    }
    expect(body).not.toHaveProperty('temperature')
    // Each request differs from the next only in the user turn.
    expect(new Set(s.requests.map((q) => q.prompt)).size).toBe(138)
    // One cache write (the warm-up request), cache reads after it.
    const summary = await summaryOf(dir)
    const perWrite = summary.usage.cacheWriteTokens
    expect(perWrite).toBeGreaterThan(1000)
    expect(summary.usage.cacheReadTokens).toBe(perWrite * 137)
    expect(summary.usage.cacheHitRatio).toBeGreaterThan(0.9)
    expect(summary.cost.usd).toBeGreaterThan(0)
  })

  it('a tool call naming an unknown agent is invalid and wrong; no tool call is none; a reply never well-formed is an error', async () => {
    const dir = await tempProject()
    await writeFiles(dir, {
      'cases.csv': 'id,prompt,expected\nc1,goroutine leak in the grpc server go,golang-pro\nc2,swiftui list scrolls slowly on iphone,mobile-developer\nc3,terraform plan wants to destroy the kubernetes cluster,devops-engineer\n',
      'routecheck.config.json': JSON.stringify({ maxTries: 2 }),
    })
    const byPrompt = (p: string) => (p.startsWith('goroutine') ? 'unknown_agent' : p.startsWith('swiftui') ? 'no_tool_call' : 'bad_tool_input')
    const s = await serve({ fault: ({ prompt }) => byPrompt(prompt) })
    const r = await runCli(['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'cases.csv', '--repeats', '1', '--out', 'run', '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(r.code).toBe(3)
    const summary = await summaryOf(dir)
    expect(summary.cases[0]).toMatchObject({ decision: 'ghost-agent', invalid: true, correct: false })
    expect(summary.cases[1]).toMatchObject({ decision: 'none', correct: false })
    expect(summary.cases[2]).toMatchObject({ decision: null, correct: null })
    expect(summary.cases[2].error).toMatch(/without a subagent_type.*after 2 tries/)
    expect(summary.metrics).toMatchObject({ errored: 1, invalid: 1 })
    expect(s.requests.filter((q) => q.prompt.startsWith('terraform'))).toHaveLength(2)
  })

  it('repeats: majority vote, per-case votes, flips counted', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': 'id,prompt,expected\nc1,goroutine leak in the grpc server go,golang-pro\nc2,swiftui list scrolls slowly on iphone,mobile-developer\n' })
    // The second sight of c1's request names a ghost: c1's votes split 2–1.
    const s = await serve({ fault: ({ prompt, seen }) => (prompt.startsWith('goroutine') && seen === 1 ? 'unknown_agent' : undefined) })
    const r = await runCli(['eval', '--router', 'anthropic', '--dataset', 'cases.csv', '--out', 'run', '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    const summary = await summaryOf(dir)
    expect(summary.repeats).toBe(3)
    expect(s.requests).toHaveLength(6)
    const c1 = summary.cases[0]
    expect(c1.votes['ghost-agent']).toBe(1)
    expect(Object.values(c1.votes).reduce((a: number, b) => a + (b as number), 0)).toBe(3)
    expect(c1).toMatchObject({ flipped: true, split: false })
    expect(c1.decision).not.toBe('ghost-agent')
    expect(summary.metrics.flipRate).toBe(0.5)
  })
})

describe('anthropic router: rate limits', () => {
  it('a run follows the server\'s limits: it reads them from every reply, decides every case, never has more than --concurrency in flight, and says how many it let fly', async () => {
    const dir = await tempProject({ datasets: true })
    // A bucket of 10 requests refilled at 100 a second: the warm-up leaves 9, so the run starts with 1 in flight and grows.
    const limited = await serve({ delayMs: 20, rateLimits: { requests: { limit: 10, perSecond: 100 }, inputTokens: { limit: 1_000_000, perSecond: 100_000 } } })
    const r = await runCli(['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'datasets/routing.csv', '--repeats', '1', '--concurrency', '16', '--no-cache', '--out', 'run'], { cwd: dir, env: envFor(limited) })
    expect(r.code, r.stderr).toBe(0)
    const s = await summaryOf(dir)
    expect(s.metrics.errored).toBe(0)
    expect(s.metrics.decided).toBe(352)
    const traffic = limited.traffic()
    expect(traffic.peakInFlight).toBeLessThanOrEqual(16)
    // Every request the bucket turned away was retried until answered: 429s cost retries, never cases.
    expect(limited.counts().requests).toBe(352 + s.requests.retries)
    expect(s.requests.retries).toBeGreaterThanOrEqual(traffic.rateLimited)
    expect(r.stderr).toMatch(/done in [\d.]+s.* 1–\d+ of 16 in flight \(rate limits\)/)
  })
})

describe('anthropic router: the journal', () => {
  it('SIGKILL mid-run, run again: only the missing requests are sent, and the summary equals an uninterrupted run', async () => {
    const dir = await tempProject({ datasets: true })
    const s = await serve({ delayMs: 15 })
    const args = ['eval', '--router', 'anthropic', '--dataset', 'datasets/routing.csv', '--repeats', '1', '--concurrency', '4', '--out', 'run']
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, ...envFor(s) }, stdio: 'ignore' })
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    while (s.requests.length < 120) await new Promise((r) => setTimeout(r, 5))
    child.kill('SIGKILL')
    expect(await exited).toBe(null)
    const sentBeforeKill = s.requests.length
    expect(sentBeforeKill).toBeLessThan(352)

    const cacheDir = path.join(dir, '.routecheck/cache')
    const [journalFile] = await readdir(cacheDir)
    const journaled = (await readFile(path.join(cacheDir, journalFile!), 'utf8')).trimEnd().split('\n').length - 1
    expect(journaled).toBeGreaterThan(100)

    s.reset()
    const resumed = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(s.requests).toHaveLength(352 - journaled)
    expect(resumed.stderr).toContain(`${journaled} finished request(s) from earlier runs`)
    const again = await summaryOf(dir)
    expect(again.requests).toMatchObject({ fromCache: journaled, sent: 352 - journaled })

    s.reset()
    const whole = await runCli([...args.slice(0, -1), 'whole', '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(whole.code).toBe(0)
    const reference = await summaryOf(dir, 'whole')
    for (const key of ['metrics', 'perLabel', 'noneLabel', 'confusion', 'cases', 'agents', 'dataset', 'router', 'repeats']) {
      expect(again[key], key).toEqual(reference[key])
    }
    // And a third run sends nothing at all.
    s.reset()
    const third = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(third.code).toBe(0)
    expect(s.requests).toHaveLength(0)
  })
})

describe('anthropic router: failures that stop a run, dry runs and budgets', () => {
  const CASES = 'id,prompt,expected\nc1,goroutine leak in the grpc server go,golang-pro\nc2,swiftui list scrolls slowly on iphone,mobile-developer\nc3,hello,none\n'

  it('no key: exit 2 with one sentence, nothing sent', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': CASES })
    const s = await serve()
    const r = await runCli(['eval', '--router', 'anthropic', '--dataset', 'cases.csv'], { cwd: dir, env: { ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: '' } })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('routecheck: the anthropic router needs an API key: export ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another Messages-API server), or run offline with --router lexical')
    expect(s.requests).toHaveLength(0)
  })

  it('an unknown model: exit 2 naming the model, after one request', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': CASES })
    const s = await serve()
    const r = await runCli(['eval', '--router', 'anthropic', '--model', 'claude-nonesuch-9', '--dataset', 'cases.csv'], { cwd: dir, env: envFor(s) })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/does not know model "claude-nonesuch-9".*pick another with --model/)
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(s.requests).toHaveLength(1)
  })

  it('an unreachable server: exit 3 with the address, and only the warm-up request tried', async () => {
    const dir = await tempProject()
    const s = await serve()
    const deadUrl = s.url
    await s.close()
    await writeFiles(dir, { 'cases.csv': CASES, 'routecheck.config.json': JSON.stringify({ maxTries: 2 }) })
    const r = await runCli(['eval', '--router', 'anthropic', '--dataset', 'cases.csv'], { cwd: dir, env: { ANTHROPIC_BASE_URL: deadUrl, ANTHROPIC_API_KEY: 'k' } })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(`cannot reach ${deadUrl}`)
    expect(r.stderr).toMatch(/the first request failed, so nothing else was sent/)
  })

  it('--dry-run prints the request and the estimated cost, needs no key, and sends nothing', async () => {
    const dir = await tempProject({ datasets: true })
    const s = await serve()
    const r = await runCli(['eval', '--router', 'anthropic', '--dataset', 'datasets/routing.csv', '--dry-run'], { cwd: dir, env: { ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: '' } })
    expect(r.code, r.stderr).toBe(0)
    expect(s.requests).toHaveLength(0)
    expect(r.stdout).toContain('"name": "Agent"')
    expect(r.stdout).toMatch(/datasets\/routing\.csv: 1056 request\(s\) to send \(352 cases × 3 repeats\), ≈[\d,]+ input tokens, ≈\$\d+\.\d{4}/)
    expect(r.stdout).toMatch(/dry run: nothing was sent/)
    await expect(readdir(path.join(dir, '.routecheck'))).rejects.toThrow()
  })

  it('--max-cost stops before the budget is passed, keeps finished work, and a second run finishes the rest', async () => {
    const dir = await tempProject({ datasets: true })
    const s = await serve()
    const args = ['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'datasets/python-backend.csv', '--repeats', '1', '--concurrency', '4', '--out', 'run']
    const r = await runCli([...args, '--max-cost', '0.02'], { cwd: dir, env: envFor(s) })
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/stopped before passing --max-cost 0.02 USD: \d+ request\(s\) not sent/)
    const partial = await summaryOf(dir)
    expect(partial.cost.usdThisRun).toBeLessThanOrEqual(0.02)
    expect(partial.requests.sent).toBeGreaterThan(5)
    expect(partial.requests.sent).toBeLessThan(138)
    expect(partial.requests.notSent).toBe(138 - partial.requests.sent)
    const sent = s.requests.length
    expect(sent).toBe(partial.requests.sent)

    s.reset()
    const rest = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rest.code, rest.stderr).toBe(0)
    expect(s.requests).toHaveLength(138 - sent)
  })

  it('--max-cost just above the cache write and two reads sends three requests: after the first, a request is expected to read the cache', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(SIX_CASES) })
    const s = await serve()
    const args = ['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'cases.csv', '--repeats', '1', '--concurrency', '1', '--no-cache']
    const free = await runCli([...args, '--out', 'free'], { cwd: dir, env: envFor(s) })
    expect(free.code, free.stderr).toBe(0)
    const price = priceFor('claude-haiku-4-5', loadPrices())!
    const costs = (await readFile(path.join(dir, 'free/results.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => usageCost(JSON.parse(l).usage, price))
    const [write, ...reads] = costs
    expect(write!).toBeGreaterThan(3 * Math.max(...reads))
    const cap = write! + 2.5 * Math.max(...reads)
    s.reset()
    const capped = await runCli([...args, '--out', 'capped', '--max-cost', cap.toFixed(6)], { cwd: dir, env: envFor(s) })
    expect(capped.code).toBe(3)
    const summary = await summaryOf(dir, 'capped')
    expect(summary.requests.sent).toBe(3)
    expect(summary.cost.usdThisRun).toBeLessThanOrEqual(cap)
  })
})
