import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterEach, describe, expect, it } from 'vitest'
import { readJson, runCli, runInProcess, tempProject, writeFiles } from './support/cli.js'
import { startMessagesServer, type MessagesServer } from './support/messages-server.js'

/**
 * eval --shard K/N on N machines, routecheck merge, and the gate on the
 * merged folders (issue 16, item 3). The merged run must be the run the
 * unsharded eval would have written, field by field, timings apart.
 */
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

type Json = Record<string, any>
/** What may differ between two runs of the same work: when it ran and how fast. */
const TIMINGS = ['createdAt', 'latencyMs'] as const
const withoutTimings = (s: Json) => Object.fromEntries(Object.entries(s).filter(([k]) => !(TIMINGS as readonly string[]).includes(k)))
const resultLines = async (file: string) =>
  (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => {
      const { latencyMs: _, ...rest } = JSON.parse(l) as Json
      return rest
    })
const idsOf = async (file: string) => ((await readJson(file)).cases as Array<{ id: string }>).map((c) => c.id)

describe('--shard K/N', () => {
  it("splits by a hash of each case id: the N shards partition the dataset, and reordering the rows moves no case", async () => {
    const dir = await tempProject({ datasets: true })
    // The same cases, rows reversed.
    const rows = parse(await readFile(path.join(dir, 'datasets/routing.csv')), { columns: true }) as Array<Record<string, string>>
    const lines = rows.reverse().map((r) => JSON.stringify({ id: r.id, prompt: r.prompt, expected: r.expected!.split('|'), tags: r.tags ? r.tags.split('|') : [] }))
    await writeFile(path.join(dir, 'datasets/reversed.jsonl'), `${lines.join('\n')}\n`)
    const all = new Set<string>()
    const sizes: number[] = []
    for (let k = 1; k <= 4; k++) {
      const a = await runInProcess(['eval', '--dataset', 'datasets/routing.csv', '--shard', `${k}/4`, '--out', `a${k}`], { cwd: dir })
      const b = await runInProcess(['eval', '--dataset', 'datasets/reversed.jsonl', '--shard', `${k}/4`, '--out', `b${k}`], { cwd: dir })
      expect(a.code, a.stderr).toBe(0)
      expect(b.code, b.stderr).toBe(0)
      const ids = await idsOf(path.join(dir, `a${k}/summary.json`))
      expect([...(await idsOf(path.join(dir, `b${k}/summary.json`)))].sort()).toEqual([...ids].sort())
      for (const id of ids) {
        expect(all.has(id), `${id} in two shards`).toBe(false)
        all.add(id)
      }
      sizes.push(ids.length)
      const summary = await readJson(path.join(dir, `a${k}/summary.json`))
      expect(summary.shard).toMatchObject({ index: k, count: 4, datasetCases: 352, price: null })
      expect(summary.dataset.cases).toBe(ids.length)
      expect(a.stdout).toContain(`shard ${k}/4: ${ids.length} of 352 cases`)
      expect(a.stderr).toContain(`as shard ${k}/4 (${ids.length} of 352 cases)`)
    }
    expect(all.size).toBe(352)
    // Each a quarter, give or take the hash: 99, 82, 87 and 84 of 352.
    for (const n of sizes) expect(Math.abs(n - 88)).toBeLessThan(20)
  })

  it.each([
    ['5/4', '--shard K/N: K must be 1 to N'],
    ['0/4', '--shard K/N: K must be 1 to N'],
    ['2', '--shard takes K/N'],
    ['1/0', '--shard K/N: N must be 1 to 256'],
  ])('--shard %s is exit 2: %s', async (spec, message) => {
    const dir = await tempProject({ datasets: true })
    const r = await runInProcess(['eval', '--dataset', 'datasets/routing.csv', '--shard', spec], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(message)
  })

  it('--dry-run counts the shard only; the default folder is OUT/shard-K-of-N/', async () => {
    const dir = await tempProject({ datasets: true })
    const dry = await runInProcess(['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'datasets/routing.csv', '--shard', '2/4', '--repeats', '3', '--dry-run'], { cwd: dir })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/^datasets\/routing\.csv shard 2\/4: 246 request\(s\) to send \(82 of 352 cases × 3 repeats\)/m)
    const r = await runInProcess(['eval', '--dataset', 'datasets/routing.csv', '--dataset', 'datasets/python-backend.csv', '--shard', '2/4'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect((await readdir(path.join(dir, 'reports/latest/shard-2-of-4'))).sort()).toEqual(['python-backend', 'routing'])
  })
})

describe('routecheck merge', () => {
  it('4 shards of a multi-dataset run with 3 repeats merge into the summary.json the unsharded run wrote, field by field, timings apart', async () => {
    const dir = await tempProject({ datasets: true })
    await writeFiles(dir, {
      'routecheck.config.json': JSON.stringify({ datasets: ['datasets/routing.csv', 'datasets/python-backend.csv'], router: 'anthropic', repeats: 3, concurrency: 1, anthropic: { style: 'template' } }),
      'warm.csv': 'id,prompt,expected\nw1,warm the prompt cache,none\n',
    })
    // Every third sighting of about half the prompts names an agent that does not exist: flipped votes, invalid repeats.
    server = await startMessagesServer({ models: ['claude-haiku-4-5'], fault: ({ prompt, seen }) => (prompt.length % 2 === 0 && seen % 3 === 1 ? 'unknown_agent' : undefined) })
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'test-key' }
    // One request first, so every later one reads the server's prompt cache, sharded or not.
    expect((await runCli(['eval', '--dataset', 'warm.csv', '--repeats', '1', '--out', 'warm', '--no-cache'], { cwd: dir, env })).code).toBe(0)

    const whole = await runCli(['eval', '--out', 'whole', '--no-cache'], { cwd: dir, env })
    expect(whole.code, whole.stderr).toBe(0)
    const sentWhole = server.requests.length - 1
    for (let k = 1; k <= 4; k++) {
      const shard = await runCli(['eval', '--shard', `${k}/4`, '--out', `shards/${k}`, '--no-cache'], { cwd: dir, env })
      expect(shard.code, shard.stderr).toBe(0)
    }
    expect(server.requests.length - 1 - sentWhole).toBe(sentWhole)
    const merged = await runCli(['merge', 'shards/1', 'shards/2', 'shards/3', 'shards/4', '--out', 'merged'], { cwd: dir })
    expect(merged.code, merged.stderr).toBe(0)
    expect(merged.stderr).toContain('wrote merged/routing/')

    for (const name of ['routing', 'python-backend']) {
      const a = await readJson(path.join(dir, 'whole', name, 'summary.json'))
      const b = await readJson(path.join(dir, 'merged', name, 'summary.json'))
      expect(a.repeats).toBe(3)
      expect(a.metrics.flipRate).toBeGreaterThan(0)
      expect(a.metrics.invalid + a.cases.filter((c: Json) => c.flipped).length).toBeGreaterThan(0)
      expect(a.usage.cacheReadTokens).toBeGreaterThan(0)
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort())
      for (const key of Object.keys(withoutTimings(a))) expect(b[key], `summary.json "${key}" of ${name}`).toEqual(a[key])
      expect(b).not.toHaveProperty('shard')
      expect(b.cases.some((c: Json) => 'position' in c)).toBe(false)
      expect(await resultLines(path.join(dir, 'merged', name, 'results.jsonl'))).toEqual(await resultLines(path.join(dir, 'whole', name, 'results.jsonl')))
      for (const file of ['report.md', 'junit.xml', 'confusion.csv']) {
        expect(await readFile(path.join(dir, 'merged', name, file), 'utf8'), file).toBe(await readFile(path.join(dir, 'whole', name, file), 'utf8'))
      }
    }
    // compare and report read a merged folder like any other.
    const compared = await runCli(['compare', 'whole/routing', 'merged/routing', '--json'], { cwd: dir })
    expect(compared.code).toBe(0)
    expect(JSON.parse(compared.stdout)).toMatchObject({ compared: 352, agreement: 1 })
    expect((await runCli(['report', 'merged/routing'], { cwd: dir })).code).toBe(0)
  })

  it('refuses shards of different runs, missing and overlapping shards (exit 2, naming the folders), writing nothing', async () => {
    const dir = await tempProject({ datasets: true })
    const shard = async (k: string, out: string, extra: string[] = []) => {
      const r = await runInProcess(['eval', '--dataset', 'datasets/routing.csv', '--shard', k, '--out', out, ...extra], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
    }
    for (let k = 1; k <= 4; k++) await shard(`${k}/4`, `s${k}`)
    await shard('2/4', 's2-twice-repeats', ['--repeats', '2'])
    await shard('3/3', 's3-of-3')
    expect((await runInProcess(['eval', '--dataset', 'datasets/routing.csv', '--out', 'whole'], { cwd: dir })).code).toBe(0)
    await writeFiles(dir, { 'lex.json': JSON.stringify({ lexical: { noneThreshold: 2.5 } }) })
    await shard('2/4', 's2-threshold', ['--config', 'lex.json'])
    const golang = path.join(dir, 'agents/golang-pro.md')
    const original = await readFile(golang, 'utf8')
    await writeFile(golang, original.replace(/description: .*/, 'description: Go services, goroutines and channels.'))
    await shard('3/4', 's3-edited-agent')
    await writeFile(golang, original)
    const csv = path.join(dir, 'datasets/routing.csv')
    const rows = await readFile(csv, 'utf8')
    await writeFile(csv, rows.replace('getting this only in the prod build', 'seeing this only in the prod build'))
    await shard('4/4', 's4-edited-dataset')
    await writeFile(csv, rows)

    const refusals: Array<[string[], RegExp]> = [
      [['s1', 's2', 's4'], /^datasets\/routing\.csv: shard 3 of 4 missing \(given: 1 in s1, 2 in s2, 4 in s4\)/m],
      [['s1', 's2', 's3', 's4', 's2'], /^datasets\/routing\.csv: shard 2 of 4 given 2 times: s2, s2/m],
      [['s1', 's2', 's3-edited-agent', 's4'], /^s1: these shards differ in their agents \(catalogue fingerprint\): s1, s2, s4 \(\w+\) against s3-edited-agent \(\w+\); they are not one run/m],
      [['s1', 's2-threshold', 's3', 's4'], /these shards differ in their router settings \(model, style, template, lexical settings\): s1, s3, s4 \(.*"noneThreshold":3.*\) against s2-threshold \(.*"noneThreshold":2.5.*\)/],
      [['s1', 's2', 's3', 's4-edited-dataset'], /these shards differ in their dataset \(its cases changed between the shards\): s1, s2, s3 \(\w+\) against s4-edited-dataset/],
      [['s1', 's2-twice-repeats', 's3', 's4'], /these shards differ in their repeats: s1, s3, s4 \(1\) against s2-twice-repeats \(2\)/],
      [['s1', 's2', 's3-of-3', 's4'], /these shards differ in their number of shards: s1, s2, s4 \(4\) against s3-of-3 \(3\)/],
      [['s1', 's2', 's3', 'whole'], /^whole: this is a whole run, not a shard/m],
      [['s1', 's2', 's3', 'nowhere'], /^nowhere: this folder does not exist/m],
    ]
    for (const [dirs, message] of refusals) {
      const r = await runInProcess(['merge', ...dirs, '--out', 'merged'], { cwd: dir })
      expect(r.code, `${dirs.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(message)
    }
    // Nor does it write over a shard it reads.
    const over = await runInProcess(['merge', 's1', 's2', 's3', 's4', '--out', 's1'], { cwd: dir })
    expect(over.code).toBe(2)
    expect(over.stderr).toMatch(/^s1: the run folder \(--out\) is the shard folder/m)
    expect(await readdir(dir)).not.toContain('merged')
    const ok = await runInProcess(['merge', 's1', 's2', 's3', 's4', '--out', 'merged'], { cwd: dir })
    expect(ok.code, ok.stderr).toBe(0)
  })
})

describe('the gate in a CI matrix: N jobs route a shard each, one merges and gates', () => {
  it('gate --shard on 4 "machines", merge, gate the merged folders: the verdict the unsharded gate gives, passing and failing', async () => {
    const dir = await tempProject({ datasets: true })
    await writeFiles(dir, { 'routecheck.config.json': JSON.stringify({ datasets: ['datasets/routing.csv', 'datasets/python-backend.csv'] }) })
    expect((await runInProcess(['baseline'], { cwd: dir })).code).toBe(0)
    const writer = path.join(dir, 'agents/technical-writer.md')
    const original = await readFile(writer, 'utf8')
    for (const change of ['none', 'blanked'] as const) {
      if (change === 'blanked') await writeFile(writer, original.replace(/description: .*/, 'description: Use this agent for anything about code.'))
      const whole = await runInProcess(['gate', '--out', `whole-${change}`], { cwd: dir })
      for (let k = 1; k <= 4; k++) {
        const job = await runInProcess(['gate', '--shard', `${k}/4`], { cwd: dir })
        expect(job.code, job.stderr).toBe(0)
        expect(job.stdout).toContain(`gate: routed shard ${k} of 4, nothing judged`)
        expect(await readdir(path.join(dir, 'reports/latest', `shard-${k}-of-4`))).toEqual(expect.arrayContaining(['routing', 'python-backend']))
      }
      const merged = await runInProcess(['merge', ...[1, 2, 3, 4].map((k) => `reports/latest/shard-${k}-of-4`), '--out', `merged-${change}`], { cwd: dir })
      expect(merged.code, merged.stderr).toBe(0)
      const gated = await runInProcess(['gate', `merged-${change}/routing`, `merged-${change}/python-backend`], { cwd: dir })
      expect(gated.code).toBe(whole.code)
      expect(gated.stdout).toBe(whole.stdout)
      expect(whole.code).toBe(change === 'none' ? 0 : 1)
    }
    // A shard alone is no run to gate or make a baseline of.
    const one = await runInProcess(['gate', 'reports/latest/shard-1-of-4/routing'], { cwd: dir })
    expect(one.code).toBe(2)
    expect(one.stderr).toMatch(/^reports\/latest\/shard-1-of-4\/routing: this is shard 1 of 4 of a run \(\d+ of 352 cases of datasets\/routing\.csv\), not a whole run/m)
    const base = await runInProcess(['baseline', 'reports/latest/shard-1-of-4/routing', '--baseline', 'b.json'], { cwd: dir })
    expect(base.code).toBe(2)
    expect(base.stderr).toContain('not a whole run')
  })

  it("a model router's flips in the merged run are re-tested by gate RUN_DIR as the gate re-tests its own: noise does not fail it", async () => {
    const dir = await tempProject()
    const rows = Array.from({ length: 12 }, (_, i) => `c${String(i + 1).padStart(2, '0')},${i % 4 === 0 ? 'coin' : 'sure'} prompt ${i + 1},golang-pro`)
    await writeFiles(dir, {
      'cases.csv': `id,prompt,expected\n${rows.join('\n')}\n`,
      'routecheck.config.json': JSON.stringify({ datasets: ['cases.csv'], router: './coin-router.mjs', repeats: 3 }),
      // A model-like router whose "coin" prompts go astray, every repeat agreeing, in the processes that have COIN_ASTRAY set.
      'coin-router.mjs': `export default () => ({
  id: 'coin',
  async route(prompt) {
    return { agent: prompt.startsWith('coin') && process.env.COIN_ASTRAY ? 'code-reviewer' : 'golang-pro', latencyMs: 1 }
  },
})
`,
    })
    expect((await runCli(['baseline'], { cwd: dir })).code).toBe(0)
    for (let k = 1; k <= 2; k++) expect((await runCli(['gate', '--shard', `${k}/2`], { cwd: dir, env: { COIN_ASTRAY: '1' } })).code).toBe(0)
    expect((await runCli(['merge', 'reports/latest/shard-1-of-2', 'reports/latest/shard-2-of-2', '--out', 'merged'], { cwd: dir })).code).toBe(0)
    // The three coin cases flipped with every repeat agreeing; routed again they do not flip: noise.
    const gate = await runCli(['gate', 'merged'], { cwd: dir })
    expect(gate.code, gate.stdout).toBe(0)
    expect(gate.stderr).toContain('re-testing 3 flipped case(s) 3 more times each')
    expect(gate.stdout).toMatch(/3 broke, 0 fixed, 3 flaky/)
    expect(gate.stdout).toContain("right → wrong (flaky)")
    // A router that is not the runs' cannot re-test them: the flips count, and the gate says why.
    const other = await runCli(['gate', 'merged', '--router', 'lexical'], { cwd: dir })
    expect(other.stderr).toContain('the flipped cases of the saved runs are not re-tested (the runs were routed with coin, and the flags and config name lexical')
    expect(other.code).toBe(1)
  })
})
