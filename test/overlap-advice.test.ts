import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { adviseCluster, COIN_TOSS, CONFUSED_BELOW, MIN_PAIR_PROMPTS, type AdviceInput } from '../src/overlap/advice.js'
import { analyseOverlap, type OverlapAgent, type OverlapCase } from '../src/overlap/index.js'
import { fewestToBeatChance, wilsonInterval } from '../src/score/stats.js'
import { runCli, tempProject } from './support/cli.js'

const PYTHON = ['python-backend-architect', 'python-backend-engineer', 'python-backend-specialist', 'python-engineer', 'python-specialist']

/** Two or three agents whose texts overlap by `text`, with routing made of wins per agent and cases routed across each pair. */
function input(opts: { members?: string[]; text?: number | ((a: string, b: string) => number); wins?: Record<string, number>; across?: Record<string, number>; routed?: boolean }): AdviceInput {
  const members = opts.members ?? ['alpha', 'beta']
  const text = opts.text ?? 0.3
  return {
    members,
    text: typeof text === 'number' ? () => text : text,
    copyText: typeof text === 'number' ? () => text : text,
    terms: Object.fromEntries(members.map((m) => [m, { lead: [`${m} own`], later: ['shared words'], drop: ['expert'] }])),
    routing:
      opts.routed === false
        ? undefined
        : { source: 'dataset', of: ['d.csv'], wins: (m) => opts.wins?.[m] ?? 0, across: (a, b) => opts.across?.[[a, b].sort().join(' ')] ?? 0 },
    mergeText: 0.45,
    nearDuplicate: 0.2,
  }
}

describe('the minimum sample', () => {
  it('is the fewest prompts on which a perfect record beats a coin toss: 4', () => {
    expect(MIN_PAIR_PROMPTS).toBe(4)
    expect(wilsonInterval(4, 4)[0]).toBeGreaterThan(COIN_TOSS)
    expect(wilsonInterval(3, 3)[0]).toBeLessThanOrEqual(COIN_TOSS)
    // the same rule for other chances: one in five needs a single prompt, nine in ten needs 35
    expect(fewestToBeatChance(0.2)).toBe(1)
    expect(wilsonInterval(fewestToBeatChance(0.9), fewestToBeatChance(0.9))[0]).toBeGreaterThan(0.9)
    expect(wilsonInterval(fewestToBeatChance(0.9) - 1, fewestToBeatChance(0.9) - 1)[0]).toBeLessThanOrEqual(0.9)
    expect(() => fewestToBeatChance(1)).toThrow(RangeError)
  })
})

