import { mkdir, readFile, rename } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli as runBuiltCli, runInProcess as runCli, tempProject, writeFiles } from './support/cli.js'

const CASES = 'id,prompt,expected,tags\nc1,my terraform plan wants to destroy the prod kubernetes cluster,devops-engineer,devops\nc2,what is the capital of peru,none,oos\nc3,goroutine leak in my grpc server,golang-pro,go\n'

describe('routecheck eval', () => {
  it('prints the scorecard on stdout, progress on stderr, and writes the run folder', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': CASES })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/accuracy \d\.\d\d \[95% \d\.\d\d–\d\.\d\d\]/)
    expect(r.stdout).toContain('none (no subagent)')
    expect(r.stdout).not.toContain('wrote')
    expect(r.stderr).toContain('wrote run/ (summary.json, results.jsonl, report.html, report.md, junit.xml)')
    const results = (await readFile(path.join(dir, 'run/results.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(results.map((x) => x.id)).toEqual(['c1', 'c2', 'c3'])
    expect(Object.keys(results[0].scores)).toHaveLength(15)
  })

  it('a dataset with no prompt labelled none says none recall is not measured, rather than 0.00', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': CASES.split('\n').filter((l) => !l.includes(',none,')).join('\n') })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('none recall — (no prompt labelled none)')
    expect(r.stdout).not.toMatch(/none recall 0\.00/)
    expect(await readFile(path.join(dir, 'run/report.md'), 'utf8')).toContain('none recall — (no prompt labelled none)')
  })

  it('--json prints summary.json exactly as written to the run folder', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': CASES })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run', '--json'], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(await readFile(path.join(dir, 'run/summary.json'), 'utf8'))
    const s = JSON.parse(r.stdout)
    expect(s).toMatchObject({ schemaVersion: 1, router: { id: 'lexical' }, repeats: 1, dataset: { cases: 3, path: 'cases.csv' } })
    expect(s.dataset.fingerprint).toMatch(/^[0-9a-f]{64}$/)
    expect(s.agents[0]).toMatchObject({ name: 'code-reviewer', file: 'agents/code-reviewer.md', fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/), description: expect.stringMatching(/^Use this agent/) })
    expect(s.cases[0].prompt).toMatch(/terraform plan/)
  })

  it('runs every dataset of the config into OUT/<stem>/ and flags override the config', async () => {
    const dir = await tempProject()
    await writeFiles(dir, {
      'a.csv': CASES,
      'b.jsonl': '{"id":"j1","prompt":"make the README clearer","expected":["technical-writer"]}\n',
      'routecheck.config.json': JSON.stringify({ datasets: ['a.csv', 'b.jsonl'], out: 'runs', repeats: 2 }),
    })
    const r = await runCli(['eval', '--repeats', '1'], { cwd: dir })
    expect(r.code).toBe(0)
    const a = JSON.parse(await readFile(path.join(dir, 'runs/a/summary.json'), 'utf8'))
    const b = JSON.parse(await readFile(path.join(dir, 'runs/b/summary.json'), 'utf8'))
    expect([a.dataset.cases, b.dataset.cases, a.repeats]).toEqual([3, 1, 1])
    expect(r.stdout).toMatch(/a\.csv.*\n(.*\n)*.*b\.jsonl/)
  })

  it.each([
    [['eval', '--repeats', 'two'], /--repeats takes a whole number/],
    [['eval', '--concurrency', '0'], /--concurrency must be at least 1/],
    [['eval', '--style', 'fancy'], /--style takes claude-code or (template or )?classifier/],
    [['eval', '--datset', 'x.csv'], /unknown flag --datset: did you mean --dataset\?/],
    [['eval', '--router', 'gpt'], /unknown router "gpt"/],
    [['evaluate'], /unknown command "evaluate"/],
    [['eval', 'extra'], /unexpected argument "extra"/],
  ])('usage error %j → exit 2', async (args, message) => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': CASES })
    const r = await runCli([...args, '--dataset', 'cases.csv'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('a bad config names the file, line and key, with a did-you-mean', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'routecheck.config.json': '{\n  "agents": "agents",\n  "concurency": 4,\n  "gate": { "minSupport": -1 }\n}\n' })
    const r = await runCli(['eval'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/routecheck\.config\.json:3:\d+: unknown key "concurency" \(did you mean "concurrency"\?\)/)
    expect(r.stderr).toMatch(/routecheck\.config\.json:4:\d+: "gate\.minSupport": /)
    await writeFiles(dir, { 'routecheck.config.json': '{ "agents": "agents", }' })
    const syntax = await runCli(['eval'], { cwd: dir })
    expect(syntax.code).toBe(2)
    expect(syntax.stderr).toMatch(/routecheck\.config\.json:1:\d+: not valid JSON/)
  })

  it("with no config and no agents/ folder, takes Claude Code's .claude/agents (subfolders too) and passes over a README", async () => {
    const dir = await tempProject()
    await rename(path.join(dir, 'agents'), path.join(dir, '.claude-agents-tmp'))
    await mkdir(path.join(dir, '.claude'), { recursive: true })
    await rename(path.join(dir, '.claude-agents-tmp'), path.join(dir, '.claude/agents'))
    await mkdir(path.join(dir, '.claude/agents/go'), { recursive: true })
    await rename(path.join(dir, '.claude/agents/golang-pro.md'), path.join(dir, '.claude/agents/go/golang-pro.md'))
    await writeFiles(dir, { 'cases.csv': CASES, '.claude/agents/README.md': '# Team agents\n' })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run', '--json'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('note: .claude/agents/README.md is not an agent file (no frontmatter); passed over, as Claude Code does')
    const s = JSON.parse(r.stdout) as { agents: Array<{ name: string; file: string }> }
    expect(s.agents).toHaveLength(15)
    expect(s.agents.find((a) => a.name === 'golang-pro')!.file).toBe('.claude/agents/go/golang-pro.md')
  })

  it('--help for the tool and for eval', async () => {
    const top = await runBuiltCli(['--help'])
    expect(top.code).toBe(0)
    expect(top.stdout).toContain('Exit codes: 0 ok')
    const ev = await runBuiltCli(['eval', '--help'])
    expect(ev.code).toBe(0)
    expect(ev.stdout).toContain('--skip-invalid')
  })
})
