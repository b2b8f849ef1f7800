import { readFile, writeFile, rm, cp, symlink } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadAgentFolders, loadCatalogue, parseAgentFile } from '../src/load/catalogue.js'
import { quoteRiskyValues, readFrontmatter } from '../src/load/frontmatter.js'
import { InputError } from '../src/load/input-error.js'
import { bundledClaudeBinary } from '../src/route/claude-code/engine.js'
import { ROOT, runCli as runCliChild, runInProcess as runCli, tempDir, tempProject, writeFiles } from './support/cli.js'

const SEEDS = ['python-backend-architect', 'python-backend-engineer', 'python-backend-specialist', 'python-engineer', 'python-specialist']

/** The description as written on its one line, with Claude Code's `\n` unescape applied by hand. */
async function rawDescription(name: string): Promise<string> {
  const text = await readFile(path.join(ROOT, 'agents', `${name}.md`), 'utf8')
  const line = text.split('\n').find((l) => l.startsWith('description: '))!
  return line.slice('description: '.length).trimEnd().split('\\n').join('\n')
}

describe('the five seed agents', () => {
  it('all load, the three non-strict ones through the quoting retry, descriptions intact', async () => {
    const { catalogue, invalid } = await loadCatalogue(path.join(ROOT, 'agents'))
    expect(invalid).toEqual([])
    const seeds = catalogue.agents.filter((a) => SEEDS.includes(a.name))
    expect(seeds.map((a) => a.name).sort()).toEqual(SEEDS)
    const retried = seeds.filter((a) => a.quotingRetry).map((a) => a.name).sort()
    expect(retried).toEqual(['python-backend-architect', 'python-backend-engineer', 'python-backend-specialist'])
    for (const agent of seeds) expect(agent.description).toBe(await rawDescription(agent.name))
  })

  it('keeps python-backend-specialist’s three <example> blocks, with real newlines', async () => {
    const { catalogue } = await loadCatalogue(path.join(ROOT, 'agents'))
    const d = catalogue.agents.find((a) => a.name === 'python-backend-specialist')!.description
    expect(d.match(/<example>/g)).toHaveLength(3)
    expect(d.match(/<\/example>/g)).toHaveLength(3)
    expect(d).not.toContain('\\n')
    expect(d).toContain('\n<example>\nContext:')
    expect(d.length).toBeGreaterThan(1500)
  })

  it('the three non-strict seeds really are invalid strict YAML', async () => {
    for (const name of ['python-backend-architect', 'python-backend-engineer', 'python-backend-specialist']) {
      const text = await readFile(path.join(ROOT, 'agents', `${name}.md`), 'utf8')
      const { parse } = await import('yaml')
      const fm = text.split('\n---')[0]!.replace(/^---\n/, '')
      expect(() => parse(fm), name).toThrow()
    }
  })

  it('catalogue order is by name and fingerprints change only with routing fields', async () => {
    const { catalogue } = await loadCatalogue(path.join(ROOT, 'agents'))
    const names = catalogue.agents.map((a) => a.name)
    expect(names).toEqual([...names].sort())
    const base = '---\nname: x\ndescription: Reviews SQL.\ntools: Read, Grep\n---\n'
    const a = parseAgentFile('a.md', `${base}Body one`)
    const b = parseAgentFile('b.md', `${base}Body two, longer`)
    const c = parseAgentFile('c.md', base.replace('Reviews SQL.', 'Reviews Go.'))
    const d = parseAgentFile('d.md', base.replace('Read, Grep', '[Read, Grep]'))
    if ('reason' in a || 'reason' in b || 'reason' in c || 'reason' in d) throw new Error('should parse')
    expect(a.fingerprint).toBe(b.fingerprint)
    expect(a.fingerprint).toBe(d.fingerprint)
    expect(a.fingerprint).not.toBe(c.fingerprint)
    expect(a.tools).toEqual(['Read', 'Grep'])
  })
})

