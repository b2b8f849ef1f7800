import { cp, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseDataset } from '../src/load/dataset.js'
import { ROOT, runInProcess, tempDir, writeFiles } from './support/cli.js'

/** A repository as a team has it: agents in .claude/agents, some in a subfolder, and a README among them. */
async function repository(): Promise<string> {
  const dir = await tempDir()
  for (const name of ['code-reviewer', 'devops-engineer', 'security-auditor']) await cp(path.join(ROOT, 'agents', `${name}.md`), path.join(dir, '.claude/agents', `${name}.md`))
  for (const name of ['golang-pro', 'python-backend-engineer', 'python-engineer']) await cp(path.join(ROOT, 'agents', `${name}.md`), path.join(dir, '.claude/agents/lang', `${name}.md`))
  await writeFiles(dir, { '.claude/agents/README.md': '# Our agents\n\nHow we write them.\n', 'src/app.py': 'print("hi")\n' })
  return dir
}

describe('routecheck init', () => {
  it('in a repository with .claude/agents: writes the config and a starter dataset, prints the next three commands; eval then runs on them at once', async () => {
    const dir = await repository()
    const r = await runInProcess(['init'], { cwd: dir, env: { HOME: path.join(dir, 'nohome') } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('found 6 agents in .claude/agents (3 in subfolders); passed over .claude/agents/README.md')
    expect(r.stdout).toMatch(/wrote routecheck\/starter\.csv: 7 prompts from the <example> blocks of 3 of 6 agents \(tagged from-description\) and 6 out-of-scope prompts \(labelled none\)/)
    expect(r.stdout).toMatch(/next:\n {2}npx routecheck eval .*\n {2}npx routecheck generate --dry-run .*\n {2}npx routecheck generate .*\n$/)
    expect(r.stderr).toContain('warning: rows tagged from-description are the user turns')
    expect(JSON.parse(await readFile(path.join(dir, 'routecheck.config.json'), 'utf8'))).toEqual({ agents: '.claude/agents', datasets: ['routecheck/starter.csv'], router: 'lexical' })
    const starter = parseDataset('starter.csv', await readFile(path.join(dir, 'routecheck/starter.csv')), ['code-reviewer', 'devops-engineer', 'security-auditor', 'golang-pro', 'python-backend-engineer', 'python-engineer'])
    expect(starter.cases.filter((c) => c.tags.includes('from-description'))).toHaveLength(7)
    expect(starter.cases.filter((c) => c.expected[0] === 'none').map((c) => c.tags)).toEqual(Array(6).fill(['starter', 'out-of-scope']))

    const scored = await runInProcess(['eval'], { cwd: dir, columns: 80 })
    expect(scored.code, scored.stderr).toBe(0)
    expect(scored.stdout).toMatch(/^routecheck\/starter\.csv {2}· {2}router lexical {2}· {2}6 agents {2}· {2}13 cases/m)
    expect(scored.stdout).toMatch(/none recall [\d.]+ \(false delegation [\d.]+ on 6\)/)
    expect(scored.stderr).toContain('routecheck/starter.csv: 7 of 13 cases are tagged from-description')
  })

  it('never overwrites: a second init is exit 2 naming both files; --force replaces them', async () => {
    const dir = await repository()
    expect((await runInProcess(['init'], { cwd: dir })).code).toBe(0)
    await writeFiles(dir, { 'routecheck.config.json': '{"agents": "mine"}\n' })
    const again = await runInProcess(['init'], { cwd: dir })
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('routecheck.config.json: already exists; routecheck init never overwrites a file\n  fix: pass --force to replace it, or --config FILE to write elsewhere')
    expect(again.stderr).toContain('routecheck/starter.csv: already exists')
    expect(await readFile(path.join(dir, 'routecheck.config.json'), 'utf8')).toBe('{"agents": "mine"}\n')
    const forced = await runInProcess(['init', '--force'], { cwd: dir })
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stdout).toContain('replaced routecheck.config.json')
    expect(JSON.parse(await readFile(path.join(dir, 'routecheck.config.json'), 'utf8'))).toMatchObject({ agents: '.claude/agents' })
  })

  it('falls back to agents/; with neither folder it is exit 2 saying where it looked; --agents and --dataset choose', async () => {
    const plain = await tempDir()
    await cp(path.join(ROOT, 'agents'), path.join(plain, 'agents'), { recursive: true })
    const r = await runInProcess(['init'], { cwd: plain })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('found 15 agents in agents')

    const empty = await tempDir()
    const none = await runInProcess(['init'], { cwd: empty })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/no agents found here: neither \.claude\/agents nor agents is a folder\n {2}fix: run routecheck init in the repository root/)

    await writeFiles(empty, { 'team/a.md': '---\nname: a\ndescription: Answers questions about invoices and billing runs.\n---\n' })
    const chosen = await runInProcess(['init', '--agents', 'team', '--dataset', 'evals/routing.csv', '--config', 'config/routecheck.json'], { cwd: empty })
    expect(chosen.code, chosen.stderr).toBe(0)
    expect(chosen.stderr).toContain('no description has <example> blocks, so the starter dataset holds only the out-of-scope prompts')
    expect(JSON.parse(await readFile(path.join(empty, 'config/routecheck.json'), 'utf8'))).toEqual({ agents: '../team', datasets: ['../evals/routing.csv'], router: 'lexical' })
    const scored = await runInProcess(['eval', '--config', 'config/routecheck.json', '--json'], { cwd: empty })
    expect(scored.code, scored.stderr).toBe(0)
    expect((JSON.parse(scored.stdout) as { dataset: { cases: number } }).dataset.cases).toBe(6)
  })

  it("mentions the user's own ~/.claude/agents without putting it in the shared config", async () => {
    const dir = await repository()
    const home = path.join(dir, 'home')
    await writeFiles(home, { '.claude/agents/mine.md': '---\nname: mine\ndescription: My own helper for my own notes.\n---\n' })
    const r = await runInProcess(['init'], { cwd: dir, env: { HOME: home, CLAUDE_CONFIG_DIR: '' } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`note: ${path.join(home, '.claude/agents')} holds 1 agent of your own`)
    expect(JSON.parse(await readFile(path.join(dir, 'routecheck.config.json'), 'utf8')).agents).toBe('.claude/agents')
  })
})

/** Five people's takes on one Python backend role (three of them with <example> blocks), as .claude/agents of a fresh repository. */
async function pythonFive(): Promise<string> {
  const dir = await tempDir()
  for (const name of ['python-backend-architect', 'python-backend-engineer', 'python-backend-specialist', 'python-engineer', 'python-specialist']) {
    await cp(path.join(ROOT, 'agents', `${name}.md`), path.join(dir, '.claude/agents', `${name}.md`))
  }
  return dir
}

type FirstRun = {
  dataset: { cases: number; fromDescription?: number }
  perLabel: Array<{ label: string; precision: number; recall: number; f1: number; support: number; predicted: number }>
  cases: Array<{ id: string; expected: string[]; decision: string | null; tags: string[] }>
  overlap: {
    signals: string[]
    leftOut?: { fromDescription: number }
    pairs: Array<{ a: string; b: string; score: number; text: number; confusion?: number; evidence: { routedAcross?: Array<{ id: string }>; lowMargins?: string[] } }>
    clusters: Array<{ members: string[]; winsAlone?: Record<string, string[]>; advice: { action: string; evidence: string; prompts: number; right: number; fromDescription?: number; headline: string; lines: string[] } }>
  }
}

describe("the first run's numbers on init's starter", () => {
  it('five near-duplicate agents: the example prompts are no routing evidence, the accuracy says it is an upper bound, and an agent with no cases shows – not 0.00', async () => {
    const dir = await pythonFive()
    expect((await runInProcess(['init'], { cwd: dir, env: { HOME: path.join(dir, 'nohome') } })).code).toBe(0)
    const r = await runInProcess(['eval'], { cwd: dir, columns: 100 })
    expect(r.code, r.stderr).toBe(0)
    // The warning on stderr stays; the scorecard carries the caveat next to the accuracy.
    expect(r.stderr).toContain('routecheck/starter.csv: 9 of 15 cases are tagged from-description')
    expect(r.stdout).toMatch(/^accuracy [\d.]+ .*\n.*\n9 of 15 cases are tagged from-description: /m)
    expect(r.stdout.replace(/\s+/g, ' ')).toContain("9 of 15 cases are tagged from-description: the descriptions' own <example> prompts, which the router reads, so these figures are an upper bound")

    const summary = JSON.parse(await readFile(path.join(dir, 'reports/latest/starter/summary.json'), 'utf8')) as FirstRun
    expect(summary.dataset).toMatchObject({ cases: 15, fromDescription: 9 })
    expect(summary.cases.filter((c) => c.tags.includes('from-description'))).toHaveLength(9)

    // No routing evidence is left once the example prompts are out: the scores are the text scores, the advice that of the descriptions alone.
    const o = summary.overlap
    expect(o.leftOut).toEqual({ fromDescription: 9 })
    expect(o.signals).toEqual(['text'])
    for (const p of o.pairs) {
      expect(p.score).toBe(p.text)
      expect(p.confusion).toBeUndefined()
    }
    const [cluster] = o.clusters
    expect(cluster!.members).toHaveLength(5)
    expect(cluster!.winsAlone).toBeUndefined()
    expect(cluster!.advice).toMatchObject({ action: 'reword', evidence: 'descriptions', prompts: 0, right: 0, fromDescription: 9 })
    expect(cluster!.advice.headline).toBe('Reword: these 5 read alike; whether any should merge takes routing evidence.')
    expect(cluster!.advice.lines[0]).toMatch(/^evidence: the descriptions alone, no routing evidence yet: the 9 prompts of routecheck\/starter\.csv labelled for one of them are all tagged from-description, and the router reads them in the descriptions; draft prompts it has not seen \(routecheck generate, then review them\) or write your own/)
    const text = r.stdout.replace(/\s+/g, ' ')
    expect(text).toContain('routing signals and advice leave out 9 cases tagged from-description: the router reads their prompts in the descriptions')
    expect(text).toContain('no routing evidence yet')
    expect(text).not.toMatch(/told apart|shown confused|confusion 0\.00|wins alone/)

    // 0/0 is no figure: the two agents no case is labelled for or routed to.
    const empty = summary.perLabel.filter((l) => l.support === 0 && l.predicted === 0).map((l) => l.label)
    expect(empty.sort()).toEqual(['python-engineer', 'python-specialist'])
    for (const name of empty) {
      expect(r.stdout).toMatch(new RegExp(`│ ${name} +│ +– │ +– │ +– │ +0 │`))
      // summary.json keeps its numbers (DESIGN "Scoring"): 0 for 0/0.
      expect(summary.perLabel.find((l) => l.label === name)).toMatchObject({ precision: 0, recall: 0, f1: 0 })
    }

    const md = await readFile(path.join(dir, 'reports/latest/starter/report.md'), 'utf8')
    expect(md).toMatch(/\*\*accuracy [\d.]+\*\* .*\n\n⚠️ 9 of 15 cases are tagged from-description: .*these figures are an upper bound/)
    for (const name of empty) expect(md).toContain(`| ${name} | – | – | – | 0 |`)
    expect(md).toContain('no routing evidence yet')
    // The agents with figures come first, the two without last.
    const order = [...md.matchAll(/^\| (python-[a-z-]+) \|/gm)].map((m) => m[1])
    expect(order.slice(-2).sort()).toEqual(empty)

    // overlap RUN_DIR reads the tags back from summary.json and says the same.
    const again = await runInProcess(['overlap', 'reports/latest/starter', '--json'], { cwd: dir })
    expect(again.code, again.stderr).toBe(0)
    const report = JSON.parse(again.stdout) as FirstRun['overlap']
    expect(report.leftOut).toEqual({ fromDescription: 9 })
    expect(report.clusters[0]!.advice).toMatchObject({ evidence: 'descriptions', fromDescription: 9, headline: cluster!.advice.headline, lines: cluster!.advice.lines })
  })

  it("with the team's own prompts beside the examples: the advice and the run signals count only those, and say how many were left out", async () => {
    const dir = await pythonFive()
    expect((await runInProcess(['init'], { cwd: dir, env: { HOME: path.join(dir, 'nohome') } })).code).toBe(0)
    const own = [
      ['own-1', 'add pagination to the /orders endpoint in our FastAPI service', 'python-backend-engineer'],
      ['own-2', 'our celery workers keep losing tasks when redis restarts', 'python-specialist'],
      ['own-3', 'write a script that renames all the csv files in this folder by date', 'python-engineer'],
      ['own-4', 'design the service boundaries for splitting this django monolith', 'python-backend-architect'],
      ['own-5', 'serve this pytorch model behind an async endpoint with batching', 'python-backend-specialist'],
      ['own-6', 'pydantic v2 migration: validators stopped running on nested models', 'python-specialist'],
      ['own-7', 'the sqlalchemy session leaks connections under load in our API', 'python-backend-engineer'],
      ['own-8', 'numpy broadcasting error when I multiply these two arrays', 'python-engineer'],
    ]
    const csv = path.join(dir, 'routecheck/starter.csv')
    await writeFile(csv, `${await readFile(csv, 'utf8')}${own.map((row) => `${row.join(',')},mine,\n`).join('')}`)
    const r = await runInProcess(['eval'], { cwd: dir, columns: 100 })
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(await readFile(path.join(dir, 'reports/latest/starter/summary.json'), 'utf8')) as FirstRun
    expect(summary.dataset).toMatchObject({ cases: 23, fromDescription: 9 })
    const seen = new Set(summary.cases.filter((c) => c.tags.includes('from-description')).map((c) => c.id))
    const o = summary.overlap
    expect(o.leftOut).toEqual({ fromDescription: 9 })
    // No evidence list names an example prompt.
    for (const p of o.pairs) for (const id of [...(p.evidence.routedAcross ?? []).map((x) => x.id), ...(p.evidence.lowMargins ?? [])]) expect(seen.has(id), id).toBe(false)
    const [cluster] = o.clusters
    const members = new Set(cluster!.members)
    const counted = summary.cases.filter((c) => !seen.has(c.id) && members.has(c.expected[0]!) && c.decision !== null && members.has(c.decision))
    expect(counted.length).toBeGreaterThan(0)
    expect(cluster!.advice).toMatchObject({ evidence: 'dataset', prompts: counted.length, right: counted.filter((c) => c.decision === c.expected[0]).length, fromDescription: 9 })
    for (const wins of Object.values(cluster!.winsAlone ?? {})) for (const id of wins) expect(seen.has(id), id).toBe(false)
    expect(cluster!.advice.lines[0]).toMatch(new RegExp(`^evidence: ${counted.length} prompts? of routecheck/starter\\.csv labelled for one of the 5`))
    expect(cluster!.advice.lines[1]).toBe('left out: 9 more prompts of routecheck/starter.csv labelled for one of them, tagged from-description: the router reads them in the descriptions, so routed right they show only that it matches words it was shown')
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('left out: 9 more prompts of routecheck/starter.csv labelled for one of them, tagged from-description')

    // Beside a dataset of the team's own: the table of runs marks the starter's accuracy as an upper bound, and a dataset with no none prompt has no none recall.
    await writeFile(path.join(dir, 'own.csv'), `id,prompt,expected,tags,note\n${own.map((row) => `${row.join(',')},mine,\n`).join('')}`)
    const both = await runInProcess(['eval', '--dataset', 'routecheck/starter.csv', '--dataset', 'own.csv'], { cwd: dir, columns: 120 })
    expect(both.code, both.stderr).toBe(0)
    expect(both.stdout).toMatch(/│ routecheck\/starter\.csv +│ +23 │ +[\d.]+ \([\d.–]+\) † │ .* │ +1\.00 │/)
    expect(both.stdout).toMatch(/│ own\.csv +│ +8 │ +[\d.]+ \([\d.–]+\) │ .* │ +– │/)
    expect(both.stdout.replace(/\s+/g, ' ')).toContain('† an upper bound: 9 of 23 cases of routecheck/starter.csv are tagged from-description, prompts the router reads in the descriptions')
  })
})