describe('adviseCluster', () => {
  it('never advises a merge on two prompts: "too few prompts to tell (n = 2)"', () => {
    // both prompts routed across: a router that looks hopeless, on too little to tell
    const a = adviseCluster(input({ across: { 'alpha beta': 2 } }))
    expect(a.action).toBe('reword')
    expect(a.merges).toEqual([])
    expect(a.pairs).toEqual([expect.objectContaining({ verdict: 'too-few', prompts: 2, right: 0 })])
    expect(a.lines.join('\n')).toContain('too few prompts to tell (under 4): alpha ↔ beta (n = 2)')
    expect(a.headline).toBe("Reword, don't merge: no pair is shown confused (1 pair has too few prompts to tell).")
  })

  it('merges on a coin toss over enough prompts, into the agent the router already sends its prompts to', () => {
    const a = adviseCluster(input({ wins: { alpha: 7, beta: 1 }, across: { 'alpha beta': 8 } }))
    // 8 of 16 right: 95% 0.28–0.72, under 0.75
    expect(wilsonInterval(8, 16)[1]).toBeLessThan(CONFUSED_BELOW)
    expect(a.pairs[0]).toMatchObject({ verdict: 'confused', prompts: 16, right: 8 })
    expect(a).toMatchObject({ action: 'merge', merges: [{ into: 'alpha', members: ['beta'] }], rewrite: {} })
    expect(a.headline).toBe('Merge beta into alpha.')
    expect(a.lines[1]).toBe('merge beta into alpha (alpha wins 7 of its prompts, beta 1): beta: the router cannot tell them apart (8 of 16 right, 95% 0.28–0.72)')
  })

  it('keeps agents the router tells apart, and says "not yet clear" in between', () => {
    const apart = adviseCluster(input({ wins: { alpha: 9, beta: 9 }, across: { 'alpha beta': 1 } }))
    expect(apart.action).toBe('keep')
    expect(apart.headline).toMatch(/^Keep all 2: the router tells every pair apart/)
    expect(Object.keys(apart.rewrite)).toEqual(['alpha', 'beta'])
    // 6 of 7: a coin toss is still inside the interval (0.49–0.97), and so is 0.75
    const unclear = adviseCluster(input({ wins: { alpha: 3, beta: 3 }, across: { 'alpha beta': 1 } }))
    expect(unclear.pairs[0]!.verdict).toBe('unclear')
    expect(unclear.action).toBe('reword')
    expect(unclear.lines.join('\n')).toContain('not yet clear, a coin toss is inside the interval: alpha ↔ beta (6 of 7 right, 95% 0.49–0.97)')
  })

  it('merges copies on the text alone, and without routing evidence advises no other merge', () => {
    const text = (a: string, b: string) => ([a, b].includes('gamma') ? 0.25 : 0.6)
    const a = adviseCluster(input({ members: ['alpha', 'beta', 'gamma'], text, routed: false }))
    expect(a.evidence).toBe('descriptions')
    expect(a.pairs.map((p) => p.verdict)).toEqual(['copy', 'too-few', 'too-few'])
    // no run: the keeper is the one closest to the rest, then the first by name
    expect(a.merges).toEqual([{ into: 'alpha', members: ['beta'] }])
    expect(a.headline).toBe('Merge beta into alpha, and reword the rest.')
    expect(Object.keys(a.rewrite)).toEqual(['alpha', 'gamma'])
    expect(a.lines).toContain('  alpha: lead with "alpha own"; not with what most of them say ("shared words"); drop "expert"')
    // with no routing there is no "too few prompts" line: there were no prompts at all
    expect(a.lines.join('\n')).not.toContain('too few prompts')
  })

  it('joins merge edges into one keeper per group', () => {
    const members = ['a1', 'a2', 'a3', 'b1']
    const a = adviseCluster(
      input({
        members,
        text: (x, y) => (x[0] === y[0] ? 0.3 : 0.1),
        wins: { a1: 1, a2: 6, a3: 2, b1: 10 },
        across: { 'a1 a2': 7, 'a2 a3': 8, 'a1 a3': 3 },
      }),
    )
    expect(a.merges).toEqual([{ into: 'a2', members: ['a1', 'a3'] }])
    expect(a.headline).toBe('Merge a1, a3 into a2, and reword the rest.')
    expect(Object.keys(a.rewrite)).toEqual(['a2', 'b1'])
  })
})

describe('advice from analyseOverlap', () => {
  const agent = (name: string, description: string): OverlapAgent => ({ name, description, file: `agents/${name}.md` })
  const agents = [
    agent('pg-tuner', 'Use this agent to tune PostgreSQL queries: EXPLAIN plans, indexes, vacuum and autovacuum settings, replication lag.'),
    agent('pg-doctor', 'Use this agent when a PostgreSQL server misbehaves: connection storms, lock waits, bloat, failed replication, slow queries and missing indexes.'),
    agent('react-dev', 'Use this agent for React components, hooks, Tailwind styles and accessible forms.'),
  ]
  const c = (id: string, expected: string, decision: string): OverlapCase => ({ id, expected: [expected], decision, votes: { [decision]: 1 } })

  it('two prompts between a near-duplicate pair: too few to tell, and the evidence names its dataset', () => {
    const report = analyseOverlap({ agents, cases: [c('1', 'pg-tuner', 'pg-doctor'), c('2', 'pg-doctor', 'pg-tuner'), c('3', 'react-dev', 'react-dev')], evidence: { source: 'dataset', of: ['datasets/db.csv'] } }, { minPairSupport: 1 })
    const cl = report.clusters.find((x) => x.members.includes('pg-tuner'))!
    expect(cl.members).toEqual(['pg-doctor', 'pg-tuner'])
    expect(cl.advice).toMatchObject({ action: 'reword', evidence: 'dataset', sources: ['datasets/db.csv'], prompts: 2, right: 0, merges: [] })
    expect(cl.suggestion).toContain('too few prompts to tell (under 4): pg-doctor ↔ pg-tuner (n = 2)')
    expect(cl.suggestion).toContain('evidence: 2 prompts of datasets/db.csv labelled for one of the 2 and routed to one of them; 0 reached the labelled one')
  })

  it('twenty prompts at a coin toss: merge, with the figures', () => {
    const cases: OverlapCase[] = []
    for (let k = 0; k < 10; k++) cases.push(c(`t${k}`, 'pg-tuner', k < 6 ? 'pg-doctor' : 'pg-tuner'), c(`d${k}`, 'pg-doctor', k < 4 ? 'pg-tuner' : 'pg-doctor'))
    const cl = analyseOverlap({ agents, cases }).clusters.find((x) => x.members.includes('pg-tuner'))!
    expect(cl.advice).toMatchObject({ action: 'merge', merges: [{ into: 'pg-doctor', members: ['pg-tuner'] }], prompts: 20, right: 10 })
    expect(cl.suggestion).toMatch(/^Merge pg-tuner into pg-doctor\.\n/)
    expect(cl.suggestion).toContain('the router cannot tell them apart (10 of 20 right, 95% 0.30–0.70)')
  })
})

