import { execFile, execFileSync } from 'node:child_process'
import { access, chmod, cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadCatalogue } from '../src/load/catalogue.js'
import { journalPath } from '../src/route/journal.js'
import { CLI, ROOT, runInProcess as runCli, tempDir, writeFiles } from './support/cli.js'

/**
 * Every malformed input is bad input: exit 2, a message that names the place
 * (file and line, the flag, or the setting), nothing written, no stack trace.
 * `setup` makes what a text file cannot: symlinks, pipes, bytes that are not UTF-8.
 */
type Bad = { what: string; files?: Record<string, string>; setup?: (dir: string) => Promise<void>; args?: string[]; env?: NodeJS.ProcessEnv; place: RegExp; noCopy?: boolean }

const HEADER = 'id,prompt,expected\n'
const GOOD = `${HEADER}c1,my goroutines leak,golang-pro\n`
const agent = (name: string, fm: string) => ({ [`agents/${name}.md`]: `---\n${fm}\n---\nbody\n` })
const baseline = (json: string) => ({ 'base.json': json })
const link = (target: string, at: string) => (dir: string) => symlink(target, path.join(dir, at))
const bytes = (file: string, ...parts: Array<string | number[]>) => (dir: string) =>
  writeFile(path.join(dir, file), Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))))
/** A router with a cacheKey, so the run journal is opened; it must never be asked (a request would not be exit 2). */
const KEYED = { 'keyed.mjs': "export default () => ({ id: 'keyed', cacheKey: 'k', async route() { throw new Error('a request was sent') } })\n" }
/** The journal the keyed router's run would use, over the bundled agents, under `cache/`. */
const JOURNAL = journalPath('cache', 'k', (await loadCatalogue(path.join(ROOT, 'agents'))).catalogue.fingerprint)
/** Every byte value once: binary. */
const BINARY = Array.from({ length: 256 }, (_, i) => i)

