import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { planGeneration } from '../src/draft/generate.js'
import { chooseProbePairs, planProbes, PROBE_PROMPTS } from '../src/draft/probe.js'
import { loadCatalogue } from '../src/load/catalogue.js'
import { parseDataset } from '../src/load/dataset.js'
import { COIN_TOSS, CONFUSED_BELOW, NEAR_DUPLICATE_SCORE, SIGNAL_WEIGHTS, type OverlapPair, type OverlapReport, type ProbePair } from '../src/overlap/index.js'
import { wilsonInterval } from '../src/score/stats.js'
import { runInProcess, tempDir, writeFiles } from './support/cli.js'
import { drafter } from './support/drafter.js'
import { startMessagesServer, type MessagesServer, type ServerOptions } from './support/messages-server.js'

/**
 * `overlap --probe`: routing evidence without a dataset. A five-agent
 * catalogue with one near-duplicate pair (pg-optimizer ↔ pg-tuner, text about
 * 0.3) and a pair just under the line (css-stylist ↔ docs-writer, about 0.17);
 * release-manager shares nothing with anyone.
 */
const AGENTS = {
  'agents/pg-tuner.md': `---
name: pg-tuner
description: Tunes slow PostgreSQL queries. Reads EXPLAIN ANALYZE plans, chooses indexes, rewrites joins and sets vacuum and autovacuum parameters for heavy write workloads. <example>user: "This orders query takes 9 seconds, here is the EXPLAIN ANALYZE output"</example> <example>user: "Autovacuum cannot keep up with our write-heavy events table"</example>
---
You tune PostgreSQL.
`,
  'agents/pg-optimizer.md': `---
name: pg-optimizer
description: Optimizes PostgreSQL performance. Reads EXPLAIN ANALYZE plans, picks indexes, partitions large tables and tunes connection pooling with pgbouncer. <example>user: "Partition the 400 GB audit log table by month"</example> <example>user: "Put pgbouncer in front of Postgres, we run out of connections"</example>
---
You optimise PostgreSQL.
`,
  'agents/css-stylist.md': `---
name: css-stylist
description: Writes CSS for web pages - flexbox and grid layouts, responsive breakpoints, dark mode themes and animations. <example>user: "Make the pricing cards wrap on phones"</example>
---
You write CSS.
`,
  'agents/docs-writer.md': `---
name: docs-writer
description: Writes READMEs, API reference pages and tutorials for web developers, with runnable snippets and a changelog. <example>user: "Document the new billing endpoints"</example> <example>user: "Restyle the invoice header banner" assistant: "That is styling work, so I will hand it to the css-stylist agent."</example>
---
You write documentation.
`,
  'agents/release-manager.md': `---
name: release-manager
description: Cuts releases - semantic version bumps, git tags, release notes and npm publishing from CI. <example>user: "Ship 2.3.0 to npm"</example>
---
You manage releases.
`,
}
const NAMES = ['css-stylist', 'docs-writer', 'pg-optimizer', 'pg-tuner', 'release-manager']

async function project(): Promise<string> {
  const dir = await tempDir()
  await writeFiles(dir, AGENTS)
  return dir
}

const pairOf = (report: OverlapReport, a: string, b: string): ProbePair => {
  const found = report.probes?.pairs.find((p) => p.a === a && p.b === b)
  if (!found) throw new Error(`${a} ↔ ${b} was not probed`)
  return found
}

