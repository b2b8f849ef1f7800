import { appendFile, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { compareDataset, decideGate, type GateThresholds } from '../src/gate/compare.js'
import { changeCoverage, coverageFix, noOwnCasesText, type CoverageCase } from '../src/gate/coverage.js'
import type { BaselineDataset } from '../src/gate/baseline.js'
import { casesCsv, ROOT, runInProcess, tempDir } from './support/cli.js'
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
    const [a, c] = changeCoverage({ changed: ['a'], added: ['c'] }, [
      { path: 'one.csv', cases: cases.slice(0, 3) },
      { path: 'two.csv', cases: cases.slice(3) },
    ])
    expect(a).toEqual({
      agent: 'a',
      change: 'changed',
      ownCases: 2,
      ownRoutedToIt: 2,
      compared: { labelled: 3, fromDescription: 1, routedBefore: 2, routedAfter: 3 },
      notCompared: { labelled: 0, fromDescription: 0, routedAfter: 1 },
      addTo: 'one.csv',
    })
    // an added agent's cases can only be new ones: the baseline cannot label a case for an agent it never had
    expect(c).toEqual({
      agent: 'c',
      change: 'added',
      ownCases: 1,
      ownRoutedToIt: 1,
      compared: { labelled: 0, fromDescription: 0, routedBefore: 0, routedAfter: 1 },
      notCompared: { labelled: 2, fromDescription: 1, routedAfter: 1 },
      addTo: 'two.csv',
    })
  })

  it('an agent whose only cases are its description’s own examples has no case of its own', () => {
    const [x] = changeCoverage({ changed: ['x'], added: [] }, [{ path: 'd.csv', cases: [{ expected: ['x'], tags: [FD], before: 'x', after: 'x' }] }])
    expect(x!.ownCases).toBe(0)
    expect(changeCoverage({ changed: [], added: [] }, [{ path: 'd.csv', cases }])).toEqual([])
  })

  it('names, per agent, the dataset holding the most of its own cases, else of its neighbours\' (ties: the first), one command per dataset', () => {
    const own = (agent: string, n: number, tags: string[] = []): CoverageCase[] => Array.from({ length: n }, () => ({ expected: [agent], tags, before: agent, after: agent }))
    const datasets = [
      { path: 'general.csv', cases: [...own('a', 1), ...own('b', 2), ...own('n1', 1), ...own('t', 2)] },
      { path: 'python.csv', cases: [...own('a', 3), ...own('b', 2), ...own('n1', 2), ...own('n2', 1), ...own('a', 5, [FD])] },
      { path: 'docs.csv', cases: [...own('t', 2), ...own('x', 4, [FD])] },
    ]
    const neighbours = (agent: string) => ({ fresh: ['n1', 'n2'], lonely: [] as string[], x: ['t'] })[agent] ?? ['nobody']
    const coverage = changeCoverage({ changed: ['a', 'b', 'x'], added: ['fresh', 'lonely'] }, datasets, neighbours)
    // a: 1 against 3 (its five from-description cases do not count); b: 2 and 2, the first; x: none of its own, its neighbour t 2 and 2, the first;
    // fresh: none, its neighbours n1 and n2 hold 1 and 3; lonely: no neighbour, the first.
    expect(coverage.map((c) => [c.agent, c.addTo])).toEqual([['a', 'python.csv'], ['b', 'general.csv'], ['x', 'general.csv'], ['fresh', 'python.csv'], ['lonely', 'general.csv']])
    expect(changeCoverage({ changed: ['a'], added: [] }, [])[0]!.addTo).toBeUndefined()

    expect(coverageFix(coverage.filter((c) => c.agent === 'a' || c.agent === 'fresh'))).toBe(
      "add prompts labelled for a and fresh to a dataset: routecheck generate --agent a --agent fresh --append --out python.csv drafts them for you to review; prompts tagged from-description are the description's own examples and do not count",
    )
    expect(coverageFix(coverage.filter((c) => c.agent !== 'lonely'))).toBe(
      "add prompts labelled for a, b, x and fresh, each to the dataset holding the most of its cases (or of its near-duplicates'): routecheck generate --agent a --agent fresh --append --out python.csv and routecheck generate --agent b --agent x --append --out general.csv draft them for you to review; prompts tagged from-description are the description's own examples and do not count",
    )
    expect(coverageFix([{ agent: 'q' }])).toContain('routecheck generate --agent q --append --out DATASET drafts them')
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
  const coverage = changeCoverage({ changed: ['a'], added: [] }, [{ path: 'd.csv', cases: [{ expected: ['a'], tags: [], before: 'a', after: 'a' }, { expected: ['a'], tags: [FD], before: 'a', after: 'a' }] }])

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

type GateJson = { passed: boolean; failures: Array<{ rule: string; agents: string[]; message: string; fix?: string }>; coverage: Array<{ agent: string; change: string; ownCases: number; compared: Record<string, number>; notCompared: Record<string, number>; addTo?: string }> }
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
    expect(g.coverage).toEqual([
      { agent: 'python-engineer', change: 'changed', ownCases: 0, ownRoutedToIt: 0, compared: { labelled: 0, fromDescription: 0, routedBefore: 0, routedAfter: 0 }, notCompared: { labelled: 0, fromDescription: 0, routedAfter: 0 }, addTo: 'routecheck/starter.csv' },
    ])
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

describe('the coverage fix with several datasets names, per agent, the one its prompts belong in', () => {
  /** Four bundled agents; general.csv (read first) holds the docs and infrastructure cases, python.csv most of the Python ones. */
  async function twoDatasetProject(gate: Record<string, unknown>): Promise<string> {
    const dir = await tempDir('routecheck-coverage-two-')
    await mkdir(path.join(dir, '.claude/agents'), { recursive: true })
    for (const name of ['technical-writer', 'devops-engineer', 'python-engineer', 'python-specialist']) await cp(path.join(ROOT, 'agents', `${name}.md`), path.join(dir, `.claude/agents/${name}.md`))
    await mkdir(path.join(dir, 'datasets'))
    await writeFile(
      path.join(dir, 'datasets/general.csv'),
      casesCsv([
        ['g1', 'write the getting-started guide for the command line tool', 'technical-writer'],
        ['g2', 'turn these release notes into a changelog', 'technical-writer'],
        ['g3', 'terraform plan wants to destroy the vpc', 'devops-engineer'],
        ['g4', 'the github actions pipeline caches nothing between jobs', 'devops-engineer'],
        ['g5', 'type hints for a python dict of lists', 'python-specialist'],
        ['g6', 'what is the capital of peru', 'none'],
      ]),
    )
    await writeFile(
      path.join(dir, 'datasets/python.csv'),
      casesCsv([
        ['p1', 'a python script that renames photos by their exif date', 'python-engineer'],
        ['p2', 'my pandas groupby is slow on ten million rows', 'python-engineer'],
        ['p3', 'python asyncio gather swallows the first exception', 'python-specialist'],
        ['p4', 'a python metaclass that registers every subclass', 'python-specialist'],
        ['p5', 'python dataclass with slots and a frozen field', 'python-specialist'],
      ]),
    )
    await writeFile(path.join(dir, 'routecheck.config.json'), JSON.stringify({ agents: '.claude/agents', datasets: ['datasets/general.csv', 'datasets/python.csv'], router: 'lexical', out: 'reports/latest', gate }, null, 2))
    const baseline = await runInProcess(['baseline'], { cwd: dir })
    expect(baseline.code, baseline.stderr).toBe(0)
    return dir
  }
  const edit = async (dir: string, agent: string) => {
    const file = path.join(dir, `.claude/agents/${agent}.md`)
    await writeFile(file, (await readFile(file, 'utf8')).replace(/^(description: .*?)(")?$/m, '$1 Use it proactively.$2'))
  }
  const fixOf = (failures: GateJson['failures'], agent: string) => /: routecheck (generate .+?) drafts them/.exec(failures.find((f) => f.agents[0] === agent)?.fix ?? '')?.[1]

  it('an edited agent short of cases: the dataset with the most of its own, not the first read', async () => {
    const dir = await twoDatasetProject({ minChangedAgentCases: 10 })
    await edit(dir, 'python-specialist')
    await edit(dir, 'devops-engineer')
    const r = await runInProcess(['gate'], { cwd: dir })
    expect(r.code, r.stderr).toBe(1)
    const g = JSON.parse(await readFile(path.join(dir, 'reports/latest/general/gate.json'), 'utf8')) as GateJson
    // python-specialist has 1 case in general.csv and 3 in python.csv; devops-engineer's 2 are all in general.csv.
    expect(fixOf(g.failures, 'python-specialist')).toBe('generate --agent python-specialist --append --out datasets/python.csv')
    expect(fixOf(g.failures, 'devops-engineer')).toBe('generate --agent devops-engineer --append --out datasets/general.csv')
    expect(g.coverage.map((c) => [c.agent, c.addTo])).toEqual([['devops-engineer', 'datasets/general.csv'], ['python-specialist', 'datasets/python.csv']])
    expect(r.stdout).toContain('FAIL changed-agent-cases: python-specialist, which this change edits, has 4 cases of its own, fewer than minChangedAgentCases 10; add prompts labelled for python-specialist to a dataset: routecheck generate --agent python-specialist --append --out datasets/python.csv drafts them')
  })

  it('added agents with no case: the dataset of their near-duplicates\' cases, one command per dataset in the coverage block', async () => {
    const dir = await twoDatasetProject({ failOnNewNearDuplicates: false })
    await cp(path.join(ROOT, 'agents/python-backend-engineer.md'), path.join(dir, '.claude/agents/python-backend-engineer.md'))
    // A second writer: its description is the technical writer's, reworded at the start.
    const writer = (await readFile(path.join(dir, '.claude/agents/technical-writer.md'), 'utf8')).replace(/^name: .*$/m, 'name: docs-editor').replace('Use this agent when you need documentation written', 'Use this agent to copy-edit documentation')
    await writeFile(path.join(dir, '.claude/agents/docs-editor.md'), writer)
    const r = await runInProcess(['gate'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(
      "  fix: add prompts labelled for docs-editor and python-backend-engineer, each to the dataset holding the most of its cases (or of its near-duplicates'): routecheck generate --agent docs-editor --append --out datasets/general.csv and routecheck generate --agent python-backend-engineer --append --out datasets/python.csv draft them for you to review;",
    )
    const md = await readFile(path.join(dir, 'reports/latest/python/report.md'), 'utf8')
    expect(md).toContain('routecheck generate --agent python-backend-engineer --append --out datasets/python.csv')
  })
})
