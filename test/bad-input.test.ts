import { access, cp } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, runInProcess as runCli, tempDir, writeFiles } from './support/cli.js'

/**
 * Every malformed input is bad input: exit 2, a message that names the place
 * (file and line, the flag, or the setting), nothing written, no stack trace.
 */
type Bad = { what: string; files?: Record<string, string>; args?: string[]; env?: NodeJS.ProcessEnv; place: RegExp; noCopy?: boolean }

const HEADER = 'id,prompt,expected\n'
const GOOD = `${HEADER}c1,my goroutines leak,golang-pro\n`
const agent = (name: string, fm: string) => ({ [`agents/${name}.md`]: `---\n${fm}\n---\nbody\n` })
const baseline = (json: string) => ({ 'base.json': json })

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
  // config
  { what: 'config that is not JSON', files: { 'routecheck.config.json': '{\n  "agents": "agents",\n}\n' }, place: /routecheck\.config\.json:3:\d+: not valid JSON/ },
  { what: 'config with an unknown key', files: { 'routecheck.config.json': '{\n  "datsets": ["d.csv"]\n}\n' }, place: /routecheck\.config\.json:2:\d+: unknown key "datsets" \(did you mean "datasets"\?\)/ },
  { what: 'config value of the wrong type', files: { 'routecheck.config.json': '{\n  "concurrency": "8"\n}\n' }, place: /routecheck\.config\.json:2:\d+: "concurrency": / },
  { what: 'config with a bad router style', files: { 'routecheck.config.json': '{\n  "anthropic": { "style": "chatty" }\n}\n' }, place: /routecheck\.config\.json:2:\d+: "anthropic\.style": / },
  { what: 'config file named by --config that does not exist', args: ['--config', 'nope.json'], place: /^nope\.json: the config file does not exist/m },
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
    const dataset = Object.keys(bad.files ?? {}).find((f) => /\.(csv|jsonl)$/.test(f)) ?? 'good.csv'
    const args = bad.args?.[0] && ['gate', 'overlap'].includes(bad.args[0]) ? bad.args : ['eval', '--dataset', dataset, '--out', 'out', ...(bad.args ?? [])]
    const r = await runCli(args, { cwd: dir, env: { ANTHROPIC_API_KEY: '', ...bad.env } })
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(2)
    expect(r.stderr).toMatch(bad.place)
    expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/) // no stack trace
    await expect(access(path.join(dir, 'out'))).rejects.toThrow() // nothing written
  })
})