describe('Claude Code parsing rules', () => {
  it('quotes only risky, unquoted single-line top-level values, escaping backslashes and quotes', () => {
    expect(quoteRiskyValues(['name: a', 'description: Use when: "x" \\n y', "color: 'blue: x'", '  nested: a: b', 'tools: Read'])).toEqual([
      'name: a',
      'description: "Use when: \\"x\\" \\\\n y"',
      "color: 'blue: x'",
      '  nested: a: b',
      'tools: Read',
    ])
    for (const ch of ['{', '}', '[', ']', '*', '&', '#', '!', '|', '>', '%', '@', '`']) {
      expect(quoteRiskyValues([`k: a ${ch} b`])[0]).toBe(`k: "a ${ch} b"`)
    }
  })

  it('turns literal \\n into newlines in the description only', () => {
    const fm = readFrontmatter('---\nname: a\ndescription: one\\ntwo\ncolor: x\\ny\n---\nbody\\n')
    if ('reason' in fm) throw new Error(fm.reason)
    expect(fm.data.description).toBe('one\ntwo')
    expect(fm.data.color).toBe('x\\ny')
    expect(fm.body).toBe('body\\n')
  })

  it.each([
    ['no frontmatter', 'just a prompt\n', 1, /does not start with a `---`/],
    ['unclosed frontmatter', '---\nname: a\ndescription: b\n', 1, /never closed/],
    ['YAML that fails even after the retry', '---\nname: a\ndescription: fine\ntools:\n  - Read\n bad: [\n---\nbody', 6, /not YAML/],
    ['missing description', '---\nname: a\ncolor: blue\n---\n', 2, /description/],
    ['non-string name', '---\nname: [a, b]\ndescription: x\n---\n', 2, /name/],
    ['empty description', '---\nname: a\ndescription: ""\n---\n', 3, /empty `description`/],
  ])('reports %s with its line', (_what, text, line, reason) => {
    const result = parseAgentFile('agents/x.md', text)
    expect('reason' in result).toBe(true)
    if (!('reason' in result)) return
    expect(result.line).toBe(line)
    expect(result.reason).toMatch(reason)
  })
})

describe('loading a folder through the CLI', () => {
  it('a file that still fails gives file:line and exit 2, and --skip-invalid goes on without it', async () => {
    const dir = await tempProject()
    await writeFiles(dir, {
      'agents/broken.md': '---\nname: broken\ndescription: Handles: things\n  oops: [unclosed\n---\nbody\n',
      'cases.csv': 'id,prompt,expected\n1,tune this slow postgres query,database-optimizer\n',
    })
    const bad = await runCli(['eval', '--agents', 'agents', '--dataset', 'cases.csv', '--out', 'out'], { cwd: dir })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/agents\/broken\.md:\d+: .*not YAML/)
    expect(bad.stderr).toContain('--skip-invalid')
    expect(bad.stdout).toBe('')

    const skipped = await runCli(['eval', '--agents', 'agents', '--dataset', 'cases.csv', '--out', 'out', '--skip-invalid', '--json'], { cwd: dir })
    expect(skipped.code).toBe(0)
    expect(skipped.stderr).toMatch(/warning: skipped agents\/broken\.md:\d+/)
    const summary = JSON.parse(skipped.stdout)
    expect(summary.invalidAgents).toHaveLength(1)
    expect(summary.agents).toHaveLength(15)
  })

  it('a duplicate name gives exit 2 naming both files', async () => {
    const dir = await tempProject()
    const golang = await readFile(path.join(dir, 'agents/golang-pro.md'), 'utf8')
    await writeFile(path.join(dir, 'agents/go-copy.md'), golang)
    await writeFiles(dir, { 'cases.csv': 'id,prompt,expected\n1,goroutine leak,golang-pro\n' })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'out'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('duplicate agent name "golang-pro"')
    expect(r.stderr).toContain('agents/go-copy.md')
    expect(r.stderr).toContain('agents/golang-pro.md')
  })

  it('a missing or empty agents folder is exit 2 with the path', async () => {
    const dir = await tempDir()
    const missing = await runCli(['eval', '--agents', 'nope'], { cwd: dir })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^nope: the agents folder does not exist/m)
    await cp(path.join(ROOT, 'agents'), path.join(dir, 'empty'), { recursive: true, filter: (src) => !src.endsWith('.md') })
    const empty = await runCli(['eval', '--agents', 'empty'], { cwd: dir })
    expect(empty.code).toBe(2)
    expect(empty.stderr).toContain('holds no .md files')
    await rm(path.join(dir, 'empty'), { recursive: true })
  })
})

