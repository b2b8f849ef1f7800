import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { INTENT_CLOCK_SLACK_MS, uploadCandidates, uploadWindowMs } from '../src/route/batch.js'
import { sdkBatchApi } from '../src/route/anthropic-batch.js'
import { MessagesClient } from '../src/route/anthropic-client.js'
import { openBatchLedger, openJournal } from '../src/route/journal.js'
import { RouterError, type BatchStatus } from '../src/route/router.js'
import { DEFAULT_RETRY } from '../src/route/run.js'
import { casesCsv, runCli, runInProcess, SIX_CASES, startCli, tempDir, tempProject, until, writeFiles } from './support/cli.js'
import { drafter } from './support/drafter.js'
import { startMessagesServer, type BatchOptions, type MessagesServer, type ServerOptions } from './support/messages-server.js'

/**
 * --batch: a run killed during a batch upload (after POST /v1/messages/batches was sent, before
 * its id came back). The ledger notes the intent before the upload; a rerun lists the account's
 * batches around the intent's time and reattaches the one of its size, submits anew when there is
 * none, and does not guess among several. Against the stand-in's batch endpoints, list included.
 */
const servers: MessagesServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})
async function serve(batch: BatchOptions, extra: ServerOptions = {}): Promise<MessagesServer> {
  const s = await startMessagesServer({ retryAfter: '0', batch, ...extra })
  servers.push(s)
  return s
}

const KEY = 'sk-ant-test-batch-upload-KEY-55555'
const envFor = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })
const BATCH = ['--batch', '--batch-poll', '0.05']
const ROUTE = ['eval', '--router', 'anthropic', '--style', 'template', '--repeats', '1', '--dataset', 'cases.csv']
const CASES = SIX_CASES

const summaryOf = async (dir: string, run: string) => JSON.parse(await readFile(path.join(dir, run, 'summary.json'), 'utf8'))
const resultsOf = async (dir: string, run: string) => (await readFile(path.join(dir, run, 'results.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l))
const decisions = (s: { cases: Array<{ id: string; decision: string | null }> }) => s.cases.map((c) => [c.id, c.decision])
async function journalLines(dir: string): Promise<Record<string, any>[]> {
  const cache = path.join(dir, '.routecheck/cache')
  const [file, ...others] = (await readdir(cache)).filter((f) => f.endsWith('.jsonl'))
  expect(others).toEqual([])
  return (await readFile(path.join(cache, file!), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l))
}
const creates = (s: MessagesServer) => s.requests.filter((r) => r.method === 'POST' && r.path === '/v1/messages/batches')
const lists = (s: MessagesServer) => s.requests.filter((r) => r.method === 'GET' && r.path === '/v1/messages/batches')

/** Holds the first create call until the test says what becomes of it; `body` is what it uploaded. */
function holdFirstCreate() {
  const hold: { body?: any; release?: (verdict: 'create' | 'discard') => void } = {}
  const holdCreate: BatchOptions['holdCreate'] = ({ call, body }) => (call === 0 ? new Promise((resolve) => Object.assign(hold, { body, release: resolve })) : undefined)
  return { hold, holdCreate }
}

/** Starts a run, waits until the stand-in holds its upload, and SIGKILLs it there: the upload's intent is noted, no batch line. */
async function killDuringUpload(args: string[], dir: string, s: MessagesServer, hold: { body?: unknown }): Promise<Record<string, any>> {
  const run = startCli(args, { cwd: dir, env: envFor(s) })
  await until(() => hold.body !== undefined, 'the stand-in to receive the create body')
  run.child.kill('SIGKILL')
  expect((await run.exited).code).toBe(128)
  expect(s.batches).toHaveLength(0)
  return run
}

/** A project, a live run of its cases to compare with, and a batch run of them killed during its upload (the stand-in holding it). */
async function interruptedRun(batch: BatchOptions = {}) {
  const dir = await tempProject()
  await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
  const { hold, holdCreate } = holdFirstCreate()
  const s = await serve({ holdCreate, ...batch })
  const live = await runInProcess([...ROUTE, '--out', 'live', '--no-cache'], { cwd: dir, env: envFor(s) })
  expect(live.code, live.stderr).toBe(0)
  const args = [...ROUTE, ...BATCH, '--out', 'run']
  await killDuringUpload(args, dir, s, hold)
  return { dir, s, hold, args }
}

/** Another client on the same workspace uploads a batch: these requests. */
async function uploadAsAnotherClient(s: MessagesServer, requests: { custom_id: string; params: object }[]): Promise<string> {
  const res = await fetch(`${s.url}/v1/messages/batches`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: JSON.stringify({ requests }) })
  expect(res.status).toBe(200)
  return ((await res.json()) as { id: string }).id
}
const otherRequest = (i: number) => ({ custom_id: `${'f'.repeat(32)}_${i}`, params: { model: 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: `another client's question ${i}` }] } })

