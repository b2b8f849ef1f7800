import { appendFile, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { compareDataset, decideGate, type GateThresholds } from '../src/gate/compare.js'
import { changeCoverage, noOwnCasesText, type CoverageCase } from '../src/gate/coverage.js'
import type { BaselineDataset } from '../src/gate/baseline.js'
import { ROOT, runInProcess, tempDir } from './support/cli.js'
import { drafter } from './support/drafter.js'
import { startMessagesServer } from './support/messages-server.js'

const FD = 'from-description'

describe('changeCoverage: what the gate can see of each agent the change edits or adds', () => {
  const cases: CoverageCase[] = [
    { expected: ['a'], tags: [], before: 'a', after: 'a' },
    { expected: ['a'], tags: [FD], before: 'a', after: 'b' },
    { expected: ['b', 'a'], tags: ['generated'], before: 'b', after: 'a' },
    { expected: ['b'], tags: [], before: 'b', after: 'a' },
    { expected: ['none'], tags: [], before: 'none', after: 'c' },
    // routed now, not compared: new, relabelled or reworded
    { expected: ['c'], tags: [], after: 'c' },
    { expected: ['c'], tags: [FD], after: 'a' },
  ]

  it('counts labelled (any gold label), from-description and routed-to cases, compared and not, over every dataset', () => {
    const [a, c] = changeCoverage({ changed: ['a'], added: ['c'] }, [cases.slice(0, 3), cases.slice(3)])
    expect(a).toEqual({
      agent: 'a',
      change: 'changed',
      ownCases: 2,
      ownRoutedToIt: 2,
      compared: { labelled: 3, fromDescription: 1, routedBefore: 2, routedAfter: 3 },
      notCompared: { labelled: 0, fromDescription: 0, routedAfter: 1 },
    })
    // an added agent's cases can only be new ones: the baseline cannot label a case for an agent it never had
    expect(c).toEqual({
      agent: 'c',
      change: 'added',
      ownCases: 1,
      ownRoutedToIt: 1,
      compared: { labelled: 0, fromDescription: 0, routedBefore: 0, routedAfter: 1 },
      notCompared: { labelled: 2, fromDescription: 1, routedAfter: 1 },
    })
  })

  it('an agent whose only cases are its description’s own examples has no case of its own', () => {
    const [x] = changeCoverage({ changed: ['x'], added: [] }, [[{ expected: ['x'], tags: [FD], before: 'x', after: 'x' }]])
    expect(x!.ownCases).toBe(0)
    expect(changeCoverage({ changed: [], added: [] }, [cases])).toEqual([])
  })

  it('says who is unmeasured in one clause, whatever the mix', () => {
    expect(noOwnCasesText([{ agent: 'p', change: 'changed' }])).toBe('p, which this change edits, has no case of its own (its recall is unmeasured)')
    expect(noOwnCasesText([{ agent: 'n', change: 'added' }])).toBe('n, which this change adds, has no case of its own (its recall is unmeasured)')
    expect(noOwnCasesText([{ agent: 'p', change: 'changed' }, { agent: 'q', change: 'changed' }, { agent: 'n', change: 'added' }])).toBe(
      'p and q, which this change edits, and n, which it adds, have no case of their own (their recall is unmeasured)',
    )
  })
})

describe('the changed-agent-cases rule (gate.minChangedAgentCases)', () => {
  const mk = (id: string, expected: string, decision: string) => ({ id, expected: [expected], decision, votes: { [decision]: 1 }, split: false, flipped: false })
  const base: BaselineDataset = { path: 'd.csv', fingerprint: 'f', repeats: 1, metrics: { accuracy: 1, primaryAccuracy: 1, macroF1: 1, errored: 0 }, cases: [mk('1', 'a', 'a'), mk('2', 'b', 'b')].map((c) => ({ ...c, correct: true })) }
  const comparison = compareDataset(base, [mk('1', 'a', 'a'), mk('2', 'b', 'b')], ['a', 'b'])
  const t = (minChangedAgentCases: number): GateThresholds => ({ maxAccuracyDrop: 0.02, maxAgentF1Drop: 0.1, minSupport: 5, maxStableFlips: 0, failOnNewNearDuplicates: true, minChangedAgentCases })
  const coverage = changeCoverage({ changed: ['a'], added: [] }, [[{ expected: ['a'], tags: [], before: 'a', after: 'a' }, { expected: ['a'], tags: [FD], before: 'a', after: 'a' }]])

  it('is off by default (0): coverage is reported, never failed', () => {
    expect(decideGate([comparison], [], t(0), coverage)).toMatchObject({ passed: true, failures: [] })
  })

  it('fails a changed agent with fewer cases of its own, naming it, its count and the fix; passes at the minimum', () => {
    const v = decideGate([comparison], [], t(2), coverage)
    expect(v.passed).toBe(false)
    expect(v.failures).toEqual([
      {
        rule: 'changed-agent-cases',
        agents: ['a'],
        message: 'a, which this change edits, has 1 case of its own (and 1 from-description, which do not count), fewer than minChangedAgentCases 2',
        fix: "add prompts labelled for a to a dataset: routecheck generate --agent a --append --out d.csv drafts them for you to review; prompts tagged from-description are the description's own examples and do not count",
      },
    ])
    expect(decideGate([comparison], [], t(1), coverage).passed).toBe(true)
  })
})

// ---------------------------------------------------------------- the real CLI on a temp project

/** The reproduction: .claude/agents holds the five bundled python-* near-duplicates, `init` writes the starter dataset, `baseline` records it. */
async function pythonProject(config: Record<string, unknown> = {}): Promise<string> {
  const dir = await tempDir('routecheck-coverage-')
  await mkdir(path.join(dir, '.claude/agents'), { recursive: true })
  for (const f of (await readdir(path.join(ROOT, 'agents'))).filter((f) => f.startsWith('python-'))) await cp(path.join(ROOT, 'agents', f), path.join(dir, '.claude/agents', f))
  const init = await runInProcess(['init'], { cwd: dir })
  expect(init.code, init.stderr).toBe(0)
  if (Object.keys(config).length > 0) {
    const file = path.join(dir, 'routecheck.config.json')
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), ...config }, null, 2))
  }
  const baseline = await runInProcess(['baseline'], { cwd: dir })
  expect(baseline.code, baseline.stderr).toBe(0)
  return dir
}

