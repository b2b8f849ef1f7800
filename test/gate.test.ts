import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { ROOT, runInProcess as runCli, tempDir, tempProject, writeFiles } from './support/cli.js'
import { startMessagesServer, type MessagesServer } from './support/messages-server.js'

/** A temp copy of the project with a committed-style baseline made by the lexical router. */
async function projectWithBaseline(): Promise<string> {
  const dir = await tempProject({ datasets: true })
  await writeFile(path.join(dir, 'routecheck.config.json'), await readFile(path.join(ROOT, 'routecheck.config.json')))
  const r = await runCli(['baseline'], { cwd: dir })
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout).toMatch(/wrote reports\/baseline\.json: router lexical, 15 agents, 2 dataset\(s\), 490 cases/)
  return dir
}

async function editAgent(dir: string, name: string, edit: (text: string) => string): Promise<void> {
  const file = path.join(dir, 'agents', `${name}.md`)
  await writeFile(file, edit(await readFile(file, 'utf8')))
}

const descriptionLine = (text: string) => text.split('\n').find((l) => l.startsWith('description:'))!

describe('routecheck gate on a copy of agents/', () => {
  it('blanking a distinct role’s description fails, naming the agent', async () => {
    const dir = await projectWithBaseline()
    await editAgent(dir, 'golang-pro', (t) => t.replace(descriptionLine(t), 'description: ""'))
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/removed: golang-pro/)
    expect(r.stdout).toMatch(/agents\/golang-pro\.md:\d+ would be dropped by Claude Code/)
    expect(r.stdout).toMatch(/FAIL agent-f1-drop \(datasets\/routing\.csv\): golang-pro: F1 fell 0\.\d\d → 0\.00/)
    expect(r.stdout).toMatch(/FAIL stable-flips .*golang-pro →/)
    expect(r.stdout).toMatch(/gate: FAILED/)
  })

  it('swapping two descriptions fails, naming both agents', async () => {
    const dir = await projectWithBaseline()
    const go = await readFile(path.join(dir, 'agents/golang-pro.md'), 'utf8')
    const mobile = await readFile(path.join(dir, 'agents/mobile-developer.md'), 'utf8')
    await editAgent(dir, 'golang-pro', (t) => t.replace(descriptionLine(t), descriptionLine(mobile)))
    await editAgent(dir, 'mobile-developer', (t) => t.replace(descriptionLine(t), descriptionLine(go)))
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/agents changed: golang-pro, mobile-developer/)
    const f1Drops = [...r.stdout.matchAll(/FAIL agent-f1-drop \(datasets\/routing\.csv\): ([a-z-]+):/g)].map((m) => m[1])
    expect(f1Drops).toEqual(expect.arrayContaining(['golang-pro', 'mobile-developer']))
  })

  it('an agent copying another’s description under a new name fails as a new near-duplicate pair', async () => {
    const dir = await projectWithBaseline()
    const go = await readFile(path.join(dir, 'agents/golang-pro.md'), 'utf8')
    await writeFile(path.join(dir, 'agents/go-services-expert.md'), go.replace('name: golang-pro', 'name: go-services-expert'))
    const r = await runCli(['gate'], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/added: go-services-expert/)
    expect(r.stdout).toMatch(/FAIL new-near-duplicate: the edit to go-services-expert made go-services-expert and golang-pro near-duplicates: text 0\.9\d \(a new pair/)
    // The annotation lands on the file the pull request added.
    expect(r.stdout).toMatch(/^::error file=agents\/go-services-expert\.md,line=3,title=routecheck gate%3A new-near-duplicate::/m)
  })

  it('a body-only or whitespace-only edit passes; with --only-if-changed it sends nothing', async () => {
    const dir = await projectWithBaseline()
    await editAgent(dir, 'golang-pro', (t) => `${t}\n## More notes for the agent\nPrefer table-driven tests.\n`)
    await editAgent(dir, 'security-auditor', (t) => t.replace(descriptionLine(t), `${descriptionLine(t).replace('. ', '.   ')}   `))
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/agents changed: — · added: — · removed: —/)
    expect(r.stdout).toMatch(/gate: passed/)
    const quick = await runCli(['gate', '--only-if-changed'], { cwd: dir })
    expect(quick.code).toBe(0)
    expect(quick.stdout).toMatch(/no agent's routing fields .* and no dataset changed since reports\/baseline\.json; nothing sent/)
    // A changed dataset is not skipped: the gate runs, comparing the cases the baseline shares and showing the new one apart.
    const csv = path.join(dir, 'datasets/routing.csv')
    await writeFile(csv, (await readFile(csv, 'utf8')).replace('r001,', 'r001b,'))
    const dataChanged = await runCli(['gate', '--only-if-changed'], { cwd: dir })
    expect(dataChanged.code, dataChanged.stderr).toBe(0)
    expect(dataChanged.stdout).toMatch(/compared 351 case\(s\) the baseline shares; not compared: 1 new \(\d right, \d wrong\), 0 relabelled or reworded \(0 right, 0 wrong\), 1 removed/)
  })

  it('a genuine improvement passes, with its fixes listed', async () => {
    const dir = await projectWithBaseline()
    await editAgent(dir, 'data-scientist', (t) =>
      t.replace('description: ', 'description: Data analysis with notebooks and statistics: cohort retention, churn, significance of an experiment, a regression or forecast, a chart of the numbers. '),
    )
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toMatch(/accuracy 0\.523 → 0\.5\d\d \(\+0\.0\d\d.*0 broke, [1-9]\d* fixed/)
    expect(r.stdout).toMatch(/wrong → right/)
    const md = await readFile(path.join(dir, 'reports/latest/routing/report.md'), 'utf8')
    expect(md).toMatch(/^## ✅ Routing gate passed/)
    expect(md).toContain('### datasets/routing.csv: before / after')
    expect(Buffer.byteLength(md)).toBeLessThan(60_000)
    const junit = await readFile(path.join(dir, 'reports/latest/routing/junit.xml'), 'utf8')
    expect(junit).toMatch(/<testsuites name="routecheck" tests="352" failures="\d+" errors="0">/)
    expect(junit).toContain('<testsuite name="routing · golang-pro"')
  })

  it('refuses to compare another router or a dataset sharing no case with the baseline (exit 2, saying which)', async () => {
    const dir = await projectWithBaseline()
    await writeFiles(dir, { 'r.mjs': "export default () => ({ id: 'other', deterministic: true, async route() { return { agent: 'none', latencyMs: 0 } } })\n" })
    const router = await runCli(['gate', '--router', './r.mjs'], { cwd: dir })
    expect(router.code).toBe(2)
    expect(router.stderr).toMatch(/made with router lexical, this run uses other/)
    const csv = path.join(dir, 'datasets/python-backend.csv')
    await writeFile(csv, (await readFile(csv, 'utf8')).replace('pb001,', 'pb001x,'))
    await writeFile(csv, 'id,prompt,expected\nonly1,hello there,none\n')
    const data = await runCli(['gate'], { cwd: dir })
    expect(data.code).toBe(2)
    expect(data.stderr).toMatch(/cannot compare: datasets\/python-backend\.csv shares no case with reports\/baseline\.json/)
    const missing = await runCli(['gate', '--baseline', 'nope.json'], { cwd: dir })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^nope\.json: the baseline file does not exist/m)
  })
})

