import { cp, readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BATCH_FACTOR } from '../src/route/cost.js'
import { runInProcess, tempDir, writeFiles } from './support/cli.js'
import { startMessagesServer, type MessagesServer, type ServerOptions } from './support/messages-server.js'

/**
 * The gate's re-tests of a model router's flips under --max-cost and --batch, against the
 * Messages-API stand-in: the cap is the whole gate's (run and re-tests), a flip the cap left
 * untested is no evidence (exit 3 unless the rules fail anyway), and --batch re-tests in a batch.
 */

const KEY = 'sk-ant-test-gate-retest-key'
const envFor = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })

let servers: MessagesServer[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})
async function serve(opts: ServerOptions): Promise<MessagesServer> {
  const s = await startMessagesServer(opts)
  servers.push(s)
  return s
}

/** Four web prompts the stand-in's word rule routes to web-dev; in the gate's run they go to db-tuner. */
const ASTRAY = ['component', 'hooks', 'layout', 'forms'].map((w) => `the react ${w} on the checkout page`)

/**
 * The gate's answers: ASTRAY to db-tuner the first `times` times each is seen, then right. 3: the
 * run's three repeats stray, the re-test (repeats 1000–1002) routes them right; 5: the re-test's
 * third repeat alone does, so a re-test cut short agrees with the flip; Infinity: always astray.
 */
const NOISE = 5
const astray = (times: number): NonNullable<ServerOptions['route']> => ({ prompt, seen }) => (ASTRAY.some((p) => prompt.includes(p)) && seen < times ? 'db-tuner' : undefined)

/** Three agents, 16 cases (4 web, each flipped in the gate's run), the anthropic router, 3 repeats; the baseline made against the word rule. */
async function project(): Promise<string> {
  const dir = await tempDir('routecheck-gate-retest-')
  const db = ['index', 'vacuum', 'planner', 'statistics', 'partitioning', 'cardinality']
  const ops = ['kubernetes', 'helm', 'terraform', 'pipeline', 'ingress', 'autoscaling']
  const rows = ['id,prompt,expected']
  db.forEach((w, i) => rows.push(`d${i},"our postgresql ${w} on the orders table",db-tuner`))
  ops.forEach((w, i) => rows.push(`o${i},"the ${w} of our deployment cluster",ops`))
  ASTRAY.forEach((p, i) => rows.push(`w${i},"${p}",web-dev`))
  await writeFiles(dir, {
    'agents/db-tuner.md': '---\nname: db-tuner\ndescription: Use this agent for PostgreSQL tuning, index and planner statistics work on the orders database.\n---\nYou tune.\n',
    'agents/ops.md': '---\nname: ops\ndescription: Use this agent for kubernetes, helm and terraform deployment cluster pipeline work.\n---\nYou deploy.\n',
    'agents/web-dev.md': '---\nname: web-dev\ndescription: Use this agent for React component, hooks, layout and forms work on the checkout page.\n---\nYou build pages.\n',
    'datasets/app.csv': `${rows.join('\n')}\n`,
    'routecheck.config.json': JSON.stringify({ agents: 'agents', datasets: ['datasets/app.csv'], router: 'anthropic', anthropic: { style: 'template' }, repeats: 3, out: 'reports', cacheDir: '.cache' }),
  })
  const server = await serve({})
  const baseline = await runInProcess(['baseline', '--no-cache'], { cwd: dir, env: envFor(server) })
  expect(baseline.code, baseline.stderr).toBe(0)
  return dir
}

type GateJson = { passed: boolean; failures: Array<{ rule: string }>; incomplete?: { untested: number; failures: Array<{ rule: string }> }; retest?: { flips: number; noise: number; untested: number; usd?: number }; comparison: { flips: Array<{ id: string; flaky: boolean; untested?: true }> } }
const gateJson = async (runDir: string): Promise<GateJson> => JSON.parse(await readFile(path.join(runDir, 'gate.json'), 'utf8'))
const runCost = async (runDir: string): Promise<number> => JSON.parse(await readFile(path.join(runDir, 'summary.json'), 'utf8')).cost.usdThisRun
/** Routing requests sent live (the drafting tool is not used here). */
const live = (s: MessagesServer) => s.requests.filter((q) => q.path === '/v1/messages')
const retestRequests = (s: MessagesServer, from = 0) => live(s).slice(from).length

