import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { loadPrices, priceFor, usageCost } from '../src/route/cost.js'
import { FatalRouterError } from '../src/route/run.js'
import { createToolCaller, type ToolSpec } from '../src/route/tool-call.js'
import { CLI, runCli, runInProcess, tempDir, tempProject, writeFiles, type CliResult } from './support/cli.js'
import { drafter } from './support/drafter.js'
import { startMessagesServer, type MessagesServer, type ServerOptions } from './support/messages-server.js'
import { helpfulRewriter } from './support/rewriter.js'

/**
 * --batch for Claude's drafting requests (the tool caller: generate, improve's rewriter, probes),
 * against the test server's stand-in of the batch endpoints, which answers each request of a
 * batch as it answers a live one and serves the results in another order.
 */
const servers: MessagesServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})
async function serve(opts: ServerOptions): Promise<MessagesServer> {
  const s = await startMessagesServer({ retryAfter: '0', ...opts })
  servers.push(s)
  return s
}

const KEY = 'sk-ant-test-tool-batch-KEY-9876543210'
const envFor = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })
const BATCH = ['--batch', '--batch-poll', '0.05']
const GENERATE = ['generate', '--per-agent', '4', '--model', 'claude-haiku-4-5']
const HAIKU = priceFor('claude-haiku-4-5', loadPrices())!