describe('the gate on a three-agent catalogue', () => {
  it("an agent with no case before shows F1 – (not 0.00) in the before/after; the run's from-description count rides in report.md", async () => {
    const dir = await tempDir()
    await writeFiles(dir, {
      'agents/billing.md': '---\nname: billing\ndescription: Invoices, billing runs and payment reminders for customers.\n---\n',
      'agents/shipping.md': '---\nname: shipping\ndescription: Shipping labels, parcel tracking and courier pickups.\n---\n',
      'agents/returns.md': '---\nname: returns\ndescription: Warehouse stock counts and shelf audits.\n---\n',
      // c3 accepts returns second: nothing routes to returns and nothing is credited to it until its description covers the prompt.
      'cases.csv': 'id,prompt,expected,tags,note\nc1,resend the invoice reminder for the March billing run,billing,,\nc2,print a shipping label and book a courier pickup for parcel 42,shipping,from-description,\nc3,my money back for order 7 never arrived,billing|returns,,\n',
      'routecheck.config.json': JSON.stringify({ agents: 'agents', datasets: ['cases.csv'], router: 'lexical', lexical: { noneThreshold: 0.5 } }),
    })
    expect((await runCli(['baseline'], { cwd: dir })).code).toBe(0)
    await editAgent(dir, 'returns', (t) => t.replace('description: ', 'description: Money back for an order that never arrived; '))
    const r = await runCli(['gate'], { cwd: dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/│ returns +│ +0 │ +– │ +1\.00 │ +\+1\.00 │/)
    const md = await readFile(path.join(dir, 'reports/latest/cases/report.md'), 'utf8')
    expect(md).toContain('| returns | 0 | – | 1.00 | +1.00 | – → 1.00 |')
    expect(md).toContain("⚠️ 1 of 3 cases are tagged from-description: the descriptions' own &lt;example&gt; prompts, which the router reads, so these figures are an upper bound")
    const html = await readFile(path.join(dir, 'reports/latest/cases/report.html'), 'utf8')
    expect(html).toMatch(/<th scope="row" class="agent">returns<\/th><td class="num">0<\/td><td class="num">–<\/td><td class="num">1\.00<\/td>/)
  })
})

describe('the gate and a noisy router', () => {
  it('ten gate runs on an unchanged catalogue at --repeats 3 never fail, and the coin-toss cases are marked flaky', async () => {
    const dir = await tempProject()
    const coins = ['c03', 'c07', 'c11', 'c15']
    const rows = Array.from({ length: 20 }, (_, i) => {
      const id = `c${String(i + 1).padStart(2, '0')}`
      return `${id},${coins.includes(id) ? 'coin' : 'sure'} prompt ${id},golang-pro`
    })
    await writeFiles(dir, {
      'cases.csv': `id,prompt,expected\n${rows.join('\n')}\n`,
      'routecheck.config.json': JSON.stringify({ datasets: ['cases.csv'], router: './coin-router.mjs', repeats: 3 }),
      // A model-like router: certain about most prompts, a fair coin between two agents on some.
      'coin-router.mjs': `let state = Number(process.env.COIN_SEED ?? 1) >>> 0
const random = () => { state = (state * 1664525 + 1013904223) >>> 0; return state / 2 ** 32 }
export default () => ({
  id: 'coin',
  async route(prompt) {
    const agent = prompt.startsWith('coin') && random() < 0.5 ? 'golang-pro-rival' : 'golang-pro'
    return { agent: agent === 'golang-pro-rival' ? 'code-reviewer' : agent, latencyMs: 1 }
  },
})
`,
    })
    const base = await runCli(['baseline'], { cwd: dir, env: { COIN_SEED: '12345' } })
    expect(base.code, base.stderr).toBe(0)
    const flaggedFlaky = new Set<string>()
    for (let run = 1; run <= 10; run++) {
      const r = await runCli(['gate'], { cwd: dir, env: { COIN_SEED: String(run * 7919) } })
      expect(r.code, `run ${run}:\n${r.stdout}`).toBe(0)
      const gate = JSON.parse(await readFile(path.join(dir, 'reports/latest/cases/gate.json'), 'utf8'))
      for (const id of gate.comparison.flaky) flaggedFlaky.add(id)
      expect(gate.comparison.flaky.every((id: string) => coins.includes(id))).toBe(true)
    }
    expect([...flaggedFlaky].sort()).toEqual(coins)
  })
})

describe('the CI workflow', () => {
  it('parses as YAML and calls only commands that exist (the gate runs in the action it uses)', async () => {
    const text = await readFile(path.join(ROOT, '.github/workflows/routing-gate.yml'), 'utf8')
    const wf = parseYaml(text)
    expect(Object.keys(wf.on)).toContain('pull_request')
    expect(wf.on.pull_request.paths).toEqual(expect.arrayContaining(['agents/**', 'datasets/**']))
    const steps: any[] = Object.values(wf.jobs).flatMap((job: any) => job.steps)
    expect(steps.some((s) => s.uses === './')).toBe(true)
    const action = parseYaml(await readFile(path.join(ROOT, 'action.yml'), 'utf8'))
    const runs: string[] = [...steps, ...action.runs.steps].filter((s: any) => s.run).map((s: any) => s.run as string)
    const commands = [...runs.join('\n').matchAll(/npx routecheck (\w+)|^args=\((\w+)\)/gm)].map((m) => m[1] ?? m[2]!)
    expect(commands).toEqual(expect.arrayContaining(['gate', 'comment']))
    const help = await runCli(['--help'])
    for (const c of commands) expect(help.stdout).toContain(`  ${c} `)
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'))
    for (const script of runs.join('\n').match(/npm run (\S+)/g) ?? []) expect(pkg.scripts).toHaveProperty(script.split(' ')[2]!)
  })
})

let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('--only-if-changed with a model router', () => {
  it('sends nothing when only an agent body changed, and runs when a description changed', async () => {
    const dir = await tempProject()
    server = await startMessagesServer({ models: ['claude-haiku-4-5'] })
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'k' }
    await writeFiles(dir, {
      'cases.csv': 'id,prompt,expected\nc1,goroutine leak in the grpc server go,golang-pro\nc2,swiftui list scrolls slowly on iphone,mobile-developer\n',
      'routecheck.config.json': JSON.stringify({ datasets: ['cases.csv'], router: 'anthropic' }),
    })
    expect((await runCli(['baseline'], { cwd: dir, env })).code).toBe(0)
    const sentForBaseline = server.requests.length
    expect(sentForBaseline).toBe(6)
    await editAgent(dir, 'golang-pro', (t) => `${t}\nExtra body text.\n`)
    const r = await runCli(['gate', '--only-if-changed'], { cwd: dir, env })
    expect(r.code).toBe(0)
    expect(server.requests.length).toBe(sentForBaseline)
    await editAgent(dir, 'golang-pro', (t) => t.replace('description: ', 'description: Go and gRPC. '))
    const changed = await runCli(['gate', '--only-if-changed'], { cwd: dir, env })
    expect(changed.stdout).toMatch(/agents changed: golang-pro/)
    expect(server.requests.length).toBeGreaterThan(sentForBaseline)
  })
})