describe('which pairs are probed', () => {
  const pair = (a: string, b: string, score: number, nearDuplicate: boolean): OverlapPair => ({ a, b, score, text: score, nearDuplicate, sharedTerms: [], evidence: {} })
  const ranked = [pair('a', 'b', 0.5, true), pair('a', 'c', 0.3, true), pair('b', 'c', 0.21, true), pair('c', 'd', 0.19, false), pair('d', 'e', 0.1, false), pair('a', 'e', 0.05, false), pair('b', 'e', 0.01, false)]

  it('every near-duplicate, strongest first, then the three strongest just under the line, at most the cap', () => {
    expect(chooseProbePairs(ranked, 16).pairs.map((p) => `${p.a}${p.b}:${p.flagged}`)).toEqual(['ab:true', 'ac:true', 'bc:true', 'cd:false', 'de:false', 'ae:false'])
    // The cap cuts from the bottom: a flagged pair goes only when the cap is under the flagged count, and says so.
    expect(chooseProbePairs(ranked, 4).pairs.map((p) => `${p.a}${p.b}`)).toEqual(['ab', 'ac', 'bc', 'cd'])
    expect(chooseProbePairs(ranked, 2)).toMatchObject({ pairs: [{ a: 'a', b: 'b' }, { a: 'a', b: 'c' }], flaggedLeftOut: 1 })
  })

  it("drafts with generate's own requests for prompts aimed at an agent, so the two commands share their answers", async () => {
    const dir = await project()
    const { catalogue } = await loadCatalogue(path.join(dir, 'agents'))
    const probes = planProbes(catalogue, ['pg-optimizer', 'pg-tuner'], PROBE_PROMPTS).requests
    const generate = planGeneration(catalogue, [], PROBE_PROMPTS).requests
    expect(probes.map((p) => p.target)).toEqual([{ kind: 'agent', agent: 'pg-optimizer' }, { kind: 'agent', agent: 'pg-tuner' }])
    for (const p of probes) expect(generate).toContainEqual(p)
  })

  it(`${PROBE_PROMPTS} prompts per agent: a pair's ${2 * PROBE_PROMPTS} show a coin toss confused and 3 right in 4 told apart; ${PROBE_PROMPTS - 2} per agent leave 3 in 4 not yet clear`, () => {
    const n = 2 * PROBE_PROMPTS
    expect(wilsonInterval(n / 2, n)[1]).toBeLessThan(CONFUSED_BELOW)
    expect(wilsonInterval((3 * n) / 4, n)[0]).toBeGreaterThan(COIN_TOSS)
    const fewer = 2 * (PROBE_PROMPTS - 2)
    expect(wilsonInterval(fewer / 2, fewer)[1]).toBeLessThan(CONFUSED_BELOW)
    expect(wilsonInterval((3 * fewer) / 4, fewer)[0]).toBeLessThanOrEqual(COIN_TOSS)
  })
})