/** An uncapped gate of a copy of the project: what the run and its re-tests cost (4 flips × 3 re-test repeats). */
async function reference(dir: string, times: number): Promise<{ runUsd: number; retestUsd: number }> {
  const noise = times !== Infinity
  const copy = await tempDir('routecheck-gate-retest-ref-')
  await cp(dir, copy, { recursive: true })
  const server = await serve({ route: astray(times) })
  const r = await runInProcess(['gate'], { cwd: copy, env: envFor(server) })
  expect(r.code, r.stdout + r.stderr).toBe(noise ? 0 : 1)
  expect(live(server)).toHaveLength(16 * 3 + 4 * 3)
  const judged = await gateJson(path.join(copy, 'reports/app'))
  expect(judged.retest).toMatchObject({ flips: 4, noise: noise ? 4 : 0, untested: 0 })
  return { runUsd: await runCost(path.join(copy, 'reports/app')), retestUsd: judged.retest!.usd! }
}

/**
 * The run routed by `eval` into the journal, then a gate whose cap is too small for one re-test
 * request: the run comes from the journal, nothing is re-tested, exit 3, and the note prices the
 * 12 missing requests each at its estimate as a cache write (the rule --max-cost admits a first
 * request by).
 */
async function capTooSmall(dir: string, server: MessagesServer): Promise<{ writeUsd: number; stderr: string }> {
  expect((await runInProcess(['eval'], { cwd: dir, env: envFor(server) })).code).toBe(0)
  expect(live(server)).toHaveLength(16 * 3)
  const r = await runInProcess(['gate', '--max-cost', '0.000001'], { cwd: dir, env: envFor(server) })
  expect(r.code, r.stdout + r.stderr).toBe(3)
  expect(live(server)).toHaveLength(16 * 3)
  expect(await gateJson(path.join(dir, 'reports/app'))).toMatchObject({ passed: false, failures: [], incomplete: { untested: 4 }, retest: { flips: 0, untested: 4 } })
  expect(r.stderr).toContain('4 flipped case(s) were not re-tested: 12 re-test request(s) have no answer (12 not sent (--max-cost 0.000001 USD would be passed))')
  const usd = /only the 12 missing request\(s\) are sent \(≈\$([\d.]+)\)/.exec(r.stderr)?.[1]
  expect(usd, r.stderr).toBeDefined()
  return { writeUsd: Number(usd) / 12, stderr: r.stderr }
}

