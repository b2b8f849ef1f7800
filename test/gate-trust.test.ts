import { appendFile, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, runInProcess as runCli, tempProject } from './support/cli.js'

/** A temp copy of the project with a baseline made by the lexical router. */
async function projectWithBaseline(): Promise<string> {
  const dir = await tempProject({ datasets: true })
  await writeFile(path.join(dir, 'routecheck.config.json'), await readFile(path.join(ROOT, 'routecheck.config.json')))
  const r = await runCli(['baseline'], { cwd: dir })
  expect(r.code, r.stderr).toBe(0)
  return dir
}

/** technical-writer's description replaced by one that no longer says what it does (the README's failing example). */
async function wreckTechnicalWriter(dir: string): Promise<void> {
  const file = path.join(dir, 'agents/technical-writer.md')
  const text = await readFile(file, 'utf8')
  const line = text.split('\n').find((l) => l.startsWith('description:'))!
  await writeFile(file, text.replace(line, 'description: Use this agent for general help with projects and files.'))
}

const FIVE_NEW = [
  'n1,write the upgrade guide for v3 of our SDK,technical-writer,,',
  'n2,my goroutines pile up under load and never exit,golang-pro,,',
  'n3,add an index so the orders report stops timing out,database-optimizer,,',
  'n4,the swiftui list stutters when scrolling,mobile-developer,,',
  'n5,what is the tallest mountain in africa,none,,',
]

describe('the gate on datasets that change with the agents', () => {
  it('a PR that adds five prompts and rewords one agent: compares the shared cases, shows the five apart, fails on the rewording alone', async () => {
    const reworded = await projectWithBaseline()
    await wreckTechnicalWriter(reworded)
    const alone = await runCli(['gate', '--dataset', 'datasets/routing.csv'], { cwd: reworded })

    const both = await projectWithBaseline()
    await wreckTechnicalWriter(both)
    await appendFile(path.join(both, 'datasets/routing.csv'), `${FIVE_NEW.join('\n')}\n`)
    const r = await runCli(['gate', '--dataset', 'datasets/routing.csv'], { cwd: both })

    expect(alone.code).toBe(1)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stdout).toMatch(/compared 352 case\(s\) the baseline shares; not compared: 5 new \(\d right, \d wrong\), 0 relabelled or reworded \(0 right, 0 wrong\), 0 removed/)
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) expect(r.stdout).toMatch(new RegExp(`${id}\\s*│\\s*new\\s*│`))
    // The verdict rests on the shared cases only: the same rules fail with and without the new prompts.
    const rules = (out: string) => [...out.matchAll(/^FAIL (\S+) /gm)].map((m) => m[1])
    expect(rules(r.stdout)).toEqual(rules(alone.stdout))
    expect(rules(r.stdout).length).toBeGreaterThan(0)
    const accuracy = (out: string) => /accuracy \d\.\d{3} → \d\.\d{3}/.exec(out)?.[0]
    expect(accuracy(r.stdout)).toBe(accuracy(alone.stdout))
  })

  it('a relabelled case is shown apart, not compared; a dataset sharing nothing with the baseline is refused', async () => {
    const dir = await projectWithBaseline()
    const file = path.join(dir, 'datasets/routing.csv')
    const csv = await readFile(file, 'utf8')
    const [header, first, ...rest] = csv.split('\n')
    const [id, ...fields] = first!.split(',')
    await writeFile(file, [header, [id, ...fields.slice(0, -1), 'none'].join(','), ...rest].join('\n'))
    const r = await runCli(['gate', '--dataset', 'datasets/routing.csv'], { cwd: dir })
    expect(r.stdout, r.stderr).toMatch(/compared 351 case\(s\) the baseline shares; not compared: 0 new .*, 1 relabelled or reworded/)

    await writeFile(file, 'id,prompt,expected\nz1,hello,none\n')
    const none = await runCli(['gate', '--dataset', 'datasets/routing.csv'], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/cannot compare: datasets\/routing\.csv shares no case with reports\/baseline\.json/)
  })

  it('the verdict says why in its first line', async () => {
    const dir = await projectWithBaseline()
    await wreckTechnicalWriter(dir)
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.stdout.split('\n')[0]).toMatch(/^FAIL: accuracy fell 2\.3% \(52\.3% → 50\.0%\), more than maxAccuracyDrop 2\.0%; 10 case\(s\) broke, mostly technical-writer, .* \(p = 0\.\d+\) \(\+2 more rule failures below\)$/)
    const clean = await projectWithBaseline()
    const pass = await runCli(['gate'], { cwd: clean })
    expect(pass.code).toBe(0)
    expect(pass.stdout.split('\n')[0]).toMatch(/^PASS: no rule failed on 490 compared case\(s\); accuracy held at 0\.\d{3} \(p = 1\.0\)$/)
  })
})