describe('overlap --probe --probe-from examples, offline with the lexical router', () => {
  it("routes the descriptions' <example> turns, judges each probed pair on them, marks the report as judged by probes, and warns that they flatter the router", async () => {
    const dir = await project()
    const r = await runInProcess(['overlap', '--probe', '--probe-from', 'examples', '--json'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as OverlapReport
    expect(report.evidence).toEqual({ source: 'probes', of: [path.join('reports', 'latest', 'probes', 'probes.csv')] })
    expect(report.probes).toMatchObject({ from: 'examples', router: 'lexical', perAgent: PROBE_PROMPTS, flaggedLeftOut: 0 })
    expect(report.probes!.pairs.map((p) => [p.a, p.b, p.flagged])).toEqual([
      ['pg-optimizer', 'pg-tuner', true],
      ['css-stylist', 'docs-writer', false],
      ['docs-writer', 'pg-tuner', false],
      ['css-stylist', 'pg-tuner', false],
    ])
    // The pg pair: two example prompts each, every one holding words only its own description has: 4 of 4, the fewest that beat a coin toss.
    expect(pairOf(report, 'pg-optimizer', 'pg-tuner')).toMatchObject({ verdict: 'apart', prompts: 4, right: 4, routed: { 'pg-optimizer': { 'pg-optimizer': 2 }, 'pg-tuner': { 'pg-tuner': 2 } } })
    // docs-writer's second example hands a styling request to css-stylist: labelled css-stylist, but its words are in docs-writer's description only.
    const css = pairOf(report, 'css-stylist', 'docs-writer')
    expect(css).toMatchObject({ verdict: 'too-few', prompts: 3, right: 2, routed: { 'css-stylist': { 'css-stylist': 1, 'docs-writer': 1 }, 'docs-writer': { 'docs-writer': 1 } } })
    expect(css.cases.find((c) => c.decision !== c.expected)).toEqual({ id: 'docs-writer-ex2', prompt: 'Restyle the invoice header banner', expected: 'css-stylist', decision: 'docs-writer' })
    // release-manager is in no probed pair: its example is not routed.
    const probes = parseDataset('probes.csv', await readFile(path.join(dir, 'reports/latest/probes/probes.csv')), NAMES).cases
    expect(probes.map((c) => c.id).sort()).toEqual(['css-stylist-ex1', 'docs-writer-ex1', 'docs-writer-ex2', 'pg-optimizer-ex1', 'pg-optimizer-ex2', 'pg-tuner-ex1', 'pg-tuner-ex2'])
    expect(probes.every((c) => c.tags.includes('probe') && c.tags.includes('from-description'))).toBe(true)
    expect(r.stderr).toMatch(/warning: the 7 probe prompts are tagged from-description: the descriptions' own <example> turns, which the router reads, so they flatter it/)

    // The cluster's advice rests on the probes and says so.
    expect(report.clusters.map((c) => c.members)).toEqual([['pg-optimizer', 'pg-tuner']])
    expect(report.clusters[0]!.advice).toMatchObject({ evidence: 'probes', probesFrom: 'examples', action: 'keep', prompts: 4, right: 4 })
    // Where the verdict is read, the evidence line says the examples flatter it.
    const evidenceLine = "evidence: 4 probe prompts (the descriptions' own examples: an upper bound) aimed at one of the 2 and routed to one of them; 4 reached the one aimed at (1.00, 95% 0.51–1.00; picking at random 0.50)"
    expect(report.clusters[0]!.advice!.lines[0]).toBe(evidenceLine)
    expect(report.clusters[0]!.suggestion.split('\n')[1]).toBe(evidenceLine)

    // The run folder: summary.json holds the same overlap; report.md and report.html mark the probes.
    const folder = path.join(dir, 'reports/latest/probes')
    expect((await readdir(folder)).sort()).toEqual(['confusion.csv', 'junit.xml', 'probes.csv', 'report.html', 'report.md', 'results.jsonl', 'summary.json'])
    const summary = JSON.parse(await readFile(path.join(folder, 'summary.json'), 'utf8'))
    expect(summary.overlap.evidence).toEqual(report.evidence)
    expect(summary.overlap.probes.pairs.map((p: ProbePair) => [p.a, p.b, p.verdict, p.right, p.prompts, p.routed, p.cases])).toEqual(report.probes!.pairs.map((p) => [p.a, p.b, p.verdict, p.right, p.prompts, p.routed, p.cases]))
    expect(await readFile(path.join(folder, 'report.md'), 'utf8')).toMatch(/### Near-duplicate agents: 1 cluster, judged by probes[\s\S]*### Probes: 4 pairs judged by probe prompts, not a labelled dataset[\s\S]*\| css-stylist ↔ docs-writer \| under the line \| 0\.\d\d \| too few prompts to tell \(n = 3\) \| css-stylist: 2 → itself 1, docs-writer 1; docs-writer: 1 → itself 1 \|/)
    const page = await readFile(path.join(folder, 'report.html'), 'utf8')
    expect(page).toContain('judged by probes</span>')
    expect(page).toContain('<h3 id="probes">Probes (4)</h3>')
    expect(page).toContain('A probe run (<code>routecheck overlap --probe</code>), not a labelled dataset')
    expect(page).toContain(`<li>${evidenceLine.replaceAll("'", '&#39;')}</li>`)

    // The text view: the cluster marked, every probed pair with its verdict and where the prompts went.
    const text = await runInProcess(['overlap', '--probe', '--probe-from', 'examples'], { cwd: dir, columns: 120 })
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/signals: text, confusion, coAcceptance, lowMargins \(routing from probe\s+prompts, not a labelled dataset\)/)
    expect(text.stdout).toMatch(/Cluster 1: 2 agents that a router can hardly tell apart \(judged by probes\)/)
    expect(text.stdout.replace(/\n +/g, ' ')).toContain(evidenceLine)
    expect(text.stdout).toMatch(/Probes: 4 pairs judged by where prompts aimed at each agent went\n {2}7 prompts \(the descriptions' own <example>\s+turns/)
    expect(text.stdout).toMatch(/● pg-optimizer ↔ pg-tuner {2}text 0\.\d\d {2}told apart: 4 of 4 right \(95% 0\.51–1\.00\)/)
    expect(text.stdout).toMatch(/just under the near-duplicate line:\n {4}css-stylist ↔ docs-writer {2}text 0\.\d\d {2}too few prompts to tell \(n = 3\)\n {6}css-stylist {2}2 → itself 1, docs-writer 1\n {6}docs-writer {2}1 → itself 1\n {6}docs-writer-ex2 → docs-writer: Restyle the invoice header banner/)

    // Read back from its folder, the probe run is still judged by probes; pooled with a dataset's run it is refused.
    const again = await runInProcess(['overlap', 'reports/latest/probes', '--json'], { cwd: dir })
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toEqual(report)
    await writeFiles(dir, { 'cases.csv': 'id,prompt,expected\n1,Tune this slow query,pg-tuner\n' })
    expect((await runInProcess(['eval', '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })).code).toBe(0)
    const mixed = await runInProcess(['overlap', 'reports/latest/probes', 'run'], { cwd: dir })
    expect(mixed.code).toBe(2)
    expect(mixed.stderr).toMatch(/reports\/latest\/probes is a probe run \(overlap --probe\): give it alone/)
  })

  it('says what to do without a key, and refuses probe flags without --probe and run folders with it', async () => {
    const dir = await project()
    const noKey = await runInProcess(['overlap', '--probe'], { cwd: dir, env: { ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: '' } })
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toMatch(/drafting probe prompts takes Claude: export ANTHROPIC_API_KEY .* or probe offline with --probe-from examples/)
    const stray = await runInProcess(['overlap', '--router', 'anthropic', '--probe-prompts', '4'], { cwd: dir })
    expect(stray.code).toBe(2)
    expect(stray.stderr).toMatch(/--probe-prompts, --router say how probes are drafted and routed: add --probe/)
    const both = await runInProcess(['overlap', 'somewhere', '--probe', '--probe-from', 'examples'], { cwd: dir })
    expect(both.code).toBe(2)
    expect(both.stderr).toMatch(/--probe judges pairs by probe prompts, and somewhere by a dataset's: give one or the other/)
    const bare = await tempDir()
    await writeFiles(bare, {
      'agents/a-tuner.md': '---\nname: a-tuner\ndescription: Tunes PostgreSQL queries and indexes for slow workloads.\n---\nx\n',
      'agents/b-tuner.md': '---\nname: b-tuner\ndescription: Tunes PostgreSQL indexes and queries for heavy workloads.\n---\nx\n',
    })
    const noExamples = await runInProcess(['overlap', '--probe', '--probe-from', 'examples'], { cwd: bare })
    expect(noExamples.code).toBe(2)
    expect(noExamples.stderr).toMatch(/no description of the probed agents \(a-tuner, b-tuner\) holds an <example> block .* drop --probe-from examples to draft probe prompts with Claude/s)
  })
})

const KEY = 'sk-ant-probe-test-key'

/**
 * Claude's drafting, deterministic: generate's drafter, each prompt aimed at an agent ending
 * with one word of a description, which the local server's word-overlap router follows. Planted:
 * every prompt aimed at pg-optimizer names pg-tuner's "autovacuum", and every one aimed at
 * docs-writer names css-stylist's "flexbox", so both pairs cross over half their prompts.
 */
const ROUTE_WORD: Record<string, string> = { 'pg-tuner': 'autovacuum', 'pg-optimizer': 'autovacuum', 'css-stylist': 'flexbox', 'docs-writer': 'flexbox', 'release-manager': 'semantic' }
const probeDrafter: NonNullable<ServerOptions['tool']> = (info) => {
  const answer = drafter(info) as { prompts: Array<{ prompt: string }> } | undefined
  const aimed = /the subagent "([^"]+)" should take/.exec(info.prompt)?.[1]
  if (answer && aimed) for (const p of answer.prompts) p.prompt = `${p.prompt}, see ${ROUTE_WORD[aimed]}`
  return answer
}

let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})
const env = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })
const drafting = (s: MessagesServer) => s.requests.filter((q) => q.body?.tools?.some((t: { name: string }) => t.name === 'record_prompts'))
const PROBE = ['overlap', '--probe', '--router', 'anthropic', '--style', 'template', '--model', 'claude-haiku-4-5', '--repeats', '1']

describe('overlap --probe with Claude drafting and the anthropic router, against the local Messages server', () => {
  it('drafts prompts aimed at each agent of the probed pairs, routes them, and turns the crossings into each pair\'s verdict and its cluster\'s advice; a rerun sends nothing', async () => {
    server = await startMessagesServer({ tool: probeDrafter })
    const dir = await project()
    const r = await runInProcess([...PROBE, '--json'], { cwd: dir, env: env(server) })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as OverlapReport
    // Four agents are in probed pairs (release-manager is in none): one drafting request each, then 8 prompts each routed once.
    expect(drafting(server)).toHaveLength(4)
    expect(server.requests).toHaveLength(4 + 4 * PROBE_PROMPTS)
    expect(report.probes).toMatchObject({ from: 'claude', model: 'claude-sonnet-5-5', router: 'anthropic:claude-haiku-4-5:template', perAgent: PROBE_PROMPTS })

    // pg-optimizer's prompts all went to pg-tuner: 8 of 16 right, a coin toss, so confused.
    const pg = pairOf(report, 'pg-optimizer', 'pg-tuner')
    expect(pg).toMatchObject({ flagged: true, verdict: 'confused', prompts: 16, right: 8, routed: { 'pg-optimizer': { 'pg-tuner': 8 }, 'pg-tuner': { 'pg-tuner': 8 } } })
    expect(pg.interval![1]).toBeLessThan(CONFUSED_BELOW)
    expect(pg.cases).toHaveLength(16)
    expect(pg.cases.filter((c) => c.expected === 'pg-optimizer').every((c) => c.decision === 'pg-tuner' && c.prompt.endsWith('see autovacuum'))).toBe(true)
    // Just under the line on text, css-stylist ↔ docs-writer is confused as badly: routing catches what the text missed.
    const css = pairOf(report, 'css-stylist', 'docs-writer')
    expect(css).toMatchObject({ flagged: false, verdict: 'confused', prompts: 16, right: 8 })
    // docs-writer's prompts went to css-stylist, outside the docs-writer ↔ pg-tuner block, which the router tells apart.
    expect(pairOf(report, 'docs-writer', 'pg-tuner')).toMatchObject({ verdict: 'apart', prompts: 8, right: 8, routed: { 'docs-writer': { 'css-stylist': 8 } } })

    // The crossings become the confusion signal: both pairs are near-duplicates now, each a cluster judged by the probes.
    expect(report.evidence?.source).toBe('probes')
    const pgPair = report.pairs.find((p) => p.a === 'pg-optimizer' && p.b === 'pg-tuner')!
    const cssPair = report.pairs.find((p) => p.a === 'css-stylist' && p.b === 'docs-writer')!
    expect([pgPair.confusion, cssPair.confusion]).toEqual([0.5, 0.5])
    expect(cssPair.text).toBeLessThan(NEAR_DUPLICATE_SCORE)
    // The noisy-OR of text and confusion: over the near-duplicate line on routing alone.
    expect(cssPair.score).toBeCloseTo(1 - (1 - cssPair.text) * (1 - SIGNAL_WEIGHTS.confusion * 0.5), 10)
    expect(cssPair.score).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE)
    expect(cssPair.nearDuplicate).toBe(true)
    const [first, second] = report.clusters
    expect(first!.members).toEqual(['pg-optimizer', 'pg-tuner'])
    expect(first!.advice).toMatchObject({ evidence: 'probes', probesFrom: 'claude', action: 'merge', merges: [{ into: 'pg-tuner', members: ['pg-optimizer'] }], prompts: 16, right: 8 })
    expect(first!.advice!.lines[0]).toBe('evidence: 16 probe prompts aimed at one of the 2 and routed to one of them; 8 reached the one aimed at (0.50, 95% 0.28–0.72; picking at random 0.50)')
    expect(second!.members).toEqual(['css-stylist', 'docs-writer'])
    expect(second!.advice).toMatchObject({ evidence: 'probes', action: 'reword' })
    expect(second!.advice!.lines).toContain(`css-stylist ↔ docs-writer: the router confuses them (8 of 16 right, 95% 0.28–0.72) though their descriptions share little (text ${cssPair.text.toFixed(2)}): reword both`)
    expect(r.stderr).toMatch(/drafting \(claude-sonnet-5-5\): 4 requests, 0 answered from the cache/)
    expect(r.stderr).toMatch(/routing \(anthropic:claude-haiku-4-5:template\): 32 requests sent, 0 from the run journal/)

    // A rerun: drafting answers from the tool-call cache, routing from the run journal; nothing is sent, the evidence is the same.
    const sent = server.requests.length
    const again = await runInProcess([...PROBE, '--json'], { cwd: dir, env: env(server) })
    expect(again.code, again.stderr).toBe(0)
    expect(server.requests).toHaveLength(sent)
    expect((JSON.parse(again.stdout) as OverlapReport).probes).toEqual(report.probes)
    expect(again.stderr).toMatch(/4 requests, 4 answered from the cache, \$0\.0000 this run/)
    expect(again.stderr).toMatch(/0 requests sent, 32 from the run journal/)

    // Text and reports mark the probe-judged pairs; the key is nowhere.
    const text = await runInProcess(PROBE, { cwd: dir, env: env(server), columns: 120 })
    expect(server.requests).toHaveLength(sent)
    expect(text.stdout).toMatch(/Cluster 1: 2 agents that a router can hardly tell apart \(judged by probes\)/)
    // Claude's prompts are not the descriptions': no upper-bound clause.
    expect(text.stdout.replace(/\n +/g, ' ')).toContain('evidence: 16 probe prompts aimed at one of the 2')
    expect(text.stdout).not.toContain('an upper bound')
    expect(text.stdout).toMatch(/● pg-optimizer ↔ pg-tuner {2}text 0\.\d\d {2}confused: 8 of 16 right \(95% 0\.28–0\.72\)\n {6}pg-optimizer {2}8 → pg-tuner 8\n {6}pg-tuner {6}8 → itself 8\n {6}pg-optimizer-\d+ → pg-tuner: fix the/)
    const folder = path.join(dir, 'reports/latest/probes')
    expect(await readFile(path.join(folder, 'report.md'), 'utf8')).toMatch(/\| pg-optimizer ↔ pg-tuner \| near-duplicate \| 0\.\d\d \| confused: 8 of 16 right \(95% 0\.28–0\.72\) \| pg-optimizer: 8 → pg-tuner 8; pg-tuner: 8 → itself 8 \|/)
    for (const out of [r, again, text]) expect(out.stdout + out.stderr).not.toContain(KEY)
    for (const f of await readdir(path.join(dir, '.routecheck/cache'), { recursive: true })) {
      const file = path.join(dir, '.routecheck/cache', f)
      if (f.endsWith('.json') || f.endsWith('.jsonl')) expect(await readFile(file, 'utf8')).not.toContain(KEY)
    }
  })

  it('--batch sends the drafting and the routing as message batches: the same evidence as live, nothing sent live; a rerun sends nothing', async () => {
    const live = await startMessagesServer({ tool: probeDrafter })
    const liveDir = await project()
    const liveRun = await runInProcess([...PROBE, '--json'], { cwd: liveDir, env: env(live) })
    await live.close()
    expect(liveRun.code, liveRun.stderr).toBe(0)

    server = await startMessagesServer({ tool: probeDrafter, batch: { pollsToEnd: 2 } })
    const dir = await project()
    const r = await runInProcess([...PROBE, '--batch', '--batch-poll', '0.05', '--json'], { cwd: dir, env: env(server) })
    expect(r.code, r.stderr).toBe(0)
    expect((JSON.parse(r.stdout) as OverlapReport).probes).toEqual((JSON.parse(liveRun.stdout) as OverlapReport).probes)
    // Two batches: the 4 drafting requests, then the 32 routing requests; nothing live.
    expect(server.batches.map((b) => b.requests.length)).toEqual([4, 32])
    expect(server.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(0)
    const said = r.stderr.replace(/\s+/g, ' ')
    expect(said).toMatch(/drafting \(claude-sonnet-5-5\): 4 requests, 0 answered from the cache, \$\d+\.\d+ this run at the batch rate \(1 message batch\)/)
    expect(said).toMatch(/routing \(anthropic:claude-haiku-4-5:template\): 32 requests sent \(32 in message batches\), 0 from the run journal/)

    const again = await runInProcess([...PROBE, '--batch', '--batch-poll', '0.05', '--json'], { cwd: dir, env: env(server) })
    expect(again.code, again.stderr).toBe(0)
    expect(server.batches).toHaveLength(2)
    expect(server.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(0)

    // With nothing to batch (examples, and the lexical router), --batch is refused.
    const nothing = await runInProcess(['overlap', '--probe', '--probe-from', 'examples', '--batch'], { cwd: dir })
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toMatch(/--batch has nothing to send: --probe-from examples drafts nothing, and the lexical router sends no message batches/)
  })

  it('--dry-run lists the drafting and routing requests and their cost, and sends and writes nothing', async () => {
    server = await startMessagesServer({ tool: probeDrafter })
    const dir = await project()
    const r = await runInProcess([...PROBE, '--dry-run'], { cwd: dir, env: env(server), columns: 100 })
    expect(r.code, r.stderr).toBe(0)
    expect(server.requests).toHaveLength(0)
    const flat = r.stdout.replace(/\s+/g, ' ')
    expect(flat).toMatch(/overlap --probe --dry-run: nothing sent · 4 pairs \(1 near-duplicate, 3 just under the line\) · 4 agents · 8 prompts per agent/)
    expect(flat).toMatch(/Drafting with claude-sonnet-5-5: generate's requests for prompts aimed at an agent, 4 asking for 44 prompts, to keep 32\./)
    for (const agent of ['css-stylist', 'docs-writer', 'pg-optimizer', 'pg-tuner']) expect(r.stdout).toMatch(new RegExp(`│ ${agent} +│ +11 │`))
    expect(flat).toMatch(/Routing with anthropic:claude-haiku-4-5:template: up to 32 requests \(32 prompts × 1 repeat\), ≈[\d,]+ input tokens, ≈\$0\.\d\d \(each prompt counted at 64 tokens before it is drafted\)/)
    expect(flat).toMatch(/Together ≈\$0\.\d\d; --max-cost USD stops sending before drafting and routing together pass it/)
    const json = await runInProcess([...PROBE, '--dry-run', '--json'], { cwd: dir, env: env(server) })
    const plan = JSON.parse(json.stdout)
    expect(plan.drafting.requests).toHaveLength(4)
    expect(plan.drafting.requests[0].body.tools[0].name).toBe('record_prompts')
    expect(plan.drafting.requests[0].body.messages[0].content).toMatch(/Write 11 prompts that the subagent "css-stylist" should take/)
    expect(plan.routing).toMatchObject({ requests: 32, prompts: 32, repeats: 1, placeholder: true })
    expect(plan.routing.first.tools[0].name).toBe('Agent')
    expect(server.requests).toHaveLength(0)
    await expect(readdir(path.join(dir, 'reports'))).rejects.toThrow()

    // A run folder that cannot take the run is refused before anything is drafted.
    const into = await runInProcess([...PROBE, '--out', 'agents'], { cwd: dir, env: env(server) })
    expect(into.code).toBe(2)
    expect(into.stderr).toMatch(/agents: the run folder \(--out\) is the agents folder/)
    expect(server.requests).toHaveLength(0)
  })

  it('--max-cost covers drafting and routing together: what fits is sent, the rest is named, exit 3; a rerun with room finishes and pays only for the rest', async () => {
    server = await startMessagesServer({ tool: probeDrafter })
    const dir = await project()
    // Too little for even one drafting request: nothing is sent.
    const broke = await runInProcess([...PROBE, '--max-cost', '0.001'], { cwd: dir, env: env(server) })
    expect(broke.code).toBe(3)
    expect(server.requests).toHaveLength(0)
    expect(broke.stderr).toMatch(/no probe prompt was drafted: not sent: --max-cost 0\.001 USD would be passed/)

    // Enough to draft for every agent (a cheap drafting model, estimated at ≈$0.002 a request), not to route every prompt three times.
    const cheap = ['overlap', '--probe', '--router', 'anthropic', '--style', 'template', '--model', 'claude-haiku-4-5', '--repeats', '3', '--draft-model', 'claude-3-haiku']
    const full = await runInProcess([...cheap, '--max-cost', '0.015'], { cwd: dir, env: env(server) })
    expect(full.code, full.stderr).toBe(3)
    expect(drafting(server)).toHaveLength(4)
    const routed = server.requests.length - 4
    expect(routed).toBeGreaterThan(0)
    expect(routed).toBeLessThan(3 * 32)
    expect(full.stderr).toMatch(new RegExp(`stopped before passing --max-cost 0\\.015 USD: ${3 * 32 - routed} request\\(s\\) not sent`))
    const drafted = Number(/drafting \(claude-3-haiku\): 4 requests, 0 answered from the cache, \$(\d+\.\d+) this run/.exec(full.stderr)![1])
    const summary = JSON.parse(await readFile(path.join(dir, 'reports/latest/probes/summary.json'), 'utf8'))
    expect(summary.requests).toMatchObject({ sent: routed, notSent: 3 * 32 - routed })
    expect(drafted + summary.cost.usdThisRun).toBeLessThanOrEqual(0.015)

    // Without the cap the same command finishes: drafting comes from the cache, only the routing not yet done is sent.
    const rest = await runInProcess(cheap, { cwd: dir, env: env(server) })
    expect(rest.code, rest.stderr).toBe(0)
    expect(drafting(server)).toHaveLength(4)
    expect(server.requests).toHaveLength(4 + 3 * 32)
  })
})