/** Every file under a folder, with its text. */
async function filesUnder(dir: string): Promise<Array<{ file: string; text: string }>> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name))
  return Promise.all(names.map(async (file) => ({ file, text: await readFile(file, 'utf8') })))
}
const ledgerLines = async (dir: string) => (await readFile(path.join(dir, '.routecheck/cache/tool-calls/batches.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>)

describe('generate --batch', () => {
  it('writes the dataset a live run writes: one batch, results joined by custom_id out of order, priced at the batch rate; a rerun sends nothing', async () => {
    const liveServer = await serve({ tool: drafter })
    const liveDir = await tempProject()
    const live = await runInProcess([...GENERATE, '--json'], { cwd: liveDir, env: envFor(liveServer) })
    expect(live.code, live.stderr).toBe(0)
    const requests = liveServer.requests.length
    expect(requests).toBe(15 + 10 + 1 + 1)

    const s = await serve({ tool: drafter, batch: { pollsToEnd: 2 } })
    const dir = await tempProject()
    const r = await runInProcess([...GENERATE, ...BATCH, '--json'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(await readFile(path.join(dir, 'routecheck/generated.csv'), 'utf8')).toBe(await readFile(path.join(liveDir, 'routecheck/generated.csv'), 'utf8'))

    // One batch of every request, polled until it ended, its results read once; nothing sent live.
    expect(s.batches).toHaveLength(1)
    const [batch] = s.batches
    expect(batch!.requests).toHaveLength(requests)
    expect(batch!.downloads).toBe(1)
    expect(s.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(0)
    expect(r.stderr).toContain(`batch msgbatch_test0001: created with ${requests} request(s)`)
    expect(r.stderr).toMatch(/batch msgbatch_test0001: in progress · 27 processing · 0 succeeded .*\(poll 1\)/)
    expect(r.stderr).toContain(`batch msgbatch_test0001: results joined: ${requests} succeeded, 0 failed`)
    const sent = batch!.requests.map((q) => q.custom_id)
    const served = batch!.results!.map((q) => q.custom_id)
    expect(served).not.toEqual(sent)
    expect([...served].sort()).toEqual([...sent].sort())

    // Each entry: the live body, its system text cached for an hour; custom_id the hash of the live body (the cache's key).
    const liveBodies = new Map(liveServer.requests.map((q) => [q.prompt, q.body]))
    for (const { custom_id, params } of batch!.requests) {
      expect(params.stream).toBeUndefined()
      expect(params.system[0].cache_control).toEqual({ type: 'ephemeral', ttl: '1h' })
      const body = liveBodies.get(params.messages[0].content)
      expect({ ...params, system: [{ ...params.system[0], cache_control: { type: 'ephemeral' } }] }).toEqual(body)
      expect(custom_id).toBe(createHash('sha256').update(JSON.stringify(body)).digest('hex'))
    }

    // The cost: every answer's usage at half the list price, the hour-long cache write at twice the input price.
    const out = JSON.parse(r.stdout) as { spentUsd: number; batches: string[]; cachedRequests: number }
    expect(out.batches).toEqual(['msgbatch_test0001'])
    const stored = (await filesUnder(path.join(dir, '.routecheck/cache/tool-calls'))).filter((f) => f.file.endsWith('.json'))
    expect(stored).toHaveLength(requests)
    const usages = stored.map((f) => (JSON.parse(f.text) as { usage: { batch?: boolean; cacheWrite1hTokens?: number } }).usage)
    expect(usages.every((u) => u.batch === true)).toBe(true)
    expect(usages.filter((u) => (u.cacheWrite1hTokens ?? 0) > 0).length).toBeGreaterThan(0)
    expect(out.spentUsd).toBeCloseTo(usages.reduce((n, u) => n + usageCost(u as never, HAIKU), 0), 9)
    const liveSpent = (JSON.parse(live.stdout) as { spentUsd: number }).spentUsd
    expect(out.spentUsd).toBeLessThan(liveSpent * 0.75)
    const text = await runInProcess([...GENERATE, ...BATCH, '--force', '--no-cache', '--out', 'again.csv'], { cwd: dir, env: envFor(s) })
    expect(text.stdout.replace(/\s+/g, ' ')).toMatch(/cost \$\d+\.\d\d this run at the batch rate \(1 message batch\)/)
    expect(s.batches).toHaveLength(2)

    // The ledger: the intent noted (and synced) before the upload, the batch on creation settling it, then taken in. A rerun is answered from the cache: no batch, no request.
    const [intent, ...rest] = await ledgerLines(dir)
    expect(intent).toEqual({ batchIntent: { nonce: expect.stringMatching(/^[0-9a-f]{16}$/), created: expect.any(String), requests: sent.length, customIds: sent } })
    expect(rest.slice(0, 2)).toEqual([{ batch: { id: 'msgbatch_test0001', created: expect.any(String), customIds: sent, intent: intent!.batchIntent.nonce } }, { batchDone: 'msgbatch_test0001' }])
    s.reset()
    const again = await runInProcess([...GENERATE, ...BATCH, '--force', '--json'], { cwd: dir, env: envFor(s) })
    expect(again.code, again.stderr).toBe(0)
    expect((JSON.parse(again.stdout) as { cachedRequests: number; batches: string[] })).toMatchObject({ cachedRequests: requests, batches: [] })
    expect(s.requests).toHaveLength(0)
    expect(s.batches).toHaveLength(2)
  })

  it('--dry-run --batch: the batches, the live price and the batch price; an undone batch of an earlier run is named; nothing sent', async () => {
    const dir = await tempProject()
    const dry = await runInProcess([...GENERATE, ...BATCH, '--dry-run'], { cwd: dir, env: { ANTHROPIC_API_KEY: '' }, columns: 200 })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/^batch: 27 request\(s\) in 1 batch\(es\) of at most 100,000 requests or 256 MB \(27 requests, 0\.\d MB\)$/m)
    const [, liveUsd, batchUsd, batchMaxUsd] = /^batch: live price ≈\$(\d+\.\d+); batch price ≈\$(\d+\.\d+) on the same terms \(nothing cached\), ≈\$(\d+\.\d+) if every request writes its system text to the 1h prompt cache \(the bound --max-cost keeps to\)$/m.exec(dry.stdout) ?? []
    expect(Number(batchUsd)).toBeCloseTo(Number(liveUsd) / 2, 3)
    // Each request's system text written to the hour-long cache at twice the input price: the bound is that, above half.
    expect(Number(batchMaxUsd)).toBeGreaterThan(Number(batchUsd))
    expect(Number(batchMaxUsd)).toBeLessThan(Number(liveUsd))
    await writeFiles(dir, { 'routecheck.config.json': JSON.stringify({ batch: { cacheTtl: '5m' } }) })
    const fiveMinutes = await runInProcess([...GENERATE, ...BATCH, '--dry-run'], { cwd: dir, columns: 200 })
    expect(Number(/≈\$(\d+\.\d+) if every request writes its system text to the 5m prompt cache/.exec(fiveMinutes.stdout)?.[1])).toBeLessThan(Number(batchMaxUsd))
    await writeFiles(dir, { 'routecheck.config.json': '{}' })
    await expect(readdir(path.join(dir, '.routecheck'))).rejects.toThrow()

    const json = JSON.parse((await runInProcess([...GENERATE, ...BATCH, '--dry-run', '--json'], { cwd: dir })).stdout) as { estimate: { usd: number; batchMaxUsd: number }; batch: { requests: number; batches: Array<{ requests: number }>; reattach: string[] } }
    expect(json.batch).toMatchObject({ requests: 27, batches: [{ requests: 27 }], reattach: [] })
    expect(json.estimate.batchMaxUsd).toBeCloseTo(Number(batchMaxUsd), 4)

    // Stopped (Ctrl-C) while its batch is in progress: the ledger holds it, and the dry run says a rerun would reattach it.
    const s = await serve({ tool: drafter, batch: { pollsToEnd: 1000 } })
    const stop = new AbortController()
    const stopping = runInProcess([...GENERATE, ...BATCH], { cwd: dir, env: envFor(s), signal: stop.signal })
    for (let i = 0; i < 200 && (s.batches[0]?.polls ?? 0) < 2; i++) await new Promise((res) => setTimeout(res, 25))
    stop.abort()
    const stopped = await stopping
    expect(stopped.code).toBe(3)
    expect(stopped.stderr).toMatch(/27 of 27 requests brought no prompts \(--max-cost or Ctrl-C stopped some before sending\)/)
    const after = await runInProcess([...GENERATE, ...BATCH, '--dry-run'], { cwd: dir, columns: 200 })
    expect(after.stdout).toMatch(/^batch: 0 request\(s\) in 0 batch\(es\) .*; 1 batch\(es\) of an earlier run would be reattached \(msgbatch_test0001\)$/m)
  })

  it('--max-cost at the batch rate: only the requests that fit are submitted, the rest named', async () => {
    const s = await serve({ tool: drafter })
    const dir = await tempProject()
    const dry = JSON.parse((await runInProcess([...GENERATE, ...BATCH, '--dry-run', '--json'], { cwd: dir })).stdout) as { estimate: { batchMaxUsd: number; requests: number } }
    const r = await runInProcess([...GENERATE, ...BATCH, '--max-cost', (dry.estimate.batchMaxUsd / 2).toFixed(6), '--json'], { cwd: dir, env: envFor(s) })
    expect(r.code).toBe(3)
    const submitted = s.batches[0]!.requests.length
    expect(submitted).toBeGreaterThanOrEqual(dry.estimate.requests * 0.4)
    expect(submitted).toBeLessThanOrEqual(dry.estimate.requests * 0.6)
    const out = JSON.parse(r.stdout) as { failed: Array<{ notSent: boolean; error: string }>; spentUsd: number }
    expect(out.failed).toHaveLength(dry.estimate.requests - submitted)
    expect(out.failed.every((f) => f.notSent && /--max-cost/.test(f.error))).toBe(true)
    expect(out.spentUsd).toBeLessThanOrEqual(dry.estimate.batchMaxUsd / 2)
    expect(r.stderr).toMatch(/the estimate \(≈\$[\d.]+, at the batch rate, each request writing the prompt cache\) is over --max-cost/)
  })

  it('--from-examples drafts nothing, so --batch is refused; --batch-poll needs --batch', async () => {
    const dir = await tempProject()
    const examples = await runInProcess(['generate', '--from-examples', '--batch'], { cwd: dir })
    expect(examples.code).toBe(2)
    expect(examples.stderr).toMatch(/--from-examples drafts nothing with Claude, so --batch has nothing to send/)
    const poll = await runInProcess(['generate', '--batch-poll', '5', '--dry-run'], { cwd: dir })
    expect(poll.code).toBe(2)
    expect(poll.stderr).toMatch(/--batch-poll sets how often a batch is checked: it needs --batch/)
  })
})

describe('generate --batch killed while it waits', () => {
  it('SIGKILL during polling, then a rerun: the same batch reattached, no new batch, the dataset a live run writes; the key never lands in the cache folder', async () => {
    const dir = await tempProject()
    // The batch stays in progress for 40 polls (2 s at 0.05 s), whichever run polls it.
    const s = await serve({ tool: drafter, batch: { pollsToEnd: 40 } })
    const child = spawn(process.execPath, [CLI, ...GENERATE, ...BATCH], { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...envFor(s) } })
    const exited = new Promise<CliResult>((resolve) => child.on('exit', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stdout: '', stderr: '' })))
    for (let i = 0; i < 600 && (s.batches[0]?.polls ?? 0) < 3; i++) await new Promise((res) => setTimeout(res, 50))
    expect(s.batches[0]!.polls).toBeGreaterThanOrEqual(3)
    expect((await ledgerLines(dir)).map((l) => (l.batchIntent ? 'intent' : l.batch?.id))).toEqual(['intent', 'msgbatch_test0001'])
    child.kill('SIGKILL')
    expect((await exited).code).toBe(128)
    expect(s.batches[0]!.results).toBeUndefined()
    await expect(readFile(path.join(dir, 'routecheck/generated.csv'))).rejects.toThrow()

    const rerun = await runCli([...GENERATE, ...BATCH], { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(s.batches).toHaveLength(1)
    expect(s.requests.filter((q) => q.path === '/v1/messages/batches')).toHaveLength(1)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached \(created .* by an earlier run\), 27 request\(s\) of this run; nothing sent again/)
    expect(rerun.stderr).not.toContain('created with')
    expect((await ledgerLines(dir)).map((l) => (l.batchIntent ? 'intent' : (l.batch?.id ?? `done ${l.batchDone}`)))).toEqual(['intent', 'msgbatch_test0001', 'done msgbatch_test0001'])

    const liveServer = await serve({ tool: drafter })
    const liveDir = await tempProject()
    expect((await runInProcess(GENERATE, { cwd: liveDir, env: envFor(liveServer) })).code).toBe(0)
    expect(await readFile(path.join(dir, 'routecheck/generated.csv'), 'utf8')).toBe(await readFile(path.join(liveDir, 'routecheck/generated.csv'), 'utf8'))

    const cache = await filesUnder(path.join(dir, '.routecheck'))
    expect(cache.length).toBeGreaterThan(27)
    for (const { file, text } of cache) {
      expect(text, file).not.toContain(KEY)
      expect(text, file).not.toContain(KEY.slice(8))
    }
    expect(rerun.stdout + rerun.stderr).not.toContain(KEY)
  })
})

describe('the tool caller with batch', () => {
  const tool: ToolSpec<{ prompts: string[] }> = { name: 'draft_prompts', description: 'Write prompts', input: z.object({ prompts: z.array(z.string().min(1)).min(1) }) }
  const ask = (word: string) => ({ system: 'You write prompts.', prompt: `three prompts about ${word}`, maxTokens: 500, expectedOutputTokens: 100 })
  const plan = { pollMs: 20, cacheTtl: '5m' as const, maxRequests: 100_000 }

  it('asks again, in a follow-up batch, a reply that breaks the schema or calls no tool; gives up after two submissions; one request asked twice is one entry', async () => {
    const s = await serve({
      tool: ({ prompt, seen }) => (prompt.includes('beta') ? { prompts: [] } : prompt.includes('gamma') && seen === 0 ? undefined : prompt.includes('delta') && seen === 0 ? { wrong: 1 } : { prompts: [`${prompt} #1`] }),
      batch: { outcome: ({ prompt, submission }) => (prompt.includes('epsilon') && submission === 0 ? 'expired' : undefined) },
    })
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'rc-tool-batch-'))
    const events: string[] = []
    const caller = createToolCaller({ env: envFor(s), timeoutMs: 5000, model: 'claude-haiku-4-5', cacheDir, batch: { ...plan, onEvent: (e) => events.push(e.type) } })
    const requests = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'alpha'].map(ask)
    const answers = await caller.askAll(requests, tool)
    expect(answers.map((a) => a.value?.prompts[0] ?? null)).toEqual(['three prompts about alpha #1', null, 'three prompts about gamma #1', 'three prompts about delta #1', 'three prompts about epsilon #1', 'three prompts about alpha #1'])
    expect(answers[1]!.error).toMatch(/^the draft_prompts tool input does not fit its schema: prompts: .* \(after 2 submissions\)$/)
    // Five distinct requests, then the four that failed once, in a second batch; the 5-minute cache, as asked.
    expect(s.batches.map((b) => b.requests.length)).toEqual([5, 4])
    expect(s.batches[0]!.requests[0]!.params.system[0].cache_control).toEqual({ type: 'ephemeral' })
    expect(events.filter((e) => e === 'created')).toHaveLength(2)
    // Every submission is paid for, at the batch rate: the retried ones count both.
    expect(answers[2]!.usage!.outputTokens).toBe(40)
    expect(answers[0]!.usage!.outputTokens).toBe(20)
    expect(caller.spentUsd()).toBeCloseTo([0, 1, 2, 3, 4].reduce((n, i) => n + usageCost(answers[i]!.usage!, HAIKU), 0), 12)
    expect(answers[0]!.usage!.batch).toBe(true)
    expect(caller.batchIds()).toEqual(['msgbatch_test0001', 'msgbatch_test0002'])
    // A live caller finds the answers in the cache folder: the store is shared.
    const again = await createToolCaller({ env: envFor(s), timeoutMs: 5000, model: 'claude-haiku-4-5', cacheDir }).askAll(requests, tool)
    expect(again.map((a) => a.cached)).toEqual([true, false, true, true, true, true])
  })

  it('a refused key stops askAll with one fatal error, before any batch exists; generate says so, exit 2, writing nothing', async () => {
    const s = await serve({ tool: () => ({ prompts: ['x'] }), batch: { fault: ({ what }) => (what === 'create' ? 'unauthorized' : undefined) } })
    const caller = createToolCaller({ env: envFor(s), timeoutMs: 5000, model: 'claude-haiku-4-5', batch: plan })
    const error = await caller.askAll([ask('alpha')], tool).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FatalRouterError)
    expect((error as Error).message).toMatch(/refused the API key .*; check ANTHROPIC_API_KEY/)
    expect(s.batches).toHaveLength(0)
    const dir = await tempProject()
    const r = await runInProcess([...GENERATE, ...BATCH], { cwd: dir, env: envFor(s) })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/routecheck: .*refused the API key/)
    expect(r.stderr).not.toContain(KEY)
    await expect(readFile(path.join(dir, 'routecheck/generated.csv'))).rejects.toThrow()
  })
})