it('rejects a folder load in-process with an InputError naming every bad file', async () => {
  const dir = await tempDir()
  await writeFiles(dir, { 'a.md': '---\nname: a\n', 'b.md': '---\nname: b\n---\n', 'c.md': '---\nname: c\ndescription: fine\n---\n' })
  const err = await loadCatalogue(dir).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(InputError)
  expect((err as InputError).problems.map((p) => path.basename(p.file))).toEqual(['a.md', 'b.md'])
})

it("follows Claude Code's folder rules: subfolders, READMEs skipped, `:` names refused, `.md` in lower case, a `---` inside a value ends the frontmatter", async () => {
  const dir = await tempDir()
  await writeFiles(dir, {
    'README.md': '# Our agents\n\nNotes for humans.\n',
    'top.md': '---\nname: top\ndescription: At the top.\n---\n',
    'team/nested.md': '---\nname: nested\ndescription: In a subfolder.\n---\n',
    'team/deeper/deep.md': '---\nname: deep\ndescription: Two folders down.\n---\n',
    'upper.MD': '---\nname: upper\ndescription: Claude Code ignores .MD.\n---\n',
    'dash.md': '---\nname: dash\ndescription: foo---bar and more\n---\nbody\n',
    'plugin.md': '---\nname: tools:helper\ndescription: A reserved name.\n---\n',
  })
  const loaded = await loadCatalogue(dir, { skipInvalid: true })
  expect(loaded.catalogue.agents.map((a) => a.name)).toEqual(['dash', 'deep', 'nested', 'top'])
  expect(loaded.catalogue.agents.find((a) => a.name === 'dash')).toMatchObject({ description: 'foo', cutAt: 3 })
  expect(loaded.skipped).toEqual([{ file: path.join(dir, 'README.md'), reason: 'not an agent file (no frontmatter)' }])
  expect(loaded.invalid.map((x) => [path.basename(x.file), x.reason])).toEqual([['plugin.md', expect.stringMatching(/keeps for plugin agents/)]])
})