describe('eval and overlap give one piece of advice', () => {
  it('on the bundled agents and datasets: the Python five are one cluster, no distinct roles are flagged, and the advice is the same text in eval, overlap, report.md and report.html', async () => {
    const dir = await tempProject({ datasets: true })
    const evalText = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--dataset', 'datasets/python-backend.csv', '--out', 'run'], { cwd: dir })
    expect(evalText.code).toBe(0)
    const both = await runCli(['overlap', 'run/routing', 'run/python-backend'], { cwd: dir })
    expect(both.code).toBe(0)
    const adviceBlock = (out: string) => out.slice(out.indexOf('  advice: '), out.indexOf('\nAgent lint'))
    expect(adviceBlock(evalText.stdout).length).toBeGreaterThan(500)
    expect(adviceBlock(both.stdout)).toBe(adviceBlock(evalText.stdout))
    expect(evalText.stdout.replace(/\s+/g, ' ')).toContain('evidence: 67 prompts of datasets/python-backend.csv, datasets/routing.csv labelled for one of the 5')

    for (const stem of ['routing', 'python-backend']) {
      const summary = JSON.parse(await readFile(path.join(dir, 'run', stem, 'summary.json'), 'utf8'))
      const one = JSON.parse((await runCli(['overlap', `run/${stem}`, '--json'], { cwd: dir })).stdout)
      expect(summary.overlap.clusters.map((x: { members: string[] }) => x.members)).toEqual([PYTHON])
      expect(one.clusters.map((x: { members: string[] }) => x.members)).toEqual([PYTHON])
      const flagged = one.pairs.filter((p: { a: string; b: string; nearDuplicate: boolean }) => p.nearDuplicate && !(PYTHON.includes(p.a) && PYTHON.includes(p.b)))
      expect(flagged).toEqual([])
      expect(one.clusters[0].suggestion).toBe(summary.overlap.clusters[0].suggestion)
      // summary.json keeps 6 decimals of each figure; the decision and its words are the same
      const decision = (a: { action: string; merges: unknown; headline: string; lines: string[] }) => [a.action, a.merges, a.headline, a.lines]
      expect(decision(one.clusters[0].advice)).toEqual(decision(summary.overlap.clusters[0].advice))
      const { headline, lines } = summary.overlap.clusters[0].advice
      const md = await readFile(path.join(dir, 'run', stem, 'report.md'), 'utf8')
      expect(md).toContain(headline.replace(/'/g, "'"))
      for (const line of lines) expect(md).toContain(`- ${line.trim()}`)
      const page = await readFile(path.join(dir, 'run', stem, 'report.html'), 'utf8')
      const escaped = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
      expect(page).toContain(escaped(headline))
      for (const line of lines) expect(page).toContain(`<li>${escaped(line.trim())}`)
    }
  })
})