describe('gate --max-cost covers the re-tests of the flips', () => {
  it('keeps run + re-tests within the cap; the flips it could not re-test make the gate incomplete (exit 3), and a rerun with the cap the note names sends only what is missing and gives the verdict', async () => {
    const dir = await project()
    const { retestUsd } = await reference(dir, NOISE)
    const server = await serve({ route: astray(NOISE) })
    // A cap too small for one re-test request: nothing re-tested, though the four flips are noise.
    const { writeUsd, stderr } = await capTooSmall(dir, server)
    expect(stderr).toContain('the gate has no verdict: it is incomplete (exit 3), not failed')
    // The first re-test request must fit as a cache write; the rest are priced as they come (the dearest so far): room for some, not all.
    expect(retestUsd).toBeGreaterThan(writeUsd)
    const maxCost = (writeUsd + (retestUsd - writeUsd) / 2).toFixed(6)
    const before = live(server).length
    // One request at a time, so the rule is exact: a request is sent only if what was spent plus the dearest request so far fits.
    const r = await runInProcess(['gate', '--max-cost', maxCost, '--concurrency', '1'], { cwd: dir, env: envFor(server) })
    expect(r.code, r.stdout + r.stderr).toBe(3)
    const retested = live(server).length - before
    expect(retested).toBeGreaterThan(0)
    expect(retested).toBeLessThan(4 * 3)
    const judged = await gateJson(path.join(dir, 'reports/app'))
    // the run came from the journal this time ($0): the cap was the re-tests'
    expect(await runCost(path.join(dir, 'reports/app'))).toBe(0)
    expect(judged.retest!.usd!).toBeGreaterThan(0)
    expect(judged.retest!.usd!).toBeLessThanOrEqual(Number(maxCost))
    expect(judged.passed).toBe(false)
    expect(judged.failures).toEqual([])
    // the rules that fail if the untested flips hold
    expect(judged.incomplete!.failures.map((f) => f.rule)).toContain('stable-flips')
    const untested = judged.incomplete!.untested
    expect(untested).toBeGreaterThan(0)
    expect(judged.retest).toEqual({ flips: 4 - untested, noise: 4 - untested, untested, usd: judged.retest!.usd })
    expect(judged.comparison.flips.filter((f) => f.untested)).toHaveLength(untested)
    // report.html marks them "not re-tested", not flaky
    const html = await readFile(path.join(dir, 'reports/app/report.html'), 'utf8')
    const page = JSON.parse(/<script type="application\/json" id="data">([\s\S]*?)<\/script>/.exec(html)![1]!)
    const shown = Object.values(page.flips as Record<string, Array<{ ut?: 1; fl: 0 | 1 }>>).flat()
    expect(shown.filter((f) => f.ut === 1)).toHaveLength(untested)
    expect(shown.filter((f) => f.ut === 1 && f.fl === 1)).toEqual([])
    expect(r.stdout).toMatch(new RegExp(`^INCOMPLETE: ${untested} flipped cases? (was|were) not re-tested`))
    expect(r.stdout).toContain(`gate: INCOMPLETE (${untested} flipped case`)
    expect(r.stdout).toContain('(not re-tested)')
    expect(r.stderr).toMatch(new RegExp(`gate: spent \\$[\\d.]+ of --max-cost ${maxCost.replace(/0+$/, '')} USD: the run \\$0\\.0000, the re-tests of its flips \\$[\\d.]+ \\(${retested} request\\(s\\) sent\\)`))
    const missing = 4 * 3 - retested
    expect(r.stderr).toContain(`${untested} flipped case(s) were not re-tested: ${missing} re-test request(s) have no answer (${missing} not sent (--max-cost ${maxCost.replace(/0+$/, '')} USD would be passed))`)
    const finish = /Run again with --max-cost ([\d.]+) to finish them/.exec(r.stderr)?.[1]
    expect(finish, r.stderr).toBeDefined()

    // The rerun: the run and the answered re-tests come from the journal; only the missing re-test requests are sent.
    const sent = live(server).length
    const again = await runInProcess(['gate', '--max-cost', finish!], { cwd: dir, env: envFor(server) })
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(live(server).length - sent).toBe(missing)
    const done = await gateJson(path.join(dir, 'reports/app'))
    expect(done).toMatchObject({ passed: true, failures: [], retest: { flips: 4, noise: 4, untested: 0 } })
    expect(done.incomplete).toBeUndefined()
  })

  it('fails (exit 1) when the flips it did re-test fail the rules, whatever the rest would say', async () => {
    const dir = await project()
    const { retestUsd } = await reference(dir, Infinity)
    const server = await serve({ route: astray(Infinity) })
    const { writeUsd } = await capTooSmall(dir, server)
    const r = await runInProcess(['gate', '--max-cost', (writeUsd + (retestUsd - writeUsd) / 2).toFixed(6), '--concurrency', '1'], { cwd: dir, env: envFor(server) })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    const judged = await gateJson(path.join(dir, 'reports/app'))
    expect(judged.failures.map((f) => f.rule)).toContain('stable-flips')
    expect(judged.retest!.flips).toBeGreaterThan(0)
    expect(judged.retest!.untested).toBeGreaterThan(0)
    expect(r.stderr).toContain('the rules fail on what was re-tested, whatever those answers say')
  })

  it('--dry-run shows the re-tests\' bound and the cap over both, sending nothing', async () => {
    const dir = await project()
    const server = await serve({})
    const r = await runInProcess(['gate', '--dry-run', '--max-cost', '0.5'], { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/datasets\/app\.csv: 48 request\(s\) to send \(16 cases × 3 repeats\)/)
    expect(r.stdout).toMatch(/re-tests of stable flips: up to 48 request\(s\) \(16 cases × max\(3, repeats\) repeats from repeat 1000: the bound, every case flipping; the gate re-tests only the cases it flipped\), ≈\$\d/)
    expect(r.stdout).toContain('--max-cost 0.5 USD covers the run and its re-tests together')
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^dry run: nothing was sent/)
    expect(server.requests).toHaveLength(0)
  })
})