const BAD: Bad[] = [
  // agent files
  { what: 'agent name with ":" (kept for plugin agents)', files: agent('x', 'name: plug:x\ndescription: y'), place: /agents\/x\.md:2: .*":", which Claude Code keeps for plugin agents/ },
  { what: 'agent frontmatter never closed', files: { 'agents/x.md': '---\nname: x\ndescription: y\n' }, place: /agents\/x\.md:1: .*never closed/ },
  { what: 'agent YAML broken even after the retry', files: agent('x', 'name: x\ndescription: fine\ntools:\n  - Read\n bad: [oops'), place: /agents\/x\.md:6: .*not YAML/ },
  { what: 'agent without a description', files: agent('x', 'name: x\ncolor: blue'), place: /agents\/x\.md:2: .*description/ },
  { what: 'agent name that is a list', files: agent('x', 'name: [a, b]\ndescription: y'), place: /agents\/x\.md:2: .*name/ },
  { what: 'agent with an empty description', files: agent('x', 'name: x\ndescription: "   "'), place: /agents\/x\.md:3: .*empty `description`/ },
  { what: 'two agents with one name', files: agent('go-copy', 'name: golang-pro\ndescription: Go.'), place: /agents\/(go-copy|golang-pro)\.md:2: duplicate agent name "golang-pro", also used by agents\/(golang-pro|go-copy)\.md/ },
  { what: 'agents folder that does not exist', args: ['--agents', 'no-such-dir'], place: /^no-such-dir: the agents folder does not exist/m },
  { what: 'agents path that is a file', args: ['--agents', 'good.csv'], place: /^good\.csv: the agents path is a file, not a folder/m },
  { what: 'a symlink loop in the agents folder (a link to the folder above)', setup: link('..', 'agents/up'), place: /^agents\/up: a symlink loop: it leads to \.\., a folder that holds it/m },
  { what: 'a symlink loop in a subfolder (a link to itself)', setup: async (dir) => { await mkdir(path.join(dir, 'agents/team')); await symlink('.', path.join(dir, 'agents/team/again')) }, place: /^agents\/team\/again: a symlink loop/m },
  { what: 'two *.md symlinks that lead to each other', setup: async (dir) => { await link('b.md', 'agents/a.md')(dir); await link('a.md', 'agents/b.md')(dir) }, place: /^agents\/a\.md: a symlink loop: a\.md → b\.md leads back to itself/m },
  { what: 'a dangling *.md symlink', setup: link('nowhere.md', 'agents/gone.md'), place: /^agents\/gone\.md: a symlink to nowhere\.md, which does not exist: Claude Code passes over it/m },
  { what: 'a named pipe called *.md (reading it would never end)', setup: async (dir) => void execFileSync('mkfifo', [path.join(dir, 'agents/pipe.md')]), place: /^agents\/pipe\.md: not a regular file but a named pipe/m },
  { what: 'an agent file saved as UTF-16', setup: bytes('agents/wide.md', [0xff, 0xfe], [...Buffer.from('---\nname: wide\ndescription: d\n---\n', 'utf16le')]), place: /^agents\/wide\.md:1: the file is saved as UTF-16/m },
  { what: 'a NUL byte in the frontmatter', setup: bytes('agents/nul.md', '---\nname: nul\ndescription: a ', [0], ' b\n---\n'), place: /^agents\/nul\.md:3: a NUL byte in the frontmatter/m },
  { what: 'a binary file after a valid `---` line', setup: bytes('agents/blob.md', '---\n', BINARY, BINARY), place: /^agents\/blob\.md:2: a NUL byte in the frontmatter: the file is binary/m },
  {
    what: 'a folder of nothing but bad files, under --skip-invalid: every file named',
    setup: async (dir) => {
      await mkdir(path.join(dir, 'bad'))
      await link('nowhere.md', 'bad/gone.md')(dir)
      await link('.', 'bad/self')(dir)
      await bytes('bad/nul.md', '---\nname: nul\n', [0], '\n---\n')(dir)
      await writeFiles(dir, { 'bad/README.md': '# notes\n' })
    },
    args: ['--agents', 'bad', '--skip-invalid'],
    place: /(?=[\s\S]*^bad\/gone\.md: a symlink to nowhere\.md)(?=[\s\S]*^bad\/self: a symlink loop)(?=[\s\S]*^bad\/nul\.md:3: a NUL byte)(?=[\s\S]*^bad\/README\.md: not an agent file)[\s\S]*^bad: no agent in the folder could be loaded/m,
  },
  // datasets
  { what: 'dataset naming an unknown agent', files: { 'd.csv': `${HEADER}c1,x,golang-pr\n` }, place: /d\.csv:2 \(column 3, "expected"\): unknown agent "golang-pr"/ },
  { what: 'dataset with a duplicate id', files: { 'd.csv': `${HEADER}c1,x,none\nc1,y,none\n` }, place: /d\.csv:3 \(column 1, "id"\): duplicate id "c1"/ },
  { what: 'dataset with an empty prompt', files: { 'd.csv': `${HEADER}c1,,none\n` }, place: /d\.csv:2 \(column 2, "prompt"\): empty prompt/ },
  { what: 'dataset with an unterminated quote', files: { 'd.csv': `${HEADER}c1,x,none\nc2,"never closed,none\n` }, place: /d\.csv:3: .*unterminated quote/ },
  { what: 'dataset missing the expected column', files: { 'd.csv': 'id,prompt\nc1,x\n' }, place: /d\.csv:1: missing column "expected"/ },
  { what: 'dataset mixing none with an agent', files: { 'd.csv': `${HEADER}c1,x,none|golang-pro\n` }, place: /d\.csv:2 \(column 3, "expected"\): "none" is mixed/ },
  { what: 'JSONL line that is not JSON', files: { 'd.jsonl': '{"id":"a","prompt":"x","expected":["none"]}\nnot json\n' }, place: /d\.jsonl:2(:\d+)?: this line is not JSON/ },
  { what: 'JSONL case without expected', files: { 'd.jsonl': '{"id":"a","prompt":"x"}\n' }, place: /d\.jsonl:1: missing "expected"/ },
  { what: 'JSONL expected of the wrong type', files: { 'd.jsonl': '{"id":"a","prompt":"x","expected":5}\n' }, place: /d\.jsonl:1: "expected" has the wrong type/ },
  { what: 'CSV row with more fields than the header', files: { 'd.csv': `${HEADER}c1,a, b,none\n` }, place: /d\.csv:2: this row has a different number of fields/ },
  { what: 'dataset with only a header', files: { 'd.csv': HEADER }, place: /d\.csv: the dataset has no cases/ },
  { what: 'dataset with an unknown extension', files: { 'd.txt': 'x\n' }, args: ['--dataset', 'd.txt'], place: /d\.txt: unknown dataset extension ".txt"/ },
  { what: 'dataset file that does not exist', args: ['--dataset', 'missing.csv'], place: /missing\.csv: the dataset file does not exist/ },
  { what: 'dataset path that is a folder', files: { 'folder.csv/x.csv': GOOD }, args: ['--dataset', 'folder.csv'], place: /^folder\.csv: the dataset path is a folder, not a dataset file/m },
  { what: 'CSV header naming a column twice', files: { 'd.csv': 'id,prompt,expected,expected\nc1,x,golang-pro,none\n' }, place: /^d\.csv:1: the header row names the column "expected" twice: columns 3 and 4/m },
  { what: 'CSV header naming a column twice, once with spaces', files: { 'd.csv': 'id, prompt,expected,prompt \nc1,x,none,y\n' }, place: /^d\.csv:1: the header row names the column "prompt" twice: columns 2 and 4/m },
  { what: 'a prompt of zero-width characters and spaces only', files: { 'd.csv': `${HEADER}c1,\u200b \u200c\u200d\u2060\ufeff,none\n` }, place: /^d\.csv:2 \(column 2, "prompt"\): empty prompt in case "c1"/m },
  { what: 'a JSONL prompt of zero-width characters only', files: { 'd.jsonl': '{"id":"a","prompt":"\\u200b\\u2060","expected":["none"]}\n' }, place: /^d\.jsonl:1: empty prompt in case "a"/m },
  // the run journal (config cacheDir)
  { what: 'cache folder that is a file', files: { ...KEYED, 'routecheck.config.json': '{ "cacheDir": "cache" }', cache: 'not a folder\n' }, args: ['--router', './keyed.mjs'], place: /^cache: the cache folder \(config "cacheDir"\) is a file, not a folder/m },
  { what: 'cache folder that is a file, under the anthropic replay (the capture is stored there)', files: { 'routecheck.config.json': '{ "cacheDir": "cache" }', cache: 'not a folder\n' }, args: ['--router', 'anthropic'], env: { ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9' }, place: /^cache: the cache folder \(config "cacheDir"\) is a file, not a folder/m },
  { what: 'cache folder inside a file', files: { ...KEYED, 'routecheck.config.json': '{ "cacheDir": "cache/runs" }', cache: 'not a folder\n' }, args: ['--router', './keyed.mjs'], place: /^cache\/runs: the cache folder \(config "cacheDir"\) lies under cache, which is a file/m },
  { what: 'run journal path that is a folder', files: { ...KEYED, 'routecheck.config.json': '{ "cacheDir": "cache" }', [`${JOURNAL}/x`]: '' }, args: ['--router', './keyed.mjs'], place: new RegExp(`^${JOURNAL.replace(/[.]/g, '\\.')}: the run journal is a folder, not a file`, 'm') },
  { what: 'run journal path that is a folder, with --dry-run', files: { ...KEYED, 'routecheck.config.json': '{ "cacheDir": "cache" }', [`${JOURNAL}/x`]: '' }, args: ['--router', './keyed.mjs', '--dry-run'], place: /the run journal is a folder, not a file/ },
  // config
  { what: 'config that is not JSON', files: { 'routecheck.config.json': '{\n  "agents": "agents",\n}\n' }, place: /routecheck\.config\.json:3:\d+: not valid JSON/ },
  { what: 'config with an unknown key', files: { 'routecheck.config.json': '{\n  "datsets": ["d.csv"]\n}\n' }, place: /routecheck\.config\.json:2:\d+: unknown key "datsets" \(did you mean "datasets"\?\)/ },
  { what: 'config value of the wrong type', files: { 'routecheck.config.json': '{\n  "concurrency": "8"\n}\n' }, place: /routecheck\.config\.json:2:\d+: "concurrency": / },
  { what: 'config with a bad router style', files: { 'routecheck.config.json': '{\n  "anthropic": { "style": "chatty" }\n}\n' }, place: /routecheck\.config\.json:2:\d+: "anthropic\.style": / },
  { what: 'config file named by --config that does not exist', args: ['--config', 'nope.json'], place: /^nope\.json: the config file does not exist/m },
  { what: 'routecheck.config.json that is a folder', files: { 'routecheck.config.json/x': '{}' }, place: /^routecheck\.config\.json: the config file cannot be read \(it is a folder, not a file\)/m },
  { what: 'price table that is not a price table', files: { 'routecheck.config.json': '{ "anthropic": { "prices": "p.json" } }', 'p.json': '{"models": {"m": {"input": "cheap"}}}' }, args: ['--router', 'anthropic', '--dry-run'], place: /p\.json: "models\.m\.input": / },
  { what: 'prompt template without the agents placeholder', files: { 'routecheck.config.json': '{ "anthropic": { "template": "t.md" } }', 't.md': 'no placeholder\n' }, args: ['--router', 'anthropic', '--dry-run'], place: /t\.md has no \{\{agents\}\} placeholder/ },
  { what: 'ANTHROPIC_BASE_URL that is not a URL', args: ['--router', 'anthropic'], env: { ANTHROPIC_BASE_URL: 'not a url', ANTHROPIC_API_KEY: 'k' }, place: /ANTHROPIC_BASE_URL is not a URL: "not a url"/ },
  // flags
  { what: '--repeats 0', args: ['--repeats', '0'], place: /--repeats must be at least 1/ },
  { what: '--timeout=-1', args: ['--timeout=-1'], place: /--timeout must be above 0 seconds/ },
  { what: '--timeout -1 (a value that looks like a flag)', args: ['--timeout', '-1'], place: /--timeout needs a value; for one starting with "-", write --timeout=-1/ },
  { what: '--max-cost abc', args: ['--max-cost', 'abc'], place: /--max-cost takes an amount in USD/ },
  { what: 'a misspelt flag', args: ['--concurency', '4'], place: /unknown flag --concurency: did you mean --concurrency\?/ },
  { what: 'a flag without its value', args: ['--dataset'], place: /--dataset needs a value/ },
  { what: 'a router module that does not exist', args: ['--router', './nope.mjs'], place: /cannot load router module \.\/nope\.mjs/ },
  // baselines and runs
  { what: 'baseline that is not JSON', files: baseline('{"schemaVersion": 1,'), args: ['gate', '--baseline', 'base.json'], place: /^base\.json: the baseline is not JSON/m },
  { what: 'baseline of the wrong shape', files: baseline('{"schemaVersion": 1, "kind": "routecheck-baseline"}'), args: ['gate', '--baseline', 'base.json'], place: /^base\.json: not a routecheck baseline: "tool"/m },
  { what: 'baseline that does not exist', args: ['gate', '--baseline', 'gone.json'], place: /^gone\.json: the baseline file does not exist/m },
  { what: 'a run folder that is not a run', files: { 'notarun/x.txt': 'x' }, args: ['overlap', 'notarun'], place: /notarun\/summary\.json: cannot read the run's summary/ },
]

describe('bad input: exit 2 and the place, across agent files, datasets, config, flags and baselines', () => {
  it('has at least 25 cases', () => expect(BAD.length).toBeGreaterThanOrEqual(25))

  it.each(BAD)('$what', async (bad) => {
    const dir = await tempDir()
    await cp(path.join(ROOT, 'agents'), path.join(dir, 'agents'), { recursive: true })
    await writeFiles(dir, { 'good.csv': GOOD, ...(bad.files ?? {}) })
    await bad.setup?.(dir)
    const dataset = Object.keys(bad.files ?? {}).find((f) => /\.(csv|jsonl)$/.test(f)) ?? 'good.csv'
    const args = bad.args?.[0] && ['gate', 'overlap'].includes(bad.args[0]) ? bad.args : ['eval', '--dataset', dataset, '--out', 'out', ...(bad.args ?? [])]
    const r = await runCli(args, { cwd: dir, env: { ANTHROPIC_API_KEY: '', ...bad.env } })
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(2)
    expect(r.stderr).toMatch(bad.place)
    expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/) // no stack trace
    await expect(access(path.join(dir, 'out'))).rejects.toThrow() // nothing written
  })
})

/**
 * What --skip-invalid can go on without, and what loads with a warning or a
 * note: exit 0, the place in the message, the run written, without the file.
 */
type Odd = { what: string; files?: Record<string, string>; setup?: (dir: string) => Promise<void>; args?: string[]; place: RegExp; agents?: number }

const ODD: Odd[] = [
  // --skip-invalid: listed as skipped, the run goes on
  { what: 'a dangling *.md symlink', setup: link('nowhere.md', 'agents/gone.md'), args: ['--skip-invalid'], place: /^warning: skipped agents\/gone\.md:1: a symlink to nowhere\.md, which does not exist/m },
  { what: 'a symlink loop', setup: link('..', 'agents/up'), args: ['--skip-invalid'], place: /^warning: skipped agents\/up:1: a symlink loop/m },
  { what: 'a named pipe called *.md', setup: async (dir) => void execFileSync('mkfifo', [path.join(dir, 'agents/pipe.md')]), args: ['--skip-invalid'], place: /^warning: skipped agents\/pipe\.md:1: not a regular file but a named pipe/m },
  { what: 'a binary file after a valid `---` line', setup: bytes('agents/blob.md', '---\n', BINARY), args: ['--skip-invalid'], place: /^warning: skipped agents\/blob\.md:2: a NUL byte in the frontmatter/m },
  { what: 'an agent file saved as UTF-16', setup: bytes('agents/wide.md', [0xff, 0xfe], [...Buffer.from('---\nname: wide\ndescription: d\n---\n', 'utf16le')]), args: ['--skip-invalid'], place: /^warning: skipped agents\/wide\.md:1: the file is saved as UTF-16/m },
  // loads, with a warning naming the file (Claude Code lists these agents too)
  { what: 'a description with bytes that are not UTF-8', setup: bytes('agents/latin.md', '---\nname: latin\ndescription: Caf', [0xe9], ' and ', [0xff, 0xfe], ' bytes.\n---\nbody\n'), place: /^warning: agents\/latin\.md:3: the frontmatter holds bytes that are not UTF-8 \(line 3\): Claude Code reads each as U\+FFFD/m, agents: 16 },
  { what: 'a description with control characters', files: agent('ctrl', 'name: ctrl\ndescription: Bell \u0007 and \u001b[31mred\u001b[0m.'), place: /^warning: agents\/ctrl\.md:3: the description holds control characters \(U\+0007, U\+001B\)/m, agents: 16 },
  { what: 'a binary body after valid frontmatter', setup: bytes('agents/binbody.md', '---\nname: binbody\ndescription: Reads binary.\n---\n', BINARY), place: /^warning: agents\/binbody\.md:5: the body after the frontmatter .* is binary/m, agents: 16 },
  { what: 'agent names equal but for case', files: agent('golang-upper', 'name: Golang-Pro\ndescription: Go, in capitals.'), place: /^warning: agents\/golang-upper\.md:2: the agent name "Golang-Pro" differs only in case from "golang-pro" in agents\/golang-pro\.md/m, agents: 16 },
  // loads, with a note: nothing is lost
  { what: 'a symlink beside the agent file it leads to', setup: link('golang-pro.md', 'agents/go.md'), place: /^note: agents\/go\.md is the same file as agents\/golang-pro\.md \(through a symlink\)/m, agents: 15 },
  { what: 'a dangling symlink not named *.md', setup: link('../missing', 'agents/shared'), place: /^note: agents\/shared is a symlink to \.\.\/missing, which does not exist/m, agents: 15 },
]

describe('what loads anyway: skipped under --skip-invalid, or loaded with a warning or a note', () => {
  it.each(ODD)('$what', async (odd) => {
    const dir = await tempDir()
    await cp(path.join(ROOT, 'agents'), path.join(dir, 'agents'), { recursive: true })
    await writeFiles(dir, { 'good.csv': GOOD, ...(odd.files ?? {}) })
    await odd.setup?.(dir)
    const r = await runCli(['eval', '--dataset', 'good.csv', '--out', 'out', '--json', ...(odd.args ?? [])], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(odd.place)
    expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/)
    const summary = JSON.parse(await readFile(path.join(dir, 'out/summary.json'), 'utf8')) as { agents: unknown[]; invalidAgents: unknown[] }
    expect(summary.agents).toHaveLength(odd.agents ?? 15)
    expect(summary.invalidAgents).toHaveLength(odd.args?.includes('--skip-invalid') ? 1 : 0)
  })
})

describe('an unreadable agent file or folder (chmod 000)', () => {
  /**
   * Permissions stop no read by root, where these tests often run: there the
   * files load like any other, and the CLI is run again as an unprivileged
   * user (uid 65534) to see the message. Claude Code, run as such a user,
   * passes over an unreadable agent file without a word (checked by hand).
   */
  const root = process.getuid?.() === 0

  async function lockedProject(): Promise<string> {
    const dir = await tempDir()
    await cp(path.join(ROOT, 'agents'), path.join(dir, 'agents'), { recursive: true })
    await writeFiles(dir, { 'good.csv': GOOD, ...agent('locked', 'name: locked\ndescription: Locked away.'), 'agents/sealed/inner.md': '---\nname: sealed\ndescription: Sealed in.\n---\n' })
    await chmod(path.join(dir, 'agents/locked.md'), 0o000)
    await chmod(path.join(dir, 'agents/sealed'), 0o000)
    await chmod(dir, 0o777) // the unprivileged run writes its run folder here
    // Readable again afterwards, so the temp folder can be removed by a user who is not root.
    onTestFinished(async () => {
      await chmod(path.join(dir, 'agents/locked.md'), 0o644)
      await chmod(path.join(dir, 'agents/sealed'), 0o755)
    })
    return dir
  }

  /** The CLI as the user `nobody` when this process is root, else in this process. */
  function runUnprivileged(args: string[], dir: string): Promise<{ code: number; stderr: string }> {
    if (!root) return runCli(args, { cwd: dir })
    return new Promise((resolve) => {
      execFile(process.execPath, [CLI, ...args], { cwd: dir, uid: 65534, gid: 65534, env: { PATH: process.env.PATH, NO_COLOR: '1' } }, (error, _stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stderr })
      })
    })
  }

  it.runIf(root)('as root, permissions stop no read: both load like any other file (and would for Claude Code run as root)', async () => {
    const dir = await lockedProject()
    const r = await runCli(['eval', '--dataset', 'good.csv', '--out', 'out', '--json'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect((JSON.parse(r.stdout) as { agents: Array<{ name: string }> }).agents.map((a) => a.name)).toEqual(expect.arrayContaining(['locked', 'sealed']))
  })

  it('is exit 2 naming the file and the folder, and nothing written; --skip-invalid goes on without them and lists them', async () => {
    const dir = await lockedProject()
    const bad = await runUnprivileged(['eval', '--dataset', 'good.csv', '--out', 'out'], dir)
    expect(bad.code, bad.stderr).toBe(2)
    expect(bad.stderr).toMatch(/^agents\/locked\.md: the file cannot be read \(permission denied\)/m)
    expect(bad.stderr).toMatch(/^agents\/sealed: this folder cannot be read \(permission denied\)/m)
    expect(bad.stderr).not.toMatch(/\n\s+at .*\.js:\d+/)
    await expect(access(path.join(dir, 'out'))).rejects.toThrow()

    const skipped = await runUnprivileged(['eval', '--dataset', 'good.csv', '--out', 'out', '--skip-invalid'], dir)
    expect(skipped.code, skipped.stderr).toBe(0)
    expect(skipped.stderr).toMatch(/^warning: skipped agents\/locked\.md:1: the file cannot be read/m)
    expect(skipped.stderr).toMatch(/^warning: skipped agents\/sealed:1: this folder cannot be read/m)
    await access(path.join(dir, 'out/summary.json'))
  })
})