describe('improve --batch', () => {
  /** Two database agents that say the same thing; each one's prompts use words only its own job has. */
  async function databaseProject(): Promise<string> {
    const dir = await tempDir('routecheck-improve-batch-')
    const tuner = ['index', 'explain', 'vacuum', 'autovacuum', 'btree', 'seqscan', 'planner', 'statistics']
    const doctor = ['replication', 'failover', 'deadlock', 'connections', 'pgbouncer', 'wraparound', 'checkpoint', 'standby']
    const rows = ['id,prompt,expected']
    tuner.forEach((w, i) => rows.push(`t${i},"our postgresql database: the ${w} on the orders table",db-tuner`))
    doctor.forEach((w, i) => rows.push(`d${i},"our postgresql database: the ${w} since last night",db-doctor`))
    for (let i = 0; i < 4; i++) rows.push(`w${i},"the react component ${i} on the checkout page",web-dev`)
    await writeFiles(dir, {
      'agents/db-tuner.md': '---\nname: db-tuner\ndescription: Use this agent for PostgreSQL database work on queries and the performance of the database.\n---\nYou tune.\n',
      'agents/db-doctor.md': '---\nname: db-doctor\ndescription: Use this agent for PostgreSQL database work on queries and the health of the database.\n---\nYou diagnose.\n',
      'agents/web-dev.md': '---\nname: web-dev\ndescription: Use this agent for React components, CSS layout, forms and pages of the web app.\n---\nYou build pages.\n',
      'datasets/db.csv': `${rows.join('\n')}\n`,
      'routecheck.config.json': JSON.stringify({ agents: 'agents', datasets: ['datasets/db.csv'], out: 'reports', cacheDir: '.cache' }),
    })
    return dir
  }
  const IMPROVE = ['improve', '--agent', 'db-tuner', '--agent', 'db-doctor', '--rounds', '2']
  const ANTHROPIC = ['--router', 'anthropic', '--style', 'template', '--repeats', '1']
  const figures = (report: { rounds: Array<Record<string, unknown>> }) => report.rounds.map(({ round, descriptions, train, test, accepted, heldOut }) => ({ round, descriptions, train, test, accepted, heldOut }))

  it('with the anthropic router: each round routes as a batch and each rewrite is a batch, and the rounds come out as a live run\'s', async () => {
    const liveServer = await serve({ tool: helpfulRewriter })
    const liveDir = await databaseProject()
    const live = await runInProcess([...IMPROVE, ...ANTHROPIC], { cwd: liveDir, env: envFor(liveServer) })
    expect(live.code, live.stderr).toBe(0)

    const s = await serve({ tool: helpfulRewriter })
    const dir = await databaseProject()
    const r = await runInProcess([...IMPROVE, ...ANTHROPIC, ...BATCH], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(s.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(0)
    const report = JSON.parse(await readFile(path.join(dir, 'reports/improve/improve.json'), 'utf8'))
    const liveReport = JSON.parse(await readFile(path.join(liveDir, 'reports/improve/improve.json'), 'utf8'))
    expect(figures(report)).toEqual(figures(liveReport))
    expect(report.rounds.filter((x: { round: number; train?: unknown }) => x.round > 0 && x.train)).not.toHaveLength(0)
    // Round 0's routing, then per round its rewrite (one request) and, for a new catalogue, its routing and the re-test of its stable flips (repeats 1000–1002).
    type Round = { round: number; train?: unknown; retest?: { flips: number } }
    const retestBatch = (b: { requests: Array<{ custom_id: string }> }) => b.requests.every((q) => /_100[0-2]_[a-f0-9]{12}$/.test(q.custom_id))
    expect(s.batches.map((b) => (retestBatch(b) ? 're-test' : b.requests.length))).toEqual([
      20,
      ...report.rounds.slice(1).flatMap((x: Round) => (x.train ? [1, 20, ...(x.retest!.flips > 0 ? ['re-test'] : [])] : [1])),
    ])
    expect(report.rounds.some((x: Round) => x.retest && x.retest.flips > 0)).toBe(true)
    for (const b of s.batches.filter(retestBatch)) expect(b.requests.length % 3).toBe(0)
    expect(s.batches[1]!.requests[0]!.params.tools[0].name).toBe('propose_descriptions')
    expect(report.cost.routingUsd).toBeLessThan(liveReport.cost.routingUsd * 0.6)
    expect(report.cost.rewriterUsd).toBeLessThan(liveReport.cost.rewriterUsd * 0.75)
  })

  it('with the lexical router: the rewrites are batches, the routing stays local, and the dry run says so', async () => {
    const s = await serve({ tool: helpfulRewriter })
    const dir = await databaseProject()
    const dry = await runInProcess([...IMPROVE, ...BATCH, '--dry-run'], { cwd: dir, env: envFor(s) })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/rewriter: up to 2 request\(s\), ≈[\d,]+ input tokens, ≈\$\d+\.\d+ live; ≈\$\d+\.\d+ at the batch rate \(at most ≈\$\d+\.\d+, each request writing its system text to the 1h cache\)/)
    expect(dry.stdout).toContain('batch: 2 rewriter batch(es) of 1 request, each waited for before its round routes (a batch takes minutes, at most 24 h); the lexical router routes locally')
    const r = await runInProcess([...IMPROVE, ...BATCH], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain("note: --batch sends the rewriter's requests as message batches; the lexical router routes locally")
    expect(s.batches.length).toBeGreaterThan(0)
    expect(s.batches.every((b) => b.requests.length === 1 && b.requests[0]!.params.tools[0].name === 'propose_descriptions')).toBe(true)
    expect(s.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(0)
  })
})
