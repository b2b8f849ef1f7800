import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readJson, runCli, tempProject, writeFiles } from './support/cli.js'
import { startMessagesServer, type MessagesServer } from './support/messages-server.js'

/**
 * --max-cost with --shard K/N is the whole run's cap: N shards each keep to
 * their share (cap × their estimate / the run's), so together they spend no
 * more than one unsharded run would be allowed, and the merged run says what
 * was spent against the cap and is incomplete as the capped unsharded run is.
 * The real CLI against the Messages API stand-in on 127.0.0.1.
 */
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

type Json = Record<string, any>
const ROUTE = ['--router', 'anthropic', '--style', 'template', '--dataset', 'datasets/python-backend.csv', '--repeats', '1', '--concurrency', '4']
const CASES = 138
/** summary.json writes 6 decimals: a shard's spend and its share, each rounded, may cross by that much. */
const WRITTEN = 1e-6

/**
 * The dearest request of a run after the one that wrote the prompt cache, at the run's price. One run
 * keeps to --max-cost by admitting a request only if what was spent, plus the expected cost of those in
 * flight and its own (the dearest so far), fits: a request in flight that turns out dearer than that can
 * pass the cap by the difference. On a busy machine the stand-in's replies come back later, more are in
 * flight at once, and a shard was seen $0.000135 over its share: a quarter of one of these.
 */
async function dearestRequestUsd(file: string, price: { input: number; output: number; cacheRead: number; cacheWrite: number }): Promise<number> {
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Json)
  const costs = lines
    .filter((l) => l.usage && l.usage.cacheWriteTokens === 0)
    .map((l) => (l.usage.inputTokens * price.input + l.usage.outputTokens * price.output + l.usage.cacheReadTokens * price.cacheRead) / 1e6)
  return Math.max(...costs)
}

/** The figures `--dry-run --shard K/N --max-cost USD` prints. */
function dryRunFigures(stdout: string, k: number) {
  const estimate = new RegExp(`^shard ${k}/4: ≈\\$(\\d+\\.\\d{4}) of the whole run's ≈\\$(\\d+\\.\\d{4}) \\(all 4 shards' requests`, 'm').exec(stdout)
  const share = new RegExp(`^shard ${k}/4: --max-cost ([\\d.]+) USD is the whole run's; this shard's share is ≈\\$(\\d+\\.\\d{4}) \\(`, 'm').exec(stdout)
  expect(estimate, stdout).not.toBeNull()
  expect(share, stdout).not.toBeNull()
  return { shardUsd: Number(estimate![1]), runUsd: Number(estimate![2]), capUsd: Number(share![1]), shareUsd: Number(share![2]) }
}

