import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { splitIntoBatches } from '../src/route/batch.js'
import { loadPrices, priceFor, usageCost } from '../src/route/cost.js'
import { attemptKey, batchCustomId, openJournal } from '../src/route/journal.js'
import { bundledClaudeBinary } from '../src/route/claude-code/engine.js'
import { loadCatalogue } from '../src/load/catalogue.js'
import { createMessagesRouter } from '../src/route/anthropic.js'
import { compileReplay } from '../src/route/replay.js'
import { casesCsv, ROOT, runCli, runInProcess, SIX_CASES, startCli, tempProject, until, writeFiles } from './support/cli.js'
import { startMessagesServer, type BatchOptions, type MessagesServer } from './support/messages-server.js'

/**
 * --batch: the anthropic router through the Message Batches API, against the test server's
 * stand-in of the batch endpoints (which answers each request of a batch by the same rules as a
 * live request, and serves the results in another order than the requests').
 */
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const KEY = 'sk-ant-test-batch-KEY-0123456789'
async function serve(batch: BatchOptions = {}): Promise<MessagesServer> {
  server = await startMessagesServer({ retryAfter: '0.01', batch })
  return server
}
const envFor = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })
const TEMPLATE = ['eval', '--router', 'anthropic', '--style', 'template', '--repeats', '1']
const BATCH = ['--batch', '--batch-poll', '0.05']
const summaryOf = async (dir: string, run: string) => JSON.parse(await readFile(path.join(dir, run, 'summary.json'), 'utf8'))
const resultsOf = async (dir: string, run: string) => (await readFile(path.join(dir, run, 'results.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l))
const decisions = (s: { cases: Array<{ id: string; decision: string | null }> }) => s.cases.map((c) => [c.id, c.decision])

async function journalText(dir: string): Promise<string> {
  const cache = path.join(dir, '.routecheck/cache')
  const files = (await readdir(cache)).filter((f) => f.endsWith('.jsonl'))
  expect(files).toHaveLength(1)
  return readFile(path.join(cache, files[0]!), 'utf8')
}
const journalLines = async (dir: string) => (await journalText(dir)).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, any>)

const CASES = SIX_CASES

describe('--batch: the Message Batches API', () => {
  it('routes routing.csv as a live run does, results joined by custom_id out of order, priced at the batch rate with the hour-long cache', async () => {
    const dir = await tempProject({ datasets: true })
    const s = await serve({ pollsToEnd: 2 })
    const live = await runInProcess([...TEMPLATE, '--dataset', 'datasets/routing.csv', '--out', 'live', '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(live.code, live.stderr).toBe(0)
    s.reset()
    const batch = await runInProcess([...TEMPLATE, ...BATCH, '--dataset', 'datasets/routing.csv', '--out', 'batch'], { cwd: dir, env: envFor(s) })
    expect(batch.code, batch.stderr).toBe(0)

    // One batch, polled until it ended, its results read once; no live Messages request.
    expect(s.batches).toHaveLength(1)
    const [stored] = s.batches
    expect(stored!.requests).toHaveLength(352)
    expect(stored!.downloads).toBe(1)
    expect(s.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(0)
    expect(s.requests.filter((r) => r.path === '/v1/messages/batches')).toHaveLength(1)
    expect(batch.stderr).toContain('batch msgbatch_test0001: created with 352 request(s)')
    expect(batch.stderr).toMatch(/batch msgbatch_test0001: in progress · 352 processing · 0 succeeded .*\(poll 1\)/)
    expect(batch.stderr).toMatch(/batch msgbatch_test0001: ended · 0 processing · 352 succeeded · 0 errored · 0 expired · 0 canceled \(poll 3\)/)
    expect(batch.stderr).toContain('batch msgbatch_test0001: results joined: 352 succeeded, 0 failed')

    // The results came in another order than the requests; every case got the decision a live request gets.
    const sentOrder = stored!.requests.map((r) => r.custom_id)
    const servedOrder = stored!.results!.map((r) => r.custom_id)
    expect(servedOrder).not.toEqual(sentOrder)
    expect([...servedOrder].sort()).toEqual([...sentOrder].sort())
    const a = await summaryOf(dir, 'live')
    const b = await summaryOf(dir, 'batch')
    expect(decisions(b)).toEqual(decisions(a))
    expect(b.metrics.accuracy).toBe(a.metrics.accuracy)
    expect(b.requests).toMatchObject({ sent: 352, batched: 352, errored: 0, retries: 0 })

    // Each request: its custom_id is its journal key and its journal's tag, not streamed, the catalogue prefix cached for an hour.
    for (const r of stored!.requests) expect(r.custom_id).toMatch(/^[a-f0-9]{32}_0_[a-f0-9]{12}$/)
    expect(new Set(stored!.requests.map((r: { custom_id: string }) => r.custom_id.slice(-12))).size).toBe(1)
    const first = stored!.requests[0]!
    expect(first.params.stream).toBeUndefined()
    expect(first.params.tools[0].cache_control).toEqual({ type: 'ephemeral', ttl: '1h' })
    const firstCase = b.cases[0]
    expect(sentOrder).toContain(batchCustomId(attemptKey(firstCase.prompt, 0), first.custom_id.slice(-12)))

    // The cost: every token at half the list price, the hour-long cache write at twice the input price (claude-haiku-4-5: $1, $5, $0.10 per M).
    const results = await resultsOf(dir, 'batch')
    let expected = 0
    for (const r of results) {
      const u = r.usage
      expect(u.batch).toBe(true)
      expect(r.batch).toBe('msgbatch_test0001')
      expected += (0.5 * (u.inputTokens * 1 + u.outputTokens * 5 + u.cacheReadTokens * 0.1 + (u.cacheWriteTokens - (u.cacheWrite1hTokens ?? 0)) * 1.25 + (u.cacheWrite1hTokens ?? 0) * 2)) / 1e6
    }
    expect(results.filter((r) => r.usage.cacheWrite1hTokens > 0)).toHaveLength(1)
    expect(b.cost.usd).toBeCloseTo(expected, 6)
    expect(b.cost.usd).toBeLessThan(a.cost.usd * 0.51)
    expect(batch.stdout).toMatch(/requests 352 sent \(all answered by message batches\)/)
    expect(batch.stdout).toMatch(/cost \$\d+\.\d{4} at the batch rate/)

    // The journal holds the batch, then every decision, then the batch marked done; a rerun sends nothing.
    const lines = await journalLines(dir)
    // The intent, noted before the upload, then the batch line settling it.
    expect(lines[1]!.batchIntent).toMatchObject({ requests: 352, customIds: sentOrder })
    expect(lines[2]!.batch).toMatchObject({ id: 'msgbatch_test0001', customIds: sentOrder, intent: lines[1]!.batchIntent.nonce })
    expect(lines.filter((l) => l.key)).toHaveLength(352)
    expect(lines.at(-1)).toEqual({ batchDone: 'msgbatch_test0001' })
    s.reset()
    const again = await runInProcess([...TEMPLATE, ...BATCH, '--dataset', 'datasets/routing.csv', '--out', 'again'], { cwd: dir, env: envFor(s) })
    expect(again.code).toBe(0)
    expect(s.batches).toHaveLength(1)
    expect(s.requests).toHaveLength(0)
  })

  it('an expired request is resubmitted once; one that expires or errors twice, or is invalid, is the case\'s error', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const s = await serve({
      // The create and a poll fail once each: retried, not fatal.
      fault: ({ what, call }) => (call === 0 && what !== 'results' ? (what === 'create' ? 'rate_limit' : 'server_error') : undefined),
      outcome: ({ prompt, submission }) => {
        if (prompt.includes('goroutine')) return submission === 0 ? 'expired' : undefined
        if (prompt.includes('terraform')) return 'expired'
        if (prompt.includes('swiftui')) return 'errored'
        if (prompt.includes('postgres')) return 'invalid'
        if (prompt.includes('readme')) return submission === 0 ? 'canceled' : undefined
        return undefined
      },
    })
    const r = await runInProcess([...TEMPLATE, ...BATCH, '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(3)
    expect(s.batches.map((b) => b.requests.length)).toEqual([6, 4])
    const prompts = (i: number) => s.batches[i]!.requests.map((q) => q.params.messages[0].content as string).sort()
    expect(prompts(1)).toEqual([CASES[0][1], CASES[1][1], CASES[2][1], CASES[4][1]].sort())
    expect(r.stderr).toContain('batch msgbatch_test0001: results joined: 1 succeeded, 5 failed; 4 resubmitted (once)')
    expect(r.stderr).toContain('batch msgbatch_test0002: created with 4 request(s) (4 resubmitted)')
    expect(r.stderr).toMatch(/batch \(new\): create failed \(HTTP 429 rate_limit_error/)
    expect(r.stderr).toMatch(/batch msgbatch_test0001: poll failed \(HTTP 500 api_error/)

    const summary = await summaryOf(dir, 'run')
    const byId = new Map<string, { decision: string | null }>(summary.cases.map((c: { id: string; decision: string | null }) => [c.id, c]))
    const results = new Map((await resultsOf(dir, 'run')).map((l) => [l.id, l]))
    // Decided: the one expired once, the one canceled once, and the one that never failed.
    for (const id of ['c1', 'c5', 'c6']) expect(byId.get(id)!.decision).not.toBeNull()
    for (const id of ['c2', 'c3', 'c4']) expect(byId.get(id)!.decision).toBeNull()
    expect(results.get('c2').error).toBe('the batch request expired in msgbatch_test0002 (after 2 submissions)')
    expect(results.get('c3').error).toBe('the batch request errored (api_error: Internal server error (test server)) in msgbatch_test0002 (after 2 submissions)')
    expect(results.get('c4').error).toBe('the batch request errored (invalid_request_error: messages: invalid (test server)) in msgbatch_test0001')
    expect(summary.metrics.errored).toBe(3)
    expect(summary.requests).toMatchObject({ sent: 6, batched: 3, errored: 3, retries: 4 })
    expect(r.stderr).toMatch(/3 case\(s\) have no decision/)
    // Both batches taken in; a rerun (asked to retry the failures) submits only those three, afresh.
    const lines = await journalLines(dir)
    expect(lines.filter((l) => l.batchDone).map((l) => l.batchDone)).toEqual(['msgbatch_test0001', 'msgbatch_test0002'])
    const rerun = await runInProcess([...TEMPLATE, ...BATCH, '--dataset', 'cases.csv', '--out', 'rerun'], { cwd: dir, env: envFor(s) })
    expect(rerun.code).toBe(3)
    expect(s.batches[2]!.requests.map((q) => q.params.messages[0].content).sort()).toEqual([CASES[1][1], CASES[2][1], CASES[3][1]].sort())
  })

  it('a model the API does not know: exit 2 naming it, as a live run, after one batch and no resubmission; a rerun creates none', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    server = await startMessagesServer({ models: ['claude-haiku-4-5'], batch: {} })
    const args = [...TEMPLATE, ...BATCH, '--model', 'claude-nope-1', '--dataset', 'cases.csv', '--out', 'run']
    const r = await runInProcess(args, { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/refused every request of batch msgbatch_test0001 \(not_found_error: model: claude-nope-1\); pick another model with --model/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(server.batches).toHaveLength(1)
    // Its results were taken in: the journal marks it done, so a rerun with the same model submits afresh rather than reattaching (and is refused again).
    const again = await runInProcess(args, { cwd: dir, env: envFor(server) })
    expect(again.code).toBe(2)
    expect(server.batches).toHaveLength(2)
  })

  it('splits the requests by the request limit (config batch.maxRequests) and the 256 MB limit', async () => {
    const dir = await tempProject({ datasets: true })
    await writeFiles(dir, { 'routecheck.config.json': JSON.stringify({ batch: { maxRequests: 30, cacheTtl: '5m' } }) })
    const s = await serve()
    const r = await runCli([...TEMPLATE, ...BATCH, '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(s.batches.map((b) => b.requests.length)).toEqual([...Array(11).fill(30), 22])
    // 12 batches' creates, polls and results leave no listener behind on the run's signal (reading results, the SDK never removes the one it adds).
    expect(r.stderr).not.toContain('MaxListenersExceededWarning')
    // The 5-minute cache, as asked: the request is the live one's.
    expect(s.batches[0]!.requests[0]!.params.tools[0].cache_control).toEqual({ type: 'ephemeral' })
    expect((await summaryOf(dir, 'run')).requests.batched).toBe(352)

    const limits = { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 }
    const mb = 1024 * 1024
    // 100 KB replays: 2,600 fit in 256 MB, the rest go to a second batch.
    const split = splitIntoBatches(Array.from({ length: 3000 }, (_, i) => i), () => 100 * 1024, limits)
    expect(split.batches.map((b) => b.items.length)).toEqual([2620, 380])
    expect(split.batches.every((b) => b.bytes <= limits.maxBytes)).toBe(true)
    expect(splitIntoBatches(Array.from({ length: 250_000 }, (_, i) => i), () => 100, limits).batches.map((b) => b.items.length)).toEqual([100_000, 100_000, 50_000])
    const huge = splitIntoBatches([1, 2], (i) => (i === 1 ? 300 * mb : 10), limits)
    expect(huge.tooLarge).toEqual([1])
    expect(huge.batches.map((b) => b.items)).toEqual([[2]])
  })

  it('--dry-run shows the batch count, the live price and the batch price; sends nothing', async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runInProcess(['eval', '--router', 'anthropic', '--style', 'classifier', '--repeats', '3', '--dataset', 'datasets/routing.csv', '--batch', '--dry-run'], { cwd: dir, env: { ANTHROPIC_API_KEY: '' } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/First request \(anthropic:claude-haiku-4-5:classifier, as a batch entry\):\n\{\n {2}"custom_id": "[a-f0-9]{32}_0_[a-f0-9]{12}",\n {2}"params": \{/)
    expect(r.stdout).toMatch(/batch: 1056 request\(s\) in 1 batch\(es\) of at most 100,000 requests or 256 MB \(1056 requests, \d+\.\d MB\)/)
    const [, live, batch, worst] = /batch: live price ≈\$(\d+\.\d+); batch price ≈\$(\d+\.\d+) \(50% of list, the shared prefix cached for 1h\), ≈\$(\d+\.\d+) if no request finds it in the cache/.exec(r.stdout) ?? []
    expect(Number(batch)).toBeGreaterThan(0)
    // Half the live price, give or take the hour-long cache's dearer first write.
    expect(Number(batch)).toBeGreaterThan(Number(live) * 0.5)
    expect(Number(batch)).toBeLessThan(Number(live) * 0.52)
    expect(Number(worst)).toBeGreaterThan(Number(batch) * 5)
    expect(await readdir(dir)).not.toContain('.routecheck')
  })

  it('--max-cost at the batch rate: only the requests that fit are submitted', async () => {
    const dir = await tempProject({ datasets: true })
    const s = await serve()
    const dry = await runInProcess([...TEMPLATE, ...BATCH, '--dataset', 'datasets/routing.csv', '--dry-run'], { cwd: dir, env: envFor(s) })
    const batchPrice = Number(/batch price ≈\$(\d+\.\d+)/.exec(dry.stdout)![1])
    const r = await runInProcess([...TEMPLATE, ...BATCH, '--dataset', 'datasets/routing.csv', '--out', 'run', '--max-cost', String(batchPrice / 2)], { cwd: dir, env: envFor(s) })
    expect(r.code).toBe(3)
    const submitted = s.batches[0]!.requests.length
    expect(submitted).toBeGreaterThan(352 * 0.4)
    expect(submitted).toBeLessThan(352 * 0.6)
    const summary = await summaryOf(dir, 'run')
    expect(summary.requests.notSent).toBe(352 - submitted)
    // Admitted on the estimate (no batch cost is known before its results): within 10% of it here.
    expect(summary.cost.usdThisRun).toBeLessThanOrEqual((batchPrice / 2) * 1.1)
    expect(r.stderr).toMatch(/stopped before passing --max-cost/)
  })

  it('baseline and gate route through batches too', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const s = await serve()
    const common = ['--router', 'anthropic', '--style', 'template', '--repeats', '1', '--dataset', 'cases.csv', ...BATCH]
    const baseline = await runInProcess(['baseline', ...common], { cwd: dir, env: envFor(s) })
    expect(baseline.code, baseline.stderr).toBe(0)
    expect(s.batches).toHaveLength(1)
    // With --no-cache the gate submits a batch of its own.
    const gate = await runInProcess(['gate', ...common, '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(gate.code, gate.stderr).toBe(0)
    expect(s.batches).toHaveLength(2)
    expect(s.batches[1]!.requests).toHaveLength(CASES.length)
  })

  it('is refused, exit 2, where it cannot apply', async () => {
    const dir = await tempProject({ datasets: true })
    const lexical = await runInProcess(['eval', '--router', 'lexical', '--batch'], { cwd: dir })
    expect(lexical.code).toBe(2)
    expect(lexical.stderr).toMatch(/--batch sends requests through the Message Batches API, which only the anthropic router uses; the lexical router sends no requests to\. Drop --batch, or use --router anthropic/)
    const poll = await runInProcess(['eval', '--router', 'anthropic', '--style', 'template', '--batch-poll', '5', '--dry-run'], { cwd: dir })
    expect(poll.code).toBe(2)
    expect(poll.stderr).toMatch(/--batch-poll sets how often a batch is checked: it needs --batch/)
    const zero = await runInProcess(['eval', '--router', 'anthropic', '--batch', '--batch-poll', '0'], { cwd: dir })
    expect(zero.code).toBe(2)
    expect(zero.stderr).toMatch(/--batch-poll must be above 0 seconds/)
    await writeFiles(dir, { 'routecheck.config.json': JSON.stringify({ batch: { maxRequests: 100_001 } }) })
    const config = await runInProcess(['eval', '--router', 'anthropic', '--batch', '--dry-run'], { cwd: dir })
    expect(config.code).toBe(2)
    expect(config.stderr).toMatch(/routecheck\.config\.json:1.*"batch\.maxRequests"/)
  })

  it("the journal's batch lines never hold the key, even when the server puts it in a batch id", async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const s = await serve({ id: (n) => `msgbatch_${n}_${KEY}` })
    const r = await runInProcess([...TEMPLATE, ...BATCH, '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    const text = await journalText(dir)
    expect(text).toContain('"batch":{"id":"msgbatch_1_')
    expect(text).not.toContain(KEY)
    expect(text).not.toContain(KEY.slice(8))
    expect(r.stderr + r.stdout).not.toContain(KEY)
  })

  it('old journal readers: batch lines are lines of their own, and entries around them read as before', async () => {
    const dir = await tempProject()
    const j = openJournal(dir, 'anthropic x', 'cat')
    j.append('p1', 0, { agent: 'golang-pro', latencyMs: 1 })
    j.appendBatch({ id: 'msgbatch_a', customIds: [batchCustomId(attemptKey('p2', 0), 'aaaaaaaaaaaa')] })
    j.appendKey(attemptKey('p2', 0), { agent: 'none', latencyMs: 2, batch: 'msgbatch_a' })
    j.batchDone('msgbatch_a')
    j.appendBatch({ id: 'msgbatch_b', customIds: [batchCustomId(attemptKey('p3', 0), 'aaaaaaaaaaaa')] })
    j.close()
    const again = openJournal(dir, 'anthropic x', 'cat', { readOnly: true })
    expect(again.skippedLines).toEqual([])
    expect(again.loaded).toBe(2)
    expect(again.get('p2', 0)?.agent).toBe('none')
    expect(again.batches().map((b) => [b.id, b.done])).toEqual([['msgbatch_a', true], ['msgbatch_b', false]])
    // Each line is one JSON object: a reader that knows only {key, decision} lines skips the others.
    const text = await readFile(again.file, 'utf8')
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(lines.filter((l) => 'key' in l)).toHaveLength(2)
    expect(lines.filter((l) => 'batch' in l || 'batchDone' in l)).toHaveLength(3)
  })

  it.each(['template', 'classifier'] as const)("%s style: a batch entry's size is known without building it, exactly", async (style) => {
    const { catalogue } = await loadCatalogue(path.join(ROOT, 'agents'))
    const router = createMessagesRouter({ style, timeoutMs: 1000, dryRun: true })
    for (const prompt of ['fix the "flaky" test', 'ünïcode \u2028 and a\nnewline', '']) {
      const hour = Buffer.byteLength(JSON.stringify(router.batch!.params(prompt, catalogue, '1h')))
      expect(router.batch!.bytes(prompt, catalogue)).toBe(hour)
      expect(Buffer.byteLength(JSON.stringify(router.batch!.params(prompt, catalogue, '5m')))).toBeLessThan(hour)
    }
  })

  it('prices 1-hour cache writes and batch usage from the price table', () => {
    const price = priceFor('claude-haiku-4-5', loadPrices())!
    const usage = { inputTokens: 1e6, outputTokens: 1e6, cacheReadTokens: 1e6, cacheWriteTokens: 2e6, cacheWrite1hTokens: 1e6 }
    // $1 input + $5 output + $0.10 read + $1.25 (5-minute write) + $2 (1-hour write: 2 × input)
    expect(usageCost(usage, price)).toBeCloseTo(9.35, 10)
    expect(usageCost({ ...usage, batch: true }, price)).toBeCloseTo(4.675, 10)
    expect(usageCost({ ...usage, batch: true }, { ...price, batchFactor: 0.6, cacheWrite1h: 3 })).toBeCloseTo(0.6 * 10.35, 10)
  })
})

describe('--batch: a run killed while it waits', () => {
  const start = (args: string[], cwd: string, env: NodeJS.ProcessEnv) => startCli(args, { cwd, env })

  it('SIGKILL during polling, then a rerun: the same batch is reattached, no new batch is created, every case decided', async () => {
    const dir = await tempProject({ datasets: true })
    // The batch stays in progress for 40 polls (2 s at 0.05 s), whichever run polls it.
    const s = await serve({ pollsToEnd: 40 })
    const args = [...TEMPLATE, ...BATCH, '--dataset', 'datasets/routing.csv', '--out', 'run']
    const first = start(args, dir, envFor(s))
    await until(() => (s.batches[0]?.polls ?? 0) >= 3, 'the first run to poll its batch')
    const journal = (await journalLines(dir)).filter((l) => l.batch)
    expect(journal.map((l) => l.batch.id)).toEqual(['msgbatch_test0001'])
    first.child.kill('SIGKILL')
    const killed = await first.exited
    expect(killed.code).toBe(128)
    expect(s.batches[0]!.results).toBeUndefined()

    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(s.batches).toHaveLength(1)
    expect(s.requests.filter((r) => r.path === '/v1/messages/batches')).toHaveLength(1)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached \(created .* by an earlier run\), 352 request\(s\) of this run; nothing sent again/)
    expect(rerun.stderr).not.toContain('created with')
    // Its ~37 polls leave no listener behind on the run's signal (the SDK never removes the one it adds to a call's signal).
    expect(s.batches[0]!.polls).toBeGreaterThan(30)
    expect(rerun.stderr).not.toContain('MaxListenersExceededWarning')
    const summary = await summaryOf(dir, 'run')
    expect(summary.metrics.errored).toBe(0)
    expect(summary.requests).toMatchObject({ sent: 352, batched: 352 })
    expect(new Set(summary.cases.map((c: { decision: string | null }) => c.decision === null))).toEqual(new Set([false]))
    const lines = await journalLines(dir)
    expect(lines.filter((l) => l.batch)).toHaveLength(1)
    expect(lines.at(-1)).toEqual({ batchDone: 'msgbatch_test0001' })
    expect(await journalText(dir)).not.toContain(KEY)
  })
})

describe('--batch: a journal batch the server no longer knows', () => {
  it('is reported and its requests are submitted afresh', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const first = await serve({ pollsToEnd: 1000 })
    const args = [...TEMPLATE, ...BATCH, '--dataset', 'cases.csv', '--out', 'run']
    // Stopped (Ctrl-C) while the batch is in progress: the journal holds it, undone.
    const stop = new AbortController()
    setTimeout(() => stop.abort(), 300)
    const stopped = await runInProcess(args, { cwd: dir, env: envFor(first), signal: stop.signal })
    expect(stopped.code, stopped.stderr).toBe(3)
    expect(stopped.stderr).toMatch(/batch msgbatch_test0001: in progress/)
    const summary = await summaryOf(dir, 'run')
    expect(summary.requests.notSent).toBe(CASES.length)
    expect((await resultsOf(dir, 'run'))[0].error).toBe('not finished: the run was stopped while batch msgbatch_test0001 was processing; it goes on, and a rerun reattaches to it')
    await first.close()
    // Another server (another key, or the batch deleted): the rerun learns it does not exist and submits again.
    const second = await serve({ id: (n) => `msgbatch_second${n}` })
    const rerun = await runInProcess(args, { cwd: dir, env: envFor(second) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached/)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: http:\/\/127\.0\.0\.1:\d+ does not know batch msgbatch_test0001 .*; its 6 request\(s\) are submitted again/)
    expect(rerun.stderr).toContain('batch msgbatch_second1: created with 6 request(s)')
    expect(second.batches).toHaveLength(1)
    expect(second.batches[0]!.requests).toHaveLength(CASES.length)
    expect((await summaryOf(dir, 'run')).metrics.errored).toBe(0)
  })
})

const bin = bundledClaudeBinary()
const sdkInstalled = await import('@anthropic-ai/claude-agent-sdk').then(() => true, () => false)
const mustRun = process.platform === 'linux' && process.arch === 'x64'

describe.skipIf(!(bin !== undefined && sdkInstalled) && !mustRun)("--batch with the replay of Claude Code's request", () => {
  it('decides as the live replay does; each request is the capture, not streamed, with its beta header on the batch', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const s = await serve()
    const args = ['eval', '--router', 'anthropic', '--repeats', '1', '--dataset', 'cases.csv']
    const live = await runCli([...args, '--out', 'live', '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(live.code, live.stderr).toBe(0)
    const liveBodies = new Map(s.requests.filter((r) => r.engine).map((r) => [r.prompt, r.body]))
    const liveHeaders = s.requests.find((r) => r.engine)!.headers
    const batch = await runCli([...args, ...BATCH, '--out', 'batch'], { cwd: dir, env: envFor(s) })
    expect(batch.code, batch.stderr).toBe(0)
    expect(decisions(await summaryOf(dir, 'batch'))).toEqual(decisions(await summaryOf(dir, 'live')))
    const kinds = (x: { cases: { decisionKind?: string }[] }) => x.cases.map((c) => c.decisionKind)
    expect(kinds(await summaryOf(dir, 'batch'))).toEqual(kinds(await summaryOf(dir, 'live')))

    const [stored] = s.batches
    expect(stored!.requests).toHaveLength(CASES.length)
    for (const { params } of stored!.requests) {
      const prompt = params.messages.at(-1).content.at(-1).text
      const { stream, ...unstreamed } = liveBodies.get(prompt)!
      expect(stream).toBe(true)
      expect(params.stream).toBeUndefined()
      // The live body, every breakpoint cached for an hour.
      const hour = JSON.parse(JSON.stringify(unstreamed).replaceAll('"cache_control":{"type":"ephemeral"}', '"cache_control":{"type":"ephemeral","ttl":"1h"}'))
      expect(params).toEqual(hour)
    }
    const create = s.requests.find((r) => r.path === '/v1/messages/batches')!
    expect(create.headers['anthropic-beta']).toBe(liveHeaders['anthropic-beta'])
    expect(create.headers['x-claude-code-session-id']).toBeUndefined()

    // Batches are split on sizes known without building the 100 KB bodies: an upper bound, within a few bytes a breakpoint.
    const cache = path.join(dir, '.routecheck/cache')
    const capture = JSON.parse(await readFile(path.join(cache, (await readdir(cache)).find((f) => f.startsWith('claude-code-request-'))!), 'utf8'))
    const { catalogue } = await loadCatalogue(path.join(dir, 'agents'))
    const replay = compileReplay(capture.captured, catalogue)
    for (const [, prompt] of CASES) {
      const hour = Buffer.byteLength(JSON.stringify(replay.batchBody(prompt, '1h')))
      expect(replay.batchBytes(prompt)).toBeGreaterThanOrEqual(hour)
      expect(replay.batchBytes(prompt)).toBeLessThan(hour + 100)
    }
  })
})