describe('gate --batch re-tests the flips in a batch', () => {
  it('sends the re-tests as one more batch (no live request), at repeats 1000–1002, priced at the batch rate', async () => {
    const dir = await project()
    const { retestUsd } = await reference(dir, Infinity)
    const server = await serve({ route: astray(Infinity), batch: { pollsToEnd: 0 } })
    const r = await runInProcess(['gate', '--batch', '--batch-poll', '0.01'], { cwd: dir, env: envFor(server) })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(live(server)).toHaveLength(0)
    expect(server.batches).toHaveLength(2)
    const retest = server.batches[1]!.requests.map((q) => q.custom_id)
    expect(retest).toHaveLength(4 * 3)
    expect(new Set(retest.map((id) => id.split('_')[1]))).toEqual(new Set(['1000', '1001', '1002']))
    const judged = await gateJson(path.join(dir, 'reports/app'))
    expect(judged.retest).toMatchObject({ flips: 4, noise: 0, untested: 0 })
    // the same requests as the live re-test's, at the batch rate (within 1%: the stand-in's prompt cache reads differ a little in a batch)
    expect(Math.abs(judged.retest!.usd! / (retestUsd * BATCH_FACTOR) - 1)).toBeLessThan(0.01)
  })
})

describe('gate RUN_DIR (a merged run) honours --max-cost for its re-tests', () => {
  it("gives the re-tests what the shards' spend left of the cap: none here, so exit 3 and nothing sent", async () => {
    const dir = await project()
    const server = await serve({ route: astray(3) })
    for (const k of [1, 2]) expect((await runInProcess(['gate', '--shard', `${k}/2`], { cwd: dir, env: envFor(server) })).code).toBe(0)
    expect((await runInProcess(['merge', 'reports/shard-1-of-2/app', 'reports/shard-2-of-2/app', '--out', 'merged'], { cwd: dir })).code).toBe(0)
    const shardsUsd = await runCost(path.join(dir, 'merged'))
    expect(shardsUsd).toBeGreaterThan(0)
    const before = live(server).length
    const maxCost = (shardsUsd * 1.0001).toFixed(8)
    const r = await runInProcess(['gate', 'merged', '--max-cost', maxCost], { cwd: dir, env: envFor(server) })
    expect(r.code, r.stdout + r.stderr).toBe(3)
    expect(live(server).length - before).toBe(0)
    expect(await gateJson(path.join(dir, 'merged'))).toMatchObject({ passed: false, failures: [], incomplete: { untested: 4 }, retest: { flips: 0, untested: 4 } })
    expect(r.stderr).toContain(`gate: spent $${shardsUsd.toFixed(4)} of --max-cost ${Number(maxCost)} USD: the run $${shardsUsd.toFixed(4)}, the re-tests of its flips $0.0000 (0 request(s) sent)`)
    // Without a cap the same gate re-tests the four flips, finds them noise, and passes.
    const uncapped = await runInProcess(['gate', 'merged'], { cwd: dir, env: envFor(server) })
    expect(uncapped.code, uncapped.stdout + uncapped.stderr).toBe(0)
    expect(live(server).length - before).toBe(4 * 3)
  })
})

