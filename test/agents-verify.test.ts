import { cp } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildCatalogue, parseAgentFile, type Agent } from '../src/load/catalogue.js'
import { bundledClaudeBinary } from '../src/route/claude-code/engine.js'
import { diffListings } from '../src/run/verify-agents.js'
import { ROOT, runInProcess, tempDir, writeFiles } from './support/cli.js'

const available = bundledClaudeBinary() !== undefined
const mustRun = process.platform === 'linux' && process.arch === 'x64'

/** Files that test the loader where Claude Code's rules are subtle. */
const TRICKY: Record<string, string> = {
  'README.md': '# Our agents\n\nNotes for humans, no frontmatter.\n',
  'team/nested.md': '---\nname: nested-helper\ndescription: Helps with things kept in a subfolder.\n---\nbody\n',
  'team/deeper/deep.md': '---\nname: deep-helper\ndescription: Lives two folders down.\n---\nbody\n',
  'no-description.md': '---\nname: no-description\ncolor: blue\n---\nbody\n',
  'never-closed.md': '---\nname: never-closed\ndescription: The frontmatter never ends.\n',
  'colon.md': '---\nname: plugin:thing\ndescription: A name with a colon.\n---\nbody\n',
  'upper.MD': '---\nname: upper-ext\ndescription: Upper-case extension.\n---\nbody\n',
  'notes.txt': '---\nname: text-file\ndescription: Not Markdown.\n---\nbody\n',
  'empty-desc.md': '---\nname: empty-desc\ndescription: ""\n---\nbody\n',
  'other-file.md': '---\nname: File-Name-Differs\ndescription: The name differs from the file name.\n---\nbody\n',
  'dash.md': '---\nname: dash-inside\ndescription: foo---bar is where Claude Code stops reading\n---\nbody\n',
  'crlf.md': '---\r\nname: crlf-agent\r\ndescription: Written on Windows.\r\n---\r\nbody\r\n',
}

describe.skipIf(!available && !mustRun)('routecheck agents --verify: the loader agrees with Claude Code', () => {
  it('on the bundled agents and on a folder of tricky files (the three non-strict seeds, dropped files, subfolders, a README): the diff is empty', async () => {
    const bundled = await runInProcess(['agents', '--verify', '--json'])
    expect(bundled.code, bundled.stderr).toBe(0)
    const b = JSON.parse(bundled.stdout) as { verify: { agree: boolean; builtins: string[] } }
    expect(b.verify.agree).toBe(true)
    expect(b.verify.builtins).toEqual(expect.arrayContaining(['Explore', 'general-purpose', 'Plan']))

    const dir = await tempDir()
    await writeFiles(path.join(dir, 'tricky'), TRICKY)
    for (const seed of ['python-backend-engineer', 'python-backend-architect', 'python-backend-specialist']) await cp(path.join(ROOT, 'agents', `${seed}.md`), path.join(dir, 'tricky', `${seed}.md`))
    const r = await runInProcess(['agents', '--agents', 'tricky', '--verify'], { cwd: dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain('verify: the same agents with the same descriptions. diff: empty')
    expect(r.stdout).toMatch(/8 loaded · 4 dropped · 1 not agent files/)
    expect(r.stdout).toMatch(/dash-inside .* loaded; its description ends at the `---` on line 3/)
    expect(r.stdout).toMatch(/tricky\/README\.md .* skipped: not an agent file/)
  })

  it("a project's .claude/agents and a private HOME's ~/.claude/agents defining one name: Claude Code lists the project's, as routecheck does (empty diff)", async () => {
    const dir = await tempDir()
    const home = path.join(dir, 'home')
    const agent = (name: string, description: string) => `---\nname: ${name}\ndescription: ${description}\n---\nbody\n`
    await writeFiles(dir, {
      'project/.claude/agents/team/shared.md': agent('shared-helper', 'The PROJECT copy of the shared helper.'),
      'project/.claude/agents/README.md': '# notes\n',
      'home/.claude/agents/shared.md': agent('shared-helper', 'The USER copy of the shared helper.'),
      'home/.claude/agents/only-user.md': agent('only-user', 'Only in the user folder.'),
    })
    const r = await runInProcess(['agents', '--agents', '.claude/agents', '--agents', path.join(home, '.claude/agents'), '--verify', '--json'], { cwd: path.join(dir, 'project'), env: { HOME: home, CLAUDE_CONFIG_DIR: '' } })
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { agents: { name: string; status: string }[]; verify: { agree: boolean; onlyClaudeCode: string[]; descriptionDiffers: unknown[] } }
    expect(out.verify).toMatchObject({ agree: true, onlyClaudeCode: [], descriptionDiffers: [] })
    expect(out.agents.find((a) => a.status.startsWith('shadowed'))).toMatchObject({ name: 'shared-helper' })
    expect(r.stderr).toMatch(/home\/\.claude\/agents\/shared\.md:2: the agent "shared-helper" is also defined in \.claude\/agents\/team\/shared\.md, which wins/)
  })
})

describe('diffListings', () => {
  const agent = (name: string, description: string) => parseAgentFile(`${name}.md`, `---\nname: ${name}\ndescription: ${description}\n---\n`) as Agent
  const catalogue = buildCatalogue([agent('a', 'Does A.'), agent('b', 'Does B.'), agent('Explore', 'Our own explorer.')])

  it('agrees on the same names and descriptions (whitespace aside), setting Claude Code\'s own agents apart', () => {
    const d = diffListings(catalogue, [{ name: 'a', description: 'Does  A.' }, { name: 'b', description: 'Does B.' }, { name: 'Explore', description: 'Our own explorer.' }, { name: 'Plan', description: 'x' }], '2.1.330')
    expect(d).toMatchObject({ agree: true, builtins: ['Plan'], onlyRoutecheck: [], onlyClaudeCode: [] })
  })

  it('names what only one side has and descriptions that differ', () => {
    const d = diffListings(catalogue, [{ name: 'a', description: 'Does A, differently.' }, { name: 'c', description: 'C.' }, { name: 'Explore', description: 'Our own explorer.' }], '2.1.330')
    expect(d).toMatchObject({ agree: false, onlyRoutecheck: ['b'], onlyClaudeCode: ['c'], descriptionDiffers: [{ name: 'a', routecheck: 'Does A.', claudeCode: 'Does A, differently.' }] })
  })
})