describe('verdictHeadline', () => {
  it('a failure while accuracy rose says "although", naming the case that broke', async () => {
    const { compareDataset, decideGate } = await import('../src/gate/compare.js')
    const { verdictHeadline } = await import('../src/report/gate-text.js')
    const mk = (id: string, expected: string, decision: string) => ({ id, expected: [expected], decision, votes: { [decision]: 1 }, split: false, flipped: false })
    // 48 cases: t34 breaks (api-designer), t40 and t41 get fixed: accuracy 33/48 → 34/48; McNemar(1, 2) = 1.
    const before = Array.from({ length: 48 }, (_, i) => mk(`t${i}`, 'a', i < 32 || i === 34 ? 'a' : 'b'))
    const after = before.map((c) => (c.id === 't34' ? mk('t34', 'a', 'api-designer') : c.id === 't40' || c.id === 't41' ? mk(c.id, 'a', 'a') : c))
    const base = { path: 'd.csv', fingerprint: 'x', repeats: 1, metrics: { accuracy: 0, primaryAccuracy: 0, macroF1: 0, errored: 0 }, cases: before.map((c) => ({ ...c, correct: c.decision === 'a' })) }
    const comparison = compareDataset(base, after, ['a', 'b', 'api-designer'])
    const verdict = decideGate([comparison], [], { maxAccuracyDrop: 0.02, maxAgentF1Drop: 0.5, minSupport: 5, maxStableFlips: 0, failOnNewNearDuplicates: true, minChangedAgentCases: 0 })
    const line = verdictHeadline({ baselineFile: 'b.json', routerId: 'lexical', changes: { changed: [], added: [], removed: [], invalid: [] }, comparisons: [comparison], verdict, coverage: [] })
    expect(line).toBe('FAIL: 1 case that routed right now routes wrong (t34 → api-designer), although accuracy rose 0.688 → 0.708 (p = 1.0)')
  })
})

describe('a baseline is checked like any other input: every tampering fails or refuses, never passes', () => {
  type Base = { datasets: Array<{ path: string; repeats: number; cases: Array<{ id: string; expected: string[]; decision: string | null; votes: Record<string, number> }>; metrics: { accuracy: number; errored: number } }> }
  const readBase = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'reports/baseline.json'), 'utf8')) as Base
  const writeBase = (dir: string, b: Base) => writeFile(path.join(dir, 'reports/baseline.json'), JSON.stringify(b, null, 2))

  it("technical-writer's cases cut from the baseline while its description is wrecked: the honest baseline fails, the cut one is refused", async () => {
    const dir = await projectWithBaseline()
    await wreckTechnicalWriter(dir)
    const honest = await runCli(['gate'], { cwd: dir })
    expect(honest.code).toBe(1)
    expect(honest.stdout).toMatch(/FAIL agent-f1-drop \(datasets\/routing\.csv\): technical-writer/)

    const b = await readBase(dir)
    for (const d of b.datasets) d.cases = d.cases.filter((c) => !c.expected.includes('technical-writer'))
    await writeBase(dir, b)
    const cut = await runCli(['gate'], { cwd: dir })
    expect(cut.code).toBe(2)
    expect(cut.stderr).toMatch(/reports\/baseline\.json:\d+:\d+: "datasets\.0\.cases": the cases of datasets\/routing\.csv are not the ones this baseline recorded/)

    // Cut cases and a recomputed-looking fingerprint removed: the recorded accuracy still gives it away.
    for (const d of b.datasets) delete (d as { casesFingerprint?: string }).casesFingerprint
    await writeBase(dir, b)
    const unsigned = await runCli(['gate'], { cwd: dir })
    expect(unsigned.code).toBe(2)
    expect(unsigned.stderr).toMatch(/"datasets\.0\.metrics\.accuracy": the cases of datasets\/routing\.csv give accuracy 0\.\d{4}, not the recorded 0\.\d{4}/)
  })

  it.each([
    ['no datasets', (b: Base) => void (b.datasets = []), /"datasets": a baseline needs at least one dataset/],
    ['repeats 50 000', (b: Base) => void (b.datasets[0]!.repeats = 50_000), /"datasets\.0\.repeats": Too big: expected number to be <=50/],
    ['repeats 1e9', (b: Base) => void (b.datasets[0]!.repeats = 1e9), /"datasets\.0\.repeats": Too big/],
  ])('%s: exit 2 with the place', async (_what, tamper, message) => {
    const dir = await projectWithBaseline()
    const b = await readBase(dir)
    tamper(b)
    await writeBase(dir, b)
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).toMatch(/reports\/baseline\.json:\d+/)
  })

  it('decisions naming an agent that never existed are refused, not counted as fixed', async () => {
    const dir = await projectWithBaseline()
    const b = await readBase(dir)
    const victim = b.datasets[0]!.cases.find((c) => c.decision === c.expected[0])!
    victim.decision = 'ghost-agent'
    victim.votes = { 'ghost-agent': 1 }
    await writeBase(dir, b)
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(new RegExp(`case "${victim.id}" names "ghost-agent", an agent this baseline's agent list never had`))
  })

  it('an interrupted run is no baseline: `baseline RUN_DIR` and a baseline with undecided cases are refused, unless --allow-incomplete, which the verdict states', async () => {
    const dir = await projectWithBaseline()
    await writeFile(
      path.join(dir, 'flaky-router.mjs'),
      `let n = 0
export default () => ({ id: 'lexical', deterministic: true, async route(prompt) { if (n++ % 3 === 0) throw new Error('connection reset'); return { agent: 'none', latencyMs: 1 } } })
`,
    )
    const run = await runCli(['eval', '--router', './flaky-router.mjs', '--dataset', 'datasets/routing.csv', '--out', 'interrupted'], { cwd: dir })
    expect(run.code).toBe(3)
    const fromRun = await runCli(['baseline', 'interrupted', '--baseline', 'reports/cut.json'], { cwd: dir })
    expect(fromRun.code).toBe(2)
    expect(fromRun.stderr).toMatch(/interrupted\/summary\.json: \d+ of 352 cases have no decision/)

    const b = await readBase(dir)
    for (const c of b.datasets[0]!.cases.slice(0, 100)) {
      c.decision = null
      c.votes = {}
    }
    b.datasets[0]!.metrics.errored = 100
    for (const d of b.datasets) delete (d as { casesFingerprint?: string }).casesFingerprint
    const decided = b.datasets[0]!.cases.filter((c) => c.decision !== null)
    b.datasets[0]!.metrics.accuracy = decided.filter((c) => c.expected.includes(c.decision!)).length / decided.length
    await writeBase(dir, b)
    const refused = await runCli(['gate'], { cwd: dir })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/100 of 352 cases of datasets\/routing\.csv have no decision/)
    const allowed = await runCli(['gate', '--allow-incomplete'], { cwd: dir })
    expect(allowed.code).toBe(0)
    expect(allowed.stdout.split('\n')[0]).toMatch(/^PASS: no rule failed on 390 compared case\(s\).*\[baseline incomplete: 100 undecided case\(s\) not compared, allowed by --allow-incomplete\]$/)
  })

  it('--repeats beats the baseline for the gate', async () => {
    const dir = await projectWithBaseline()
    const r = await runCli(['gate', '--repeats', '2', '--out', 'twice', '--dataset', 'datasets/python-backend.csv'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(await readFile(path.join(dir, 'twice/summary.json'), 'utf8')) as { repeats: number }
    expect(s.repeats).toBe(2)
  })
})