describe('gate RUN_DIR --dry-run prices the re-tests of the runs\' flips', () => {
  /** The runs of the project routed by `eval` against a stand-in that sends the four web prompts astray: four stable flips. */
  async function savedRun(): Promise<{ dir: string; runUsd: number }> {
    const dir = await project()
    const routing = await serve({ route: astray(Infinity) })
    expect((await runInProcess(['eval'], { cwd: dir, env: envFor(routing) })).code).toBe(0)
    return { dir, runUsd: await runCost(path.join(dir, 'reports/app')) }
  }
  const FLIPS = 'datasets/app.csv: 16 case(s) compared, 4 stable flip(s) (right → wrong: w0, w1, w2, w3)'
  /** The dry run's re-test requests and their price, and the output tokens a request it assumes. */
  const plannedOf = (stdout: string) => {
    const m = /re-tests: datasets\/app\.csv: (\d+) request\(s\) to send \(4 stable flip\(s\) × 3 repeats from repeat 1000(?:, (\d+) already in the journal)?\), ≈[\d,]+ input tokens, ≈\$([\d.]+)/.exec(stdout)
    expect(m, stdout).not.toBeNull()
    const output = /output ≈(\d+) tokens a request/.exec(stdout)
    expect(output, stdout).not.toBeNull()
    return { requests: Number(m![1]), inJournal: Number(m![2] ?? 0), usd: Number(m![3]), outputTokens: Number(output![1]) }
  }

  it('says how many re-test requests a real gate RUN_DIR then sends, at the price it pays, and what --max-cost leaves for them; sends nothing', async () => {
    const { dir, runUsd } = await savedRun()
    const idle = await serve({})
    const maxCost = (runUsd + 0.5).toFixed(6)
    const dry = await runInProcess(['gate', 'reports/app', '--dry-run', '--max-cost', maxCost], { cwd: dir, env: envFor(idle) })
    expect(dry.code, dry.stdout + dry.stderr).toBe(0)
    expect(idle.requests).toHaveLength(0)
    expect(dry.stdout).toContain(FLIPS)
    expect(dry.stdout).toContain('without re-tests (every stable flip holding) the rules fail: accuracy-drop, agent-f1-drop, stable-flips')
    const planned = plannedOf(dry.stdout)
    expect(planned).toMatchObject({ requests: 4 * 3, inJournal: 0 })
    expect(dry.stdout).toContain(`--max-cost ${Number(maxCost)} USD: the runs spent $${runUsd.toFixed(4)} when routed, which leaves $${(Number(maxCost) - runUsd).toFixed(4)} for the re-tests; they need ≈$${planned.usd.toFixed(4)}: room for all of them`)
    expect(dry.stdout.trimEnd().split('\n').at(-1)).toBe(`dry run: nothing was sent. Total: 12 re-test request(s), ≈$${planned.usd.toFixed(4)} (tokens ≈ characters/4; output ≈${planned.outputTokens} tokens a request; the catalogue prefix written to the prompt cache once, then read).`)

    // The gate itself, against a fresh stand-in (its prompt cache cold, as for runs routed elsewhere) whose replies carry the output the router estimates.
    const gating = await serve({ route: astray(Infinity), outputTokens: planned.outputTokens })
    const r = await runInProcess(['gate', 'reports/app', '--max-cost', maxCost], { cwd: dir, env: envFor(gating) })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(live(gating)).toHaveLength(planned.requests)
    const judged = await gateJson(path.join(dir, 'reports/app'))
    expect(judged.retest).toMatchObject({ flips: 4, noise: 0, untested: 0 })
    // the gate's account of what it paid, to the dry run's four decimals
    expect(Math.abs(judged.retest!.usd! - planned.usd)).toBeLessThanOrEqual(0.00005 + 1e-9)

    // Its answers are in the journal now: a second gate would send none, and the dry run says so.
    const again = await runInProcess(['gate', 'reports/app', '--dry-run'], { cwd: dir, env: envFor(idle) })
    expect(again.code, again.stderr).toBe(0)
    expect(plannedOf(again.stdout)).toMatchObject({ requests: 0, inJournal: 12, usd: 0 })
    expect(idle.requests).toHaveLength(0)
  })

  it('with a cap the runs used up: room for none of them, as the gate then finds (exit 3, nothing sent)', async () => {
    const { dir, runUsd } = await savedRun()
    const idle = await serve({})
    const maxCost = (runUsd * 1.0001).toFixed(8)
    const dry = await runInProcess(['gate', 'reports/app', '--dry-run', '--max-cost', maxCost], { cwd: dir, env: envFor(idle) })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/for the re-tests; they need ≈\$[\d.]+: room for about 0 of the 12; a flip left without its answers is not re-tested, and the gate is incomplete \(exit 3\) unless the rules fail without it/)
    const r = await runInProcess(['gate', 'reports/app', '--max-cost', maxCost], { cwd: dir, env: envFor(idle) })
    expect(r.code, r.stdout + r.stderr).toBe(3)
    expect(idle.requests).toHaveLength(0)
  })

  it('--batch: the re-tests as one batch of the same requests, at the batch price the gate then pays', async () => {
    const { dir } = await savedRun()
    const idle = await serve({})
    const dry = await runInProcess(['gate', 'reports/app', '--dry-run', '--batch'], { cwd: dir, env: envFor(idle) })
    expect(dry.code, dry.stdout + dry.stderr).toBe(0)
    expect(idle.requests).toHaveLength(0)
    const planned = plannedOf(dry.stdout)
    expect(dry.stdout).toMatch(/^batch: 12 request\(s\) in 1 batch\(es\) of at most/m)
    const batchUsd = Number(/batch: live price ≈\$([\d.]+); batch price ≈\$([\d.]+)/.exec(dry.stdout)?.[2])
    expect(batchUsd).toBeGreaterThan(0)
    expect(batchUsd).toBeLessThan(planned.usd)

    const gating = await serve({ route: astray(Infinity), outputTokens: planned.outputTokens, batch: { pollsToEnd: 0 } })
    const r = await runInProcess(['gate', 'reports/app', '--batch', '--batch-poll', '0.01'], { cwd: dir, env: envFor(gating) })
    expect(r.code, r.stdout + r.stderr).toBe(1)
    expect(live(gating)).toHaveLength(0)
    expect(gating.batches).toHaveLength(1)
    expect(gating.batches[0]!.requests).toHaveLength(planned.requests)
    const judged = await gateJson(path.join(dir, 'reports/app'))
    expect(Math.abs(judged.retest!.usd! - batchUsd)).toBeLessThanOrEqual(0.00005 + 1e-9)
  })

  it('the lexical router: the same comparison, and no re-test needed (a deterministic router\'s flips are real)', async () => {
    const dir = await project()
    const config = path.join(dir, 'routecheck.config.json')
    await writeFiles(dir, { 'routecheck.config.json': JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), router: 'lexical', repeats: 1 }) })
    expect((await runInProcess(['baseline', '--no-cache'], { cwd: dir })).code).toBe(0)
    await writeFiles(dir, { 'agents/web-dev.md': '---\nname: web-dev\ndescription: Use this agent for mobile apps written in Swift and Kotlin.\n---\nYou build apps.\n' })
    expect((await runInProcess(['eval'], { cwd: dir })).code).toBe(0)
    const dry = await runInProcess(['gate', 'reports/app', '--dry-run'], { cwd: dir })
    expect(dry.code, dry.stdout + dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/datasets\/app\.csv: 16 case\(s\) compared, [1-4] stable flip\(s\) \(right → wrong: w/)
    expect(dry.stdout).toContain('re-tests: none (the lexical router is deterministic: a flip is never noise)')
    expect(dry.stdout.trimEnd().split('\n').at(-1)).toBe('dry run: nothing was sent.')
  })
})