describe('file-system oddities, read as Claude Code reads them', () => {
  /** A folder with every oddity Claude Code lists or passes over, and a shared folder outside it that symlinks lead to. */
  async function oddFolder(): Promise<string> {
    const dir = await tempDir()
    await writeFiles(dir, {
      'shared/outside.md': '---\nname: outside\ndescription: Reached through a symlink to a file outside the folder.\n---\n',
      'shared-team/inner.md': '---\nname: inner\ndescription: In a symlinked folder outside the folder.\n---\n',
      'odd/plain.md': '---\nname: plain\ndescription: A plain agent file.\n---\n',
      'odd/folder.md/inside.md': '---\nname: inside\ndescription: In a folder whose name ends in .md.\n---\n',
      'odd/.hidden/dot.md': '---\nname: dotted\ndescription: In a dot-folder.\n---\n',
      'odd/ctrl.md': '---\nname: ctrl\ndescription: Bell \u0007 here.\n---\n',
      'odd/Plain-Upper.md': '---\nname: Plain\ndescription: The same name as plain, in other case.\n---\n',
    })
    const at = (p: string) => path.join(dir, p)
    await symlink('../shared/outside.md', at('odd/outside.md'))
    await symlink('../shared-team', at('odd/team'))
    await symlink('plain.md', at('odd/again.md'))
    await symlink('.', at('odd/self'))
    await symlink('nowhere.md', at('odd/gone.md'))
    await writeFile(at('odd/latin.md'), Buffer.concat([Buffer.from('---\nname: latin\ndescription: Caf'), Buffer.from([0xe9]), Buffer.from(' au lait.\n---\n')]))
    await writeFile(at('odd/binbody.md'), Buffer.concat([Buffer.from('---\nname: binbody\ndescription: A binary body.\n---\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]))
    await writeFile(at('odd/nul.md'), Buffer.from('---\nname: nul\ndescription: a \0 b\n---\n'))
    await writeFile(at('odd/wide.md'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('---\nname: wide\ndescription: UTF-16.\n---\n', 'utf16le')]))
    return dir
  }

  it('follows symlinks to files and folders, inside or out, reads a folder named *.md as a folder, and reads one file reached twice once', async () => {
    const dir = await oddFolder()
    const loaded = await loadCatalogue(path.join(dir, 'odd'), { skipInvalid: true })
    expect(loaded.catalogue.agents.map((a) => a.name)).toEqual(['Plain', 'binbody', 'ctrl', 'dotted', 'inner', 'inside', 'latin', 'outside', 'plain'])
    expect(loaded.catalogue.agents.find((a) => a.name === 'latin')!.description).toBe('Caf\uFFFD au lait.')
    const rel = (f: string) => path.relative(dir, f)
    expect(loaded.invalid.map((x) => [rel(x.file), x.line])).toEqual([
      ['odd/gone.md', 1],
      ['odd/nul.md', 3],
      ['odd/self', 1],
      ['odd/wide.md', 1],
    ])
    expect(loaded.skipped.map((x) => [rel(x.file), x.reason])).toEqual([['odd/again.md', 'the same file as ' + path.join(dir, 'odd/plain.md') + ' (through a symlink)']])
    expect(loaded.warnings.map((w) => [rel(w.file), w.line, w.message.split(':')[0]])).toEqual([
      ['odd/binbody.md', 5, "the body after the frontmatter (the subagent's system prompt) is binary, not UTF-8 text"],
      ['odd/ctrl.md', 3, 'the description holds control characters (U+0007)'],
      ['odd/latin.md', 3, 'the frontmatter holds bytes that are not UTF-8 (line 3)'],
      ['odd/plain.md', 2, 'the agent name "plain" differs only in case from "Plain" in ' + path.join(dir, 'odd/Plain-Upper.md')],
    ])
  })

  it('a NUL byte in the body is no problem; in the frontmatter the file is dropped, as Claude Code drops it', () => {
    expect('reason' in parseAgentFile('x.md', '---\nname: a\ndescription: b\n---\nbody \0 more\n')).toBe(false)
    expect(parseAgentFile('x.md', '---\nname: a\ndescription: b\n# a comment \0\n---\n')).toMatchObject({ line: 4, reason: expect.stringMatching(/NUL byte in the frontmatter/) })
    expect(parseAgentFile('x.md', '---\nname: a\ndescription: "escaped \\0 is text"\n---\n')).toMatchObject({ description: 'escaped \0 is text' })
  })

  it.skipIf(bundledClaudeBinary() === undefined && !(process.platform === 'linux' && process.arch === 'x64'))('and Claude Code lists exactly the agents routecheck loads from that folder (routecheck agents --verify)', async () => {
    const dir = await oddFolder()
    const r = await runCli(['agents', '--agents', 'odd', '--verify'], { cwd: dir })
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain('verify: the same agents with the same descriptions. diff: empty')
    expect(r.stdout).toMatch(/9 loaded · 4 dropped · 1 not agent files/)
  }, 60_000)
})

describe('the folder given', () => {
  it('a file given as the agents folder, or a folder that does not exist, is bad input naming it', async () => {
    const dir = await tempDir()
    await writeFiles(dir, { 'a.md': '---\nname: a\ndescription: b\n---\n' })
    await expect(loadCatalogue(path.join(dir, 'a.md'))).rejects.toThrow(/a\.md: the agents path is a file, not a folder/)
    await expect(loadCatalogue(path.join(dir, 'nope'))).rejects.toThrow(/nope: the agents folder does not exist/)
  })
})

describe('several agents folders: a project and ~/.claude/agents', () => {
  const agent = (name: string, description: string) => `---\nname: ${name}\ndescription: ${description}\n---\nbody\n`

  async function twoScopes() {
    const dir = await tempDir()
    const home = path.join(dir, 'home')
    await writeFiles(dir, {
      'project/.claude/agents/team/shared.md': agent('shared-helper', 'The project copy of the shared helper.'),
      'project/.claude/agents/only-project.md': agent('only-project', 'Only in the project.'),
      'home/.claude/agents/shared.md': agent('shared-helper', 'The user copy of the shared helper.'),
      'home/.claude/agents/only-user.md': agent('only-user', 'Only in the user folder.'),
    })
    return { dir, home, project: path.join(dir, 'project'), user: path.join(home, '.claude', 'agents') }
  }

  it("merges them, the project's agent winning a name both define, whichever order they are given in, with a warning naming both files", async () => {
    const { home, project, user } = await twoScopes()
    const projectAgents = path.join(project, '.claude', 'agents')
    for (const order of [[projectAgents, user], [user, projectAgents]]) {
      const loaded = await loadAgentFolders(order, { env: { HOME: home } })
      expect(loaded.catalogue.agents.map((a) => [a.name, a.description])).toEqual([
        ['only-project', 'Only in the project.'],
        ['only-user', 'Only in the user folder.'],
        ['shared-helper', 'The project copy of the shared helper.'],
      ])
      expect(loaded.folders).toEqual([{ dir: projectAgents, scope: 'project' }, { dir: user, scope: 'user' }])
      expect(loaded.shadowed).toEqual([{ name: 'shared-helper', file: path.join(user, 'shared.md'), line: 2, by: path.join(projectAgents, 'team', 'shared.md') }])
      expect(loaded.warnings).toEqual([
        { file: path.join(user, 'shared.md'), line: 2, message: expect.stringContaining(`is also defined in ${path.join(projectAgents, 'team', 'shared.md')}, which wins (a project's agents take precedence over the user's ~/.claude/agents)`) },
      ])
    }
    // CLAUDE_CONFIG_DIR moves the user's folder, as it moves Claude Code's.
    const moved = await loadAgentFolders([user, projectAgents], { env: { HOME: '/nowhere', CLAUDE_CONFIG_DIR: path.join(home, '.claude') } })
    expect(moved.folders.map((f) => f.scope)).toEqual(['project', 'user'])
  })

  it('through the CLI: eval and agents take --agents twice; two project folders defining one name are exit 2 naming both files', async () => {
    const { dir, home } = await twoScopes()
    await writeFiles(dir, { 'project/cases.csv': 'id,prompt,expected\n1,the shared helper please,shared-helper\n2,only user folder,only-user\n' })
    const env = { HOME: home, CLAUDE_CONFIG_DIR: '' }
    const r = await runCli(['eval', '--agents', '.claude/agents', '--agents', path.join(home, '.claude/agents'), '--dataset', 'cases.csv', '--out', 'out', '--json'], { cwd: path.join(dir, 'project'), env })
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout) as { agents: { name: string; file: string }[] }
    expect(summary.agents.map((a) => `${a.name} ${a.file}`)).toEqual(['only-project .claude/agents/only-project.md', `only-user ${path.join(home, '.claude/agents/only-user.md')}`, 'shared-helper .claude/agents/team/shared.md'])
    expect(r.stderr).toMatch(/warning: .*home\/\.claude\/agents\/shared\.md:2: the agent "shared-helper" is also defined in \.claude\/agents\/team\/shared\.md, which wins/)

    const listed = await runCli(['agents', '--agents', '.claude/agents', '--agents', path.join(home, '.claude/agents')], { cwd: path.join(dir, 'project'), env })
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/shared-helper .*home\/\.claude\/agents\/shared\.md .* shadowed by \.claude\/agents\/team\/shared\.md/)
    expect(listed.stdout).toMatch(/3 loaded · 0 dropped · 0 not agent files · 1 shadowed · from \.claude\/agents \(project\), .*\(user\)/)

    await writeFiles(dir, { 'project/more/shared.md': agent('shared-helper', 'A third copy.') })
    const twice = await runCli(['agents', '--agents', '.claude/agents', '--agents', 'more'], { cwd: path.join(dir, 'project'), env })
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain('more/shared.md:2: duplicate agent name "shared-helper", also used by .claude/agents/team/shared.md')
  })

  it('config "agents" may be an array; "~/" in it is the home folder; an empty second folder is a warning, not an error', async () => {
    const { dir, home } = await twoScopes()
    await writeFiles(dir, { 'project/routecheck.config.json': JSON.stringify({ agents: ['.claude/agents', '~/.claude/agents', 'empty'] }), 'project/empty/notes.txt': 'no agents here\n' })
    const r = await runCliChild(['agents', '--json'], { cwd: path.join(dir, 'project'), env: { HOME: home } })
    expect(r.code, r.stderr).toBe(0)
    const rows = (JSON.parse(r.stdout) as { agents: { name: string; status: string }[] }).agents
    expect(rows.filter((x) => x.status === 'loaded').map((x) => x.name).sort()).toEqual(['only-project', 'only-user', 'shared-helper'])
    expect(r.stderr).toContain('warning: empty: the agents folder holds no .md files')
    await writeFiles(dir, { 'bad.json': JSON.stringify({ agents: [] }) })
    const empty = await runCli(['agents', '--config', 'bad.json'], { cwd: dir })
    expect(empty.code).toBe(2)
    expect(empty.stderr).toMatch(/bad\.json:1:\d+: "agents": /)
  })
})
