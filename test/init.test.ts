import { cp, readFile } from 'node:fs/promises'
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