describe('untrusted text never reaches a control channel', () => {
  it('an agent name carrying terminal escapes, HTML and a line break: escaped in annotations and report.md, stripped from what is printed', async () => {
    const dir = await projectWithBaseline()
    // Names cannot hold ":" (Claude Code keeps it for plugin agents), so a name cannot spell a workflow command itself.
    const hostile = 'go-helper\n%0A\u001b]0;owned\u0007\u001b[2J|<img src=x onerror=alert(1)>'
    await writeFile(
      path.join(dir, 'agents/go-helper.md'),
      `---\nname: ${JSON.stringify(hostile)}\ndescription: ${JSON.stringify((await readFile(path.join(dir, 'agents/golang-pro.md'), 'utf8')).split('\n').find((l) => l.startsWith('description:'))!.slice(13))}\n---\nbody\n`,
    )
    const r = await runCli(['gate', '--dataset', 'datasets/python-backend.csv', '--out', 'out'], { cwd: dir, env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md') } })
    expect(r.code, r.stderr).toBe(1)
    const commands = r.stdout.split('\n').filter((l) => l.startsWith('::'))
    expect(commands.length).toBeGreaterThan(0)
    for (const c of commands) expect(c).toMatch(/^::(error|warning) file=agents\/go-helper\.md,line=\d+,title=routecheck gate%3A [a-z -]+::[^\n]*$/)
    // The added agent has no case of its own: a warning, its name escaped as in the errors.
    expect(commands.find((c) => c.startsWith('::warning'))).toContain('::go-helper%0A%250A]0;owned[2J|<img src=x onerror=alert(1)>, which this change adds, has no case of its own')
    // The name's line break and its literal "%0A" are escaped, so the message stays one line and decodes to what the name said.
    expect(commands.find((c) => c.includes('new-near-duplicate'))).toContain('go-helper%0A%250A]0;owned[2J|<img src=x onerror=alert(1)>')
    expect(r.stdout + r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
    const md = await readFile(path.join(dir, 'summary.md'), 'utf8')
    expect(md).not.toContain('<img')
    expect(md).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(md).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/)
  })

  it('under GitHub Actions no printed line can act as a workflow command: a file name spelling one is made inert', async () => {
    const dir = await projectWithBaseline()
    await writeFile(path.join(dir, 'agents', 'x\n::warning title=pwned::owned.md'), '---\nname: broken\n---\n')
    const r = await runCli(['eval', '--dataset', 'datasets/python-backend.csv', '--out', 'out'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } })
    expect(r.code).toBe(2)
    expect(r.stderr + r.stdout).not.toMatch(/^\s*::warning/m)
    expect(r.stderr).toMatch(/^:\u200b:warning title=pwned::owned\.md/m)
  })
})