const AGENT = '.claude/agents/python-engineer.md'
const CATCH_ALL = 'description: "Use for anything Python: backend APIs, FastAPI, Django, async, databases, data pipelines and scripts."'

async function makeCatchAll(dir: string): Promise<string> {
  const file = path.join(dir, AGENT)
  const original = await readFile(file, 'utf8')
  await writeFile(file, original.replace(/^description:.*$/m, CATCH_ALL))
  return original
}

type GateJson = { passed: boolean; failures: Array<{ rule: string; agents: string[]; message: string; fix?: string }>; coverage: Array<{ agent: string; change: string; ownCases: number; compared: Record<string, number>; notCompared: Record<string, number> }> }
const gateJson = async (dir: string): Promise<GateJson> => JSON.parse(await readFile(path.join(dir, 'reports/latest/starter/gate.json'), 'utf8'))

/** Two rows of the starter's columns (id,prompt,expected,tags,note): prompts a Python engineer would get, none an <example> of any description. */
const PYTHON_PROMPTS = ['pe1,write a python script that renames the photos in a folder by their exif date,python-engineer,reviewed,', 'pe2,my pandas groupby is slow on ten million rows,python-engineer,reviewed,']

describe('routecheck gate says which changed agents it cannot see', () => {
  it('the reproduction: a catch-all python-engineer passes, and the verdict, the coverage block, gate.json and report.md say it has no case of its own', async () => {
    const dir = await pythonProject()
    await makeCatchAll(dir)
    const r = await runInProcess(['gate'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toBe('PASS: no rule failed on 15 compared case(s); accuracy held at 1.000 (p = 1.0) — python-engineer, which this change edits, has no case of its own (its recall is unmeasured)')
    expect(r.stdout).toContain(
      [
        'agents changed: python-engineer · added: — · removed: —',
        'coverage: the gate cannot see whether python-engineer still gets its own prompts',
        '  python-engineer (edited): 0 cases of its own · compared cases labelled for it: 0, routed to it: 0 → 0',
        "  fix: add prompts labelled for python-engineer to a dataset: routecheck generate --agent python-engineer --append --out routecheck/starter.csv drafts them for you to review; prompts tagged from-description are the description's own examples and do not count",
      ].join('\n'),
    )
    expect(r.stdout).toMatch(/gate: passed$/m)
    const g = await gateJson(dir)
    expect(g.passed).toBe(true)
    expect(g.coverage).toEqual([{ agent: 'python-engineer', change: 'changed', ownCases: 0, ownRoutedToIt: 0, compared: { labelled: 0, fromDescription: 0, routedBefore: 0, routedAfter: 0 }, notCompared: { labelled: 0, fromDescription: 0, routedAfter: 0 } }])
    const md = await readFile(path.join(dir, 'reports/latest/starter/report.md'), 'utf8')
    expect(md).toContain('python-engineer, which this change edits, has no case of its own (its recall is unmeasured)**')
    expect(md).toContain('- coverage: the gate cannot see whether python-engineer still gets its own prompts')
    const html = await readFile(path.join(dir, 'reports/latest/starter/report.html'), 'utf8')
    expect(html).toContain('<p><strong>coverage: the gate cannot see whether python-engineer still gets its own prompts</strong></p>')
    // Under GitHub Actions the agent file gets a warning, not an error: the rule is off.
    const gha = await runInProcess(['gate'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } })
    expect(gha.stdout).toMatch(/^::warning file=\.claude\/agents\/python-engineer\.md,line=3,title=routecheck gate%3A no case of its own::python-engineer, which this change edits, has no case of its own/m)
    expect(gha.stdout).not.toMatch(/^::error/m)
  })

  it('an edited agent whose only cases are its own <example> prompts is no better seen: they are counted apart', async () => {
    const dir = await pythonProject()
    const file = path.join(dir, '.claude/agents/python-backend-specialist.md')
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^description:.*$/m, CATCH_ALL))
    const r = await runInProcess(['gate'], { cwd: dir })
    expect(r.stdout.split('\n')[0]).toMatch(/ — python-backend-specialist, which this change edits, has no case of its own \(its recall is unmeasured\)/)
    expect(r.stdout).toMatch(/python-backend-specialist \(edited\): 0 cases of its own · compared cases labelled for it: 3 \(3 from-description\), routed to it: 3 → \d/)
  })

  it('gate.minChangedAgentCases 2 fails the catch-all (exit 1), naming the agent, its count and the fix; it passes once prompts for python-engineer are added, and says how many reach it', async () => {
    const dir = await pythonProject({ gate: { minChangedAgentCases: 2 } })
    const original = await makeCatchAll(dir)
    const r = await runInProcess(['gate'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } })
    expect(r.code).toBe(1)
    expect(r.stdout.split('\n')[0]).toBe('FAIL: python-engineer, which this change edits, has 0 cases of its own, fewer than minChangedAgentCases 2; accuracy held at 1.000 (p = 1.0)')
    expect(r.stdout).toContain(
      "FAIL changed-agent-cases: python-engineer, which this change edits, has 0 cases of its own, fewer than minChangedAgentCases 2; add prompts labelled for python-engineer to a dataset: routecheck generate --agent python-engineer --append --out routecheck/starter.csv drafts them for you to review; prompts tagged from-description are the description's own examples and do not count",
    )
    expect(r.stdout).toMatch(/^::error file=\.claude\/agents\/python-engineer\.md,line=3,title=routecheck gate%3A changed-agent-cases::python-engineer, which this change edits, has 0 cases of its own/m)
    expect(r.stdout).not.toMatch(/^::warning/m)
    // The failure carries the fix; the coverage block does not say it again.
    expect(r.stdout.split('\n').filter((l) => !l.startsWith('::') && l.includes('add prompts labelled for python-engineer'))).toHaveLength(1)
    expect((await gateJson(dir)).failures).toEqual([expect.objectContaining({ rule: 'changed-agent-cases', agents: ['python-engineer'], fix: expect.stringContaining('add prompts labelled for python-engineer') })])

    // Prompts added in the same pull request: new cases, routed and shown apart, and counted as its own.
    const csv = path.join(dir, 'routecheck/starter.csv')
    await appendFile(csv, `${PYTHON_PROMPTS.join('\n')}\n`)
    const added = await runInProcess(['gate'], { cwd: dir })
    expect(added.code, added.stdout).toBe(0)
    expect(added.stdout.split('\n')[0]).toBe('PASS: no rule failed on 15 compared case(s); accuracy held at 1.000 (p = 1.0)')
    expect(added.stdout).toContain('coverage: each agent the change edits or adds has cases of its own: python-engineer 2 (0 routed to it; 2 not compared)')
    expect((await gateJson(dir)).coverage[0]).toMatchObject({ ownCases: 2, compared: { labelled: 0 }, notCompared: { labelled: 2, fromDescription: 0 } })

    // Or the prompts land first, and the baseline is made with them before the edit: then they are compared.
    await writeFile(path.join(dir, AGENT), original)
    expect((await runInProcess(['baseline'], { cwd: dir })).code).toBe(0)
    await makeCatchAll(dir)
    const compared = await runInProcess(['gate'], { cwd: dir })
    expect(compared.code, compared.stdout).toBe(0)
    expect(compared.stdout.split('\n')[0]).toMatch(/^PASS: no rule failed on 17 compared case\(s\)/)
    expect(compared.stdout).toContain('coverage: each agent the change edits or adds has cases of its own: python-engineer 2 (0 routed to it)\n')
    expect((await gateJson(dir)).coverage[0]).toMatchObject({ ownCases: 2, compared: { labelled: 2, fromDescription: 0 }, notCompared: { labelled: 0 } })
  })

  it("the fix's command, run as printed, drafts python-engineer's prompts into the dataset the gate read; the gate then passes minChangedAgentCases and its old cases are compared as before", async () => {
    const dir = await pythonProject({ gate: { minChangedAgentCases: 2 } })
    await makeCatchAll(dir)
    const failed = await runInProcess(['gate'], { cwd: dir })
    expect(failed.code, failed.stderr).toBe(1)
    const fix = (await gateJson(dir)).failures[0]!.fix!
    const command = /: routecheck (generate .+?) drafts them/.exec(fix)?.[1]
    expect(command).toBe('generate --agent python-engineer --append --out routecheck/starter.csv')
    const csv = path.join(dir, 'routecheck/starter.csv')
    const before = await readFile(csv)
    const server = await startMessagesServer({ tool: drafter })
    try {
      const drafted = await runInProcess([...command!.split(' '), '--per-agent', '3'], { cwd: dir, env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'sk-ant-coverage-fix' } })
      expect(drafted.code, drafted.stderr).toBe(0)
      // python-engineer's own request and one per near-duplicate pair holding it: nothing for the four other agents, none or Explore.
      const sent = server.requests.filter((q) => q.path === '/v1/messages')
      const pairs = sent.filter((q) => q.prompt.includes('boundary prompts'))
      expect(sent.filter((q) => !pairs.includes(q)).map((q) => /the subagent "([^"]+)" should take/.exec(q.prompt)?.[1])).toEqual(['python-engineer'])
      expect(pairs.length).toBeGreaterThan(0)
      expect(pairs.every((q) => q.prompt.includes('"python-engineer"'))).toBe(true)
    } finally {
      await server.close()
    }
    const after = await readFile(csv)
    expect(after.subarray(0, before.length).equals(before)).toBe(true)
    const passed = await runInProcess(['gate'], { cwd: dir })
    expect(passed.code, passed.stdout).toBe(0)
    expect(passed.stdout.split('\n')[0]).toMatch(/^PASS: no rule failed on 15 compared case\(s\)/)
    expect(passed.stdout).toMatch(/coverage: each agent the change edits or adds has cases of its own: python-engineer \d+ \(\d+ routed to it; \d+ not compared\)/)
    expect((await gateJson(dir)).coverage[0]!.ownCases).toBeGreaterThanOrEqual(3)
  })

  it('an unchanged catalogue prints no coverage note, and gate.json has an empty coverage', async () => {
    const dir = await pythonProject({ gate: { minChangedAgentCases: 2 } })
    const r = await runInProcess(['gate'], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout.split('\n')[0]).toBe('PASS: no rule failed on 15 compared case(s); accuracy held at 1.000 (p = 1.0)')
    expect(r.stdout).not.toContain('coverage')
    expect((await gateJson(dir)).coverage).toEqual([])
  })

  it('a bad minChangedAgentCases is exit 2 naming the key', async () => {
    const dir = await pythonProject()
    const file = path.join(dir, 'routecheck.config.json')
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), gate: { minChangedAgentCases: -1 } }, null, 2))
    const r = await runInProcess(['gate'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/routecheck\.config\.json:\d+.*gate\.minChangedAgentCases/)
  })
})