describe('--batch: a run killed during a batch upload', () => {
  it('the batch the killed upload made is found and reattached: 0 new batches, the decisions of an uninterrupted run', async () => {
    const { dir, s, hold, args } = await interruptedRun({ pollsToEnd: 2 })
    // Noted before the upload started: the intent, unsettled.
    const [, intentLine, ...after] = await journalLines(dir)
    expect(after).toEqual([])
    const intent = intentLine!.batchIntent
    expect(intent).toMatchObject({ requests: 6, customIds: hold.body.requests.map((q: { custom_id: string }) => q.custom_id) })
    // The API had the body: it makes the batch after the client is gone.
    hold.release!('create')
    await until(() => s.batches.length === 1, 'the stand-in to make the batch')
    // --dry-run lists nothing, but says what a run would look for first.
    const dry = await runInProcess([...ROUTE, ...BATCH, '--dry-run'], { cwd: dir, env: envFor(s) })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain(`1 interrupted upload(s) (6 requests at ${intent.created}) would be looked for first among the account's batches`)
    expect(lists(s)).toHaveLength(0)

    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(s.batches).toHaveLength(1)
    expect(creates(s)).toHaveLength(1)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached from an interrupted upload \(6 requests, created \d{4}-\d\d-\d\dT[\d:.]+Z\)/)
    expect(rerun.stderr).not.toContain('created with')
    // One page of the list, as many batches as the API allows a page.
    expect(lists(s).map((r) => r.query)).toEqual([{ limit: '1000' }])
    expect(decisions(await summaryOf(dir, 'run'))).toEqual(decisions(await summaryOf(dir, 'live')))
    expect((await summaryOf(dir, 'run')).requests).toMatchObject({ sent: 6, batched: 6, errored: 0 })

    // The batch line settles the intent, marked recovered; then the results, then done. A second rerun lists nothing and sends nothing.
    const lines = (await journalLines(dir)).slice(2)
    expect(lines[0]).toEqual({ batch: { id: 'msgbatch_test0001', created: expect.any(String), customIds: intent.customIds, intent: intent.nonce, recovered: true } })
    expect(lines.filter((l) => l.key)).toHaveLength(6)
    expect(lines.at(-1)).toEqual({ batchDone: 'msgbatch_test0001' })
    s.reset()
    const again = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(again.code, again.stderr).toBe(0)
    expect(s.requests).toHaveLength(0)
  })

  it('stopped (Ctrl-C) during the upload: its cases say a rerun looks for the batch, and the rerun reattaches it', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const { hold, holdCreate } = holdFirstCreate()
    const s = await serve({ holdCreate })
    const args = [...ROUTE, ...BATCH, '--out', 'run']
    const stop = new AbortController()
    void until(() => hold.body !== undefined, 'the upload').then(() => stop.abort())
    const stopped = await runInProcess(args, { cwd: dir, env: envFor(s), signal: stop.signal })
    expect(stopped.code, stopped.stderr).toBe(3)
    expect((await summaryOf(dir, 'run')).requests.notSent).toBe(6)
    expect(new Set((await resultsOf(dir, 'run')).map((r) => r.error))).toEqual(new Set(["not finished: the run was stopped while its batch was uploading; a rerun looks for that batch among the account's before sending it again"]))
    hold.release!('create')
    await until(() => s.batches.length === 1, 'the stand-in to make the batch')
    const rerun = await runInProcess(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached from an interrupted upload \(6 requests/)
    expect(s.batches).toHaveLength(1)
  })

  it('an upload that never reached the API: the rerun finds no batch of its size, says so, and submits one batch', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    let dropping = true
    const s = await serve({ dropCreate: () => dropping })
    const args = [...ROUTE, ...BATCH, '--out', 'run']
    const run = startCli(args, { cwd: dir, env: envFor(s) })
    await until(() => (s.counts().faults.create_dropped ?? 0) >= 1, 'the stand-in to drop an upload')
    run.child.kill('SIGKILL')
    expect((await run.exited).code).toBe(128)
    dropping = false
    expect(s.batches).toHaveLength(0)
    const intent = (await journalLines(dir))[1]!.batchIntent
    expect(intent.requests).toBe(6)

    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(/batch upload of 6 request\(s\) at \S+, interrupted: no batch of 6 requests created from \S+ to \S+, so it never reached the API; its requests are submitted now/)
    expect(rerun.stderr).toContain('batch msgbatch_test0001: created with 6 request(s)')
    expect(s.batches).toHaveLength(1)
    expect(s.batches[0]!.requests.map((q) => q.custom_id).sort()).toEqual([...intent.customIds].sort())
    expect((await summaryOf(dir, 'run')).metrics.errored).toBe(0)
    // Settled without a batch, then this run's own intent and batch.
    const lines = (await journalLines(dir)).slice(2)
    expect(lines[0]).toEqual({ batchIntentDone: intent.nonce })
    expect(lines[1]!.batchIntent.requests).toBe(6)
    expect(lines[2]!.batch).toMatchObject({ id: 'msgbatch_test0001', intent: lines[1]!.batchIntent.nonce })
  })

  it('two batches of its size in its window: not guessing, a new batch, and both named; the list read page by page', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const { hold, holdCreate } = holdFirstCreate()
    // One batch a page: the list is followed by after_id, newest first.
    const s = await serve({ holdCreate, listPageMax: 1 })
    const args = [...ROUTE, ...BATCH, '--out', 'run']
    await killDuringUpload(args, dir, s, hold)
    hold.release!('create')
    await until(() => s.batches.length === 1, 'the stand-in to make the batch')
    const other = await uploadAsAnotherClient(s, CASES.map((_, i) => otherRequest(i)))
    expect(other).toBe('msgbatch_test0002')

    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(
      /batch upload of 6 request\(s\) at \S+, interrupted: 2 batches of 6 requests from \S+ to \S+ may be it: msgbatch_test0002 \(created \S+\), msgbatch_test0001 \(created \S+\); not guessing, its requests are submitted anew\. Cancel whichever of those is that upload/,
    )
    expect(rerun.stderr).not.toContain('reattached')
    expect(rerun.stderr).toContain('batch msgbatch_test0003: created with 6 request(s)')
    expect(s.batches).toHaveLength(3)
    expect(s.batches[0]!.polls + s.batches[1]!.polls).toBe(0)
    expect((await summaryOf(dir, 'run')).metrics.errored).toBe(0)
    expect(lists(s).map((r) => r.query)).toEqual([{ limit: '1000' }, { limit: '1000', after_id: 'msgbatch_test0002' }])
    expect((await journalLines(dir)).filter((l) => l.batchIntentDone)).toHaveLength(1)
  })

  it('a reattached batch that answers only part of the upload: the rest is submitted again, not counted as a try; its other answers are not kept', async () => {
    const { dir, s, hold, args } = await interruptedRun()
    // The upload made nothing; another client's batch of the same size, in the window, holds 3 of its requests and 3 of its own.
    hold.release!('discard')
    const uploaded = hold.body.requests as { custom_id: string; params: object }[]
    // Its own requests ask what the upload's other 3 ask, under its own custom_ids: answers a reader could take for this run's.
    await uploadAsAnotherClient(s, [...uploaded.slice(0, 3), ...uploaded.slice(3).map((q, i) => ({ ...otherRequest(i), params: q.params }))])

    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached from an interrupted upload \(6 requests, created \S+\)/)
    expect(rerun.stderr).toContain('batch msgbatch_test0001: results joined: 3 succeeded, 0 failed; 3 it did not answer are submitted again (it was not all of the interrupted upload)')
    expect(rerun.stderr).toContain('batch msgbatch_test0002: created with 3 request(s)')
    expect(s.batches).toHaveLength(2)
    expect(s.batches[1]!.requests.map((q) => q.custom_id).sort()).toEqual(uploaded.slice(3).map((q) => q.custom_id).sort())
    expect(decisions(await summaryOf(dir, 'run'))).toEqual(decisions(await summaryOf(dir, 'live')))
    // The wrong batch cost those requests no try: each was sent once as far as its result says.
    expect((await resultsOf(dir, 'run')).map((r) => r.tries)).toEqual([1, 1, 1, 1, 1, 1])
    const lines = await journalLines(dir)
    expect(lines.filter((l) => l.key)).toHaveLength(6)
    expect(lines.some((l) => typeof l.key === 'string' && l.key.startsWith('ffff'))).toBe(false)
  })

  it("another run's batch of the same prompts for other descriptions, in the window: reattached, but none of its answers read; every request submitted again", async () => {
    const { dir, s, hold, args } = await interruptedRun()
    hold.release!('discard')
    // A pull request that rewrote one description runs the same dataset through the same account meanwhile: a batch of 6, the same prompts.
    const other = await tempProject()
    await writeFiles(other, { 'cases.csv': casesCsv(CASES) })
    const agentFile = path.join(other, 'agents/golang-pro.md')
    await writeFile(agentFile, (await readFile(agentFile, 'utf8')).replace(/^description: .*$/m, 'description: Go services only, never the build.'))
    const theirs = await runCli(args, { cwd: other, env: envFor(s) })
    expect(theirs.code, theirs.stderr).toBe(0)
    expect(s.batches).toHaveLength(1)
    const ours = (hold.body.requests as { custom_id: string }[]).map((q) => q.custom_id)
    const theirIds = s.batches[0]!.requests.map((q) => q.custom_id)
    // The same prompts and repeats, under the tag of their journal, not ours.
    expect(theirIds.map((id) => id.slice(0, 35)).sort()).toEqual(ours.map((id) => id.slice(0, 35)).sort())
    expect(theirIds.filter((id) => ours.includes(id))).toEqual([])

    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached from an interrupted upload \(6 requests, created \S+\)/)
    expect(rerun.stderr).toContain('6 it did not answer are submitted again')
    expect(s.batches).toHaveLength(2)
    expect(s.batches[1]!.requests.map((q) => q.custom_id).sort()).toEqual([...ours].sort())
    expect(decisions(await summaryOf(dir, 'run'))).toEqual(decisions(await summaryOf(dir, 'live')))
    // Every decision journaled came from our own batch.
    expect((await journalLines(dir)).filter((l) => l.key).map((l) => l.decision.batch)).toEqual(Array(6).fill('msgbatch_test0002'))
  })

  it('a create call cut off after the API made the batch: the run reads the list before trying again, follows that batch, and creates no second one', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const s = await serve({ holdCreate: ({ call }) => (call === 0 ? Promise.resolve('create-then-drop') : undefined) })
    const live = await runInProcess([...ROUTE, '--out', 'live', '--no-cache'], { cwd: dir, env: envFor(s) })
    expect(live.code, live.stderr).toBe(0)
    const r = await runCli([...ROUTE, ...BATCH, '--out', 'run'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    // One upload, one batch: the list read once, the create not tried again.
    expect(creates(s)).toHaveLength(1)
    expect(s.batches).toHaveLength(1)
    expect(lists(s)).toHaveLength(1)
    expect(r.stderr).toMatch(/batch msgbatch_test0001: made by an upload whose create call failed \(.+\); followed, not created again \(6 requests, created \S+\)/)
    expect(decisions(await summaryOf(dir, 'run'))).toEqual(decisions(await summaryOf(dir, 'live')))
    expect((await resultsOf(dir, 'run')).map((x) => x.tries)).toEqual([1, 1, 1, 1, 1, 1])
    // The ledger: the intent, then the batch line settling it, marked found, then the decisions and done.
    const lines = (await journalLines(dir)).slice(1)
    expect(lines[1]).toEqual({ batch: { id: 'msgbatch_test0001', created: expect.any(String), customIds: lines[0]!.batchIntent.customIds, intent: lines[0]!.batchIntent.nonce, recovered: true } })
    expect(lines.at(-1)).toEqual({ batchDone: 'msgbatch_test0001' })
  })

  it('a create call cut off before the API made anything: the list shows no batch of its size, and the create is tried again', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const s = await serve({ dropCreate: (call) => call === 0 })
    const r = await runCli([...ROUTE, ...BATCH, '--out', 'run'], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(lists(s)).toHaveLength(1)
    expect(s.batches).toHaveLength(1)
    expect(r.stderr).toContain('batch msgbatch_test0001: created with 6 request(s)')
    expect(r.stderr).not.toContain('not created again')
  })

  it('an interrupted upload older than the API keeps results (29 days): not looked for, its requests submitted now', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const { hold, holdCreate } = holdFirstCreate()
    const s = await serve({ holdCreate })
    const args = [...ROUTE, ...BATCH, '--out', 'run']
    await killDuringUpload(args, dir, s, hold)
    hold.release!('discard')
    // The same journal, its intent 40 days old.
    const cache = path.join(dir, '.routecheck/cache')
    const [file] = (await readdir(cache)).filter((f) => f.endsWith('.jsonl'))
    const old = new Date(Date.now() - 40 * 24 * 3600 * 1000).toISOString()
    const text = await readFile(path.join(cache, file!), 'utf8')
    await writeFile(path.join(cache, file!), text.replace(/("batchIntent":\{[^\n]*?"created":")[^"]+"/, `$1${old}"`))
    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toContain(`batch upload of 6 request(s) at ${old}, interrupted: over 29 days ago`)
    expect(lists(s)).toHaveLength(0)
    expect(s.batches).toHaveLength(1)
    expect((await journalLines(dir)).filter((l) => l.batchIntentDone)).toHaveLength(1)
  })

  it('a list that cannot be read: the upload is left unchecked for a later run, said so, and its requests submitted anew', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES), 'routecheck.config.json': JSON.stringify({ maxTries: 2 }) })
    const { hold, holdCreate } = holdFirstCreate()
    const s = await serve({ holdCreate, fault: ({ what }) => (what === 'list' ? 'server_error' : undefined) })
    const args = [...ROUTE, ...BATCH, '--out', 'run']
    await killDuringUpload(args, dir, s, hold)
    hold.release!('create')
    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(lists(s)).toHaveLength(2)
    expect(rerun.stderr).toMatch(/batches: list failed \(HTTP 500 api_error.*\), try 1; retrying/)
    expect(rerun.stderr).toMatch(/batch upload of 6 request\(s\) at \S+, interrupted: the account's batches could not be listed \(HTTP 500 api_error.*\); its requests are submitted anew, and a batch that upload made, if any, is billed as well/)
    expect(s.batches).toHaveLength(2)
    // Still open: the ledger names no batch for it and did not settle it.
    const lines = await journalLines(dir)
    expect(lines.filter((l) => l.batchIntent)).toHaveLength(2)
    expect(lines.filter((l) => l.batchIntentDone)).toHaveLength(0)
    expect(lines.filter((l) => l.batch).map((l) => l.batch.intent)).toEqual([lines.filter((l) => l.batchIntent)[1]!.batchIntent.nonce])
  })

  it('--no-cache keeps no journal: nothing is noted, and a rerun reattaches to nothing', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES) })
    const { hold, holdCreate } = holdFirstCreate()
    const s = await serve({ holdCreate })
    const args = [...ROUTE, ...BATCH, '--out', 'run', '--no-cache']
    await killDuringUpload(args, dir, s, hold)
    hold.release!('create')
    await until(() => s.batches.length === 1, 'the stand-in to make the batch')
    const rerun = await runCli(args, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(s.batches).toHaveLength(2)
    expect(lists(s)).toHaveLength(0)
    expect(await readdir(dir)).not.toContain('.routecheck')
  })
})

describe('generate --batch killed during its upload', () => {
  const GENERATE = ['generate', '--per-agent', '4', '--model', 'claude-haiku-4-5', ...BATCH]
  it("the drafting ledger's intent finds the batch: 0 new batches, the dataset a live run writes", async () => {
    const dir = await tempProject()
    const { hold, holdCreate } = holdFirstCreate()
    const s = await serve({ holdCreate }, { tool: drafter })
    await killDuringUpload(GENERATE, dir, s, hold)
    const ledger = (await readFile(path.join(dir, '.routecheck/cache/tool-calls/batches.jsonl'), 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l))
    expect(ledger.map((l) => Object.keys(l))).toEqual([['batchIntent']])
    hold.release!('create')
    await until(() => s.batches.length === 1, 'the stand-in to make the batch')

    const rerun = await runCli(GENERATE, { cwd: dir, env: envFor(s) })
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(/batch msgbatch_test0001: reattached from an interrupted upload \(27 requests, created \S+\)/)
    expect(s.batches).toHaveLength(1)
    expect(creates(s)).toHaveLength(1)

    const liveServer = await serve({}, { tool: drafter })
    const liveDir = await tempProject()
    expect((await runInProcess(GENERATE.slice(0, 5), { cwd: liveDir, env: envFor(liveServer) })).code).toBe(0)
    expect(await readFile(path.join(dir, 'routecheck/generated.csv'), 'utf8')).toBe(await readFile(path.join(liveDir, 'routecheck/generated.csv'), 'utf8'))
  })
})

describe('the interrupted upload: its window, its candidates, its ledger lines', () => {
  it("the window is the create call's tries at their timeout with the longest wait between: 65 minutes with the defaults", () => {
    const api = sdkBatchApi(new MessagesClient({ apiKey: 'x', baseURL: 'http://127.0.0.1:9' }), { timeoutMs: 60_000, classify: () => new RouterError('server', 'x'), where: 'here' })
    expect(api.createTimeoutMs).toBe(10 * 60_000)
    expect(uploadWindowMs(api.createTimeoutMs, DEFAULT_RETRY)).toBe(6 * 10 * 60_000 + 5 * 60_000)
    expect(uploadWindowMs(1000, { maxTries: 1, baseDelayMs: 1, maxDelayMs: 1 })).toBe(1000)
  })

  it("the stand-in's list pages as the API's: newest first, after_id for older, before_id for newer, has_more in that direction", async () => {
    const s = await serve({ listPageMax: 2 })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push(await uploadAsAnotherClient(s, [otherRequest(i)]))
    const client = new MessagesClient({ apiKey: KEY, baseURL: s.url })
    const all: string[] = []
    for await (const b of client.messages.batches.list({ limit: 1000 })) all.push(b.id)
    expect(all).toEqual([...ids].reverse())
    const page = await client.messages.batches.list({ limit: 2, after_id: ids[3]! })
    expect(page.data.map((b) => b.id)).toEqual([ids[2], ids[1]])
    expect([page.has_more, page.first_id, page.last_id]).toEqual([true, ids[2], ids[1]])
    const newer = await client.messages.batches.list({ limit: 2, before_id: ids[1]! })
    expect(newer.data.map((b) => b.id)).toEqual([ids[3], ids[2]])
    expect([newer.has_more, newer.first_id, newer.last_id]).toEqual([true, ids[3], ids[2]])
    const newest = await client.messages.batches.list({ limit: 2, before_id: ids[3]! })
    expect(newest.data.map((b) => b.id)).toEqual([ids[4]])
    expect(newest.has_more).toBe(false)
    expect(newest.data[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(newest.data[0]!.request_counts).toEqual({ processing: 1, succeeded: 0, errored: 0, canceled: 0, expired: 0 })
    const empty = await client.messages.batches.list({ after_id: ids[0]! })
    expect([empty.data, empty.has_more, empty.first_id, empty.last_id]).toEqual([[], false, null, null])
  })

  it('a candidate: created from a minute before the intent to the window after it, of its size, named by no ledger line', () => {
    const at = Date.parse('2026-03-01T12:00:00.000Z')
    const batch = (id: string, createdMs: number, size: number): BatchStatus => ({
      id,
      status: 'in_progress',
      counts: { processing: size - 2, succeeded: 1, errored: 1, canceled: 0, expired: 0 },
      createdAt: new Date(createdMs).toISOString(),
      endedAt: null,
      expiresAt: '',
    })
    const window = 10_000
    const listed = [
      batch('too-early', at - INTENT_CLOCK_SLACK_MS - 1, 6),
      batch('earliest', at - INTENT_CLOCK_SLACK_MS, 6),
      batch('latest', at + window, 6),
      batch('too-late', at + window + 1, 6),
      batch('other-size', at, 7),
      batch('claimed', at, 6),
    ]
    const found = uploadCandidates({ created: new Date(at).toISOString(), requests: 6 }, listed, new Set(['claimed']), window)
    expect(found.map((b) => b.id)).toEqual(['earliest', 'latest'])
  })

  it('the ledger: an intent stays open until a batch line or an intent-done line settles it; a cut-off intent line is dropped', async () => {
    const dir = await tempDir()
    const ledger = openBatchLedger(dir)
    const a = ledger.appendIntent(['k1', 'k2'])
    const b = ledger.appendIntent(['k3'])
    const c = ledger.appendIntent(['k4'])
    ledger.appendBatch({ id: 'msgbatch_a', customIds: ['k1', 'k2'], intent: a.nonce })
    ledger.intentDone(b.nonce)
    ledger.close()
    expect(a).toMatchObject({ requests: 2, customIds: ['k1', 'k2'] })
    expect(a.nonce).not.toBe(b.nonce)
    const again = openBatchLedger(dir, { readOnly: true })
    expect(again.intents().map((i) => i.nonce)).toEqual([c.nonce])
    expect(again.batches()).toEqual([{ id: 'msgbatch_a', created: expect.any(String), customIds: ['k1', 'k2'], done: false, recovered: false }])
    // Killed mid-write: the cut-off line is removed, the intent before it kept.
    await writeFile(again.file, `${await readFile(again.file, 'utf8')}{"batchIntent":{"nonce":"ab`)
    const repaired = openBatchLedger(dir)
    expect(repaired.intents().map((i) => i.nonce)).toEqual([c.nonce])
    repaired.close()

    // The run journal holds the same lines, and reads them back without skipping any.
    const j = openJournal(dir, 'anthropic x', 'cat')
    const intent = j.appendIntent(['p_0'])
    j.appendBatch({ id: 'msgbatch_r', customIds: ['p_0'], intent: intent.nonce, recovered: true })
    j.close()
    const read = openJournal(dir, 'anthropic x', 'cat', { readOnly: true })
    expect(read.skippedLines).toEqual([])
    expect(read.intents()).toEqual([])
    expect(read.batches()[0]).toMatchObject({ id: 'msgbatch_r', recovered: true })
  })
})