describe('--max-cost with --shard K/N: the whole run\'s cap', () => {
  it('4 shards with a cap the unsharded run hits halfway spend no more than the cap together; merge reports the spend and is incomplete (exit 3, the same note)', async () => {
    const dir = await tempProject({ datasets: true })
    server = await startMessagesServer({ models: ['claude-haiku-4-5'] })
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'test-key' }

    // What the whole run costs, then a cap half of it: the unsharded run stops about halfway.
    const whole = await runCli(['eval', ...ROUTE, '--out', 'whole', '--no-cache'], { cwd: dir, env })
    expect(whole.code, whole.stderr).toBe(0)
    const wholeUsd = (await readJson(path.join(dir, 'whole/summary.json'))).cost.usdThisRun as number
    const cap = Number((wholeUsd / 2).toFixed(4))
    const capped = await runCli(['eval', ...ROUTE, '--out', 'capped', '--no-cache', '--max-cost', String(cap)], { cwd: dir, env })
    expect(capped.stderr).toMatch(new RegExp(`stopped before passing --max-cost ${cap} USD: \\d+ request\\(s\\) not sent`))
    const cappedSent = (await readJson(path.join(dir, 'capped/summary.json'))).requests.sent as number
    expect(cappedSent).toBeGreaterThan(CASES * 0.3)
    expect(cappedSent).toBeLessThan(CASES * 0.7)

    // --dry-run: the whole run's estimate, this shard's, and its share of the cap; the four shares add up to the cap.
    const dry = []
    for (let k = 1; k <= 4; k++) {
      const r = await runCli(['eval', ...ROUTE, '--shard', `${k}/4`, '--max-cost', String(cap), '--dry-run'], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      dry.push(dryRunFigures(r.stdout, k))
    }
    const runUsd = dry[0]!.runUsd
    for (const d of dry) {
      expect(d.runUsd).toBe(runUsd)
      expect(d.capUsd).toBe(cap)
      expect(d.shareUsd).toBeCloseTo((cap * d.shardUsd) / runUsd, 3)
    }
    expect(dry.reduce((n, d) => n + d.shardUsd, 0)).toBeCloseTo(runUsd, 3)
    expect(dry.reduce((n, d) => n + d.shareUsd, 0)).toBeCloseTo(cap, 3)

    // The four shards, one after another on one machine with one journal, each with the run's cap.
    server.reset()
    const shards: Json[] = []
    let oneRequestUsd = 0
    for (let k = 1; k <= 4; k++) {
      const r = await runCli(['eval', ...ROUTE, '--shard', `${k}/4`, '--max-cost', String(cap), '--out', `shards/${k}`], { cwd: dir, env })
      expect(r.code, r.stderr).toBe(3)
      expect(r.stderr).toMatch(new RegExp(`^shard ${k}/4: --max-cost ${cap} USD is the whole run's; this shard's share is ≈\\$`, 'm'))
      expect(r.stderr).toMatch(new RegExp(`stopped before passing shard ${k}/4's share \\(\\$\\d+\\.\\d{4}\\) of --max-cost ${cap} USD: \\d+ request\\(s\\) not sent`))
      const summary = await readJson(path.join(dir, `shards/${k}/summary.json`))
      const maxCost = summary.shard.maxCost
      expect(maxCost.runCapUsd).toBe(cap)
      expect(maxCost.shardEstimateUsd.toFixed(4)).toBe(dry[k - 1]!.shardUsd.toFixed(4))
      expect(maxCost.runEstimateUsd.toFixed(4)).toBe(runUsd.toFixed(4))
      // summary.json keeps 6 decimals
      expect(maxCost.shareUsd).toBeCloseTo((cap * maxCost.shardEstimateUsd) / maxCost.runEstimateUsd, 5)
      // Each shard keeps to its share as one run keeps to its cap: within one request's cost of it.
      oneRequestUsd = await dearestRequestUsd(path.join(dir, 'whole/results.jsonl'), summary.shard.price)
      expect(oneRequestUsd).toBeGreaterThan(0)
      expect(summary.cost.usdThisRun).toBeLessThanOrEqual(maxCost.shareUsd + oneRequestUsd + WRITTEN)
      expect(summary.requests.notSent).toBe(summary.dataset.cases - summary.requests.sent)
      const notSent = summary.cases.filter((c: Json) => c.error !== undefined)
      expect(notSent.length).toBe(summary.requests.notSent)
      expect(notSent[0].error).toBe(`not sent: shard ${k}/4's share ($${maxCost.shareUsd.toFixed(4)}) of --max-cost ${cap} USD would be passed`)
      shards.push(summary)
    }
    const spent = shards.reduce((n, s) => n + (s.cost.usdThisRun as number), 0)
    const sent = shards.reduce((n, s) => n + (s.requests.sent as number), 0)
    expect(shards.reduce((n, s) => n + (s.shard.maxCost.shareUsd as number), 0)).toBeCloseTo(cap, 5)
    // Together, within the cap and one request a shard (each pass of a share, if any, is by less than a request).
    expect(spent).toBeLessThanOrEqual(cap + 4 * (oneRequestUsd + WRITTEN))
    // The shares are spent, not left idle: most of the cap goes on requests (each shard writes the prompt cache once, so they send fewer than the unsharded run).
    expect(spent).toBeGreaterThan(cap * 0.6)
    expect(sent).toBeGreaterThan(cappedSent * 0.5)
    expect(server.requests.length).toBe(sent)

    // The merge: the spend against the cap, and the capped run's note and exit.
    const merged = await runCli(['merge', 'shards/1', 'shards/2', 'shards/3', 'shards/4', '--out', 'merged'], { cwd: dir })
    expect(merged.code, merged.stderr).toBe(3)
    const each = shards.map((s) => `${s.shard.index}/4 \\$${s.cost.usdThisRun.toFixed(4)} of \\$${s.shard.maxCost.shareUsd.toFixed(4)}`).join(' · ')
    expect(merged.stderr).toMatch(new RegExp(`merge: the shards spent \\$${spent.toFixed(4)} of the run's --max-cost ${cap} USD \\(shard ${each}\\)`))
    expect(merged.stderr).toContain(`stopped before passing --max-cost ${cap} USD: ${CASES - sent} request(s) not sent.`)
    expect(merged.stderr).toMatch(/\d+ case\(s\) have no decision .*: the run is incomplete \(exit 3\)/)
    const m = await readJson(path.join(dir, 'merged/summary.json'))
    expect(m.requests).toMatchObject({ sent, notSent: CASES - sent })
    expect(m.cost.usdThisRun).toBeCloseTo(spent, 5)
    expect(m).not.toHaveProperty('shard')
  })

  it('gate --shard K/N keeps to its share too; the gate of the merged run is incomplete (exit 3) with the same note', async () => {
    const dir = await tempProject({ datasets: true })
    server = await startMessagesServer({ models: ['claude-haiku-4-5'] })
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'test-key' }
    await writeFiles(dir, { 'routecheck.config.json': JSON.stringify({ datasets: ['datasets/python-backend.csv'], router: 'anthropic', repeats: 1, concurrency: 4, anthropic: { style: 'template' } }) })
    const base = await runCli(['baseline', '--no-cache', '--out', 'base'], { cwd: dir, env })
    expect(base.code, base.stderr).toBe(0)
    const cap = Number((((await readJson(path.join(dir, 'base/summary.json'))).cost.usdThisRun as number) / 2).toFixed(4))

    server.reset()
    let spent = 0
    let slack = 0
    for (let k = 1; k <= 4; k++) {
      const job = await runCli(['gate', '--shard', `${k}/4`, '--max-cost', String(cap), '--no-cache'], { cwd: dir, env })
      expect(job.code, job.stderr).toBe(3)
      expect(job.stderr).toMatch(new RegExp(`^shard ${k}/4: --max-cost ${cap} USD is the whole run's; this shard's share is`, 'm'))
      const summary = await readJson(path.join(dir, `reports/latest/shard-${k}-of-4/python-backend/summary.json`))
      expect(summary.shard.maxCost.runCapUsd).toBe(cap)
      const oneRequestUsd = await dearestRequestUsd(path.join(dir, 'base/results.jsonl'), summary.shard.price)
      expect(summary.cost.usdThisRun).toBeLessThanOrEqual(summary.shard.maxCost.shareUsd + oneRequestUsd + WRITTEN)
      spent += summary.cost.usdThisRun
      slack += oneRequestUsd + WRITTEN
    }
    expect(spent).toBeLessThanOrEqual(cap + slack)
    expect(spent).toBeGreaterThan(cap * 0.6)

    const merged = await runCli(['merge', ...[1, 2, 3, 4].map((k) => `reports/latest/shard-${k}-of-4`), '--out', 'merged'], { cwd: dir })
    expect(merged.code).toBe(3)
    expect(merged.stderr).toContain(`merge: the shards spent $${spent.toFixed(4)} of the run's --max-cost ${cap} USD`)
    // The Action's gate job passes the same max-cost to the gate of the merged run.
    const gated = await runCli(['gate', 'merged', '--max-cost', String(cap)], { cwd: dir, env })
    expect(gated.code, gated.stdout).toBe(3)
    expect(gated.stderr).toMatch(new RegExp(`stopped before passing --max-cost ${cap} USD: \\d+ request\\(s\\) not sent`))
  })
})
