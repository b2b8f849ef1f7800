import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { exampleTurns, rowsFromExamples } from '../src/draft/examples.js'
import { isLeak, leakage, nearIdentical } from '../src/draft/similar.js'
import { buildCatalogue, loadCatalogue, parseAgentFile, type Agent } from '../src/load/catalogue.js'
import { formatDatasetCsv, formatDatasetJsonl, parseDataset, type DatasetRow } from '../src/load/dataset.js'
import { ROOT, runInProcess, tempDir, tempProject, writeFiles } from './support/cli.js'
import { drafter, PLANTED } from './support/drafter.js'
import { startMessagesServer, type MessagesServer } from './support/messages-server.js'

const KEY = 'sk-ant-generate-test-key'
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})
const env = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })

type GeneratedJson = {
  file: string | null
  rows: number
  drafted: number
  dropped: Array<{ prompt: string; target: string; reason: string; detail: string }>
  short: Array<{ quota: string; kept: number; wanted: number }>
  failed: Array<{ target: string; error: string; notSent: boolean }>
  cachedRequests: number
}

async function readRows(file: string, agents: readonly string[]) {
  return parseDataset(file, await readFile(file), agents).cases
}

describe('routecheck generate against the local Messages server', () => {
  it('writes a dataset routecheck reads: every label an agent of the catalogue, each agent balanced over the registers, boundary, none and Explore rows, tagged and noted; leakage, twins and unknown labels dropped', async () => {
    server = await startMessagesServer({ tool: drafter })
    const dir = await tempProject()
    const r = await runInProcess(['generate', '--per-agent', '6', '--model', 'claude-haiku-4-5', '--json'], { cwd: dir, env: env(server) })
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as GeneratedJson
    const { catalogue } = await loadCatalogue(path.join(dir, 'agents'))
    const names = catalogue.agents.map((a) => a.name)
    // 15 agents, 10 Python pairs, none in two batches, Explore.
    expect(server.requests).toHaveLength(15 + 10 + 2 + 1)
    const rows = await readRows(path.join(dir, 'routecheck/generated.csv'), names)
    expect(rows).toHaveLength(out.rows)

    // Balance: six rows aimed at each agent, covering all six registers.
    for (const name of names) {
      const own = rows.filter((c) => c.expected[0] === name && !c.tags.includes('boundary'))
      expect(own, name).toHaveLength(6)
      expect(new Set(own.map((c) => c.tags[1])).size, name).toBe(6)
    }
    expect(out.short).toEqual([])
    // Boundary prompts: four per pair, labelled with one of the two alone, half each way.
    const boundary = rows.filter((c) => c.tags.includes('boundary'))
    expect(boundary).toHaveLength(40)
    expect(boundary.every((c) => c.expected.length === 1 && c.expected[0]!.startsWith('python') && c.id.includes('-vs-'))).toBe(true)
    expect(rows.filter((c) => c.expected[0] === 'none')).toHaveLength(Math.round(0.15 * 6 * 15))
    expect(rows.filter((c) => c.expected[0] === 'Explore')).toHaveLength(6)
    expect(rows.every((c) => c.tags[0] === 'generated' && c.note !== undefined && c.note.length > 0)).toBe(true)

    // What the drafter planted is gone, each drop listed with its reason.
    expect(rows.some((c) => c.prompt.startsWith(PLANTED.leak))).toBe(false)
    expect(rows.some((c) => c.prompt.startsWith(PLANTED.twin))).toBe(false)
    const reasons = (reason: string) => out.dropped.filter((d) => d.reason === reason)
    expect(reasons('leakage')).toEqual([expect.objectContaining({ target: PLANTED.leakAndTwinIn, detail: expect.stringMatching(/^copies code-reviewer's description \(".+": 12 words in a row/) })])
    expect(reasons('near-identical')).toEqual([expect.objectContaining({ prompt: expect.stringMatching(/^please, fix the/), target: PLANTED.leakAndTwinIn })])
    expect(reasons('unknown-label')).toEqual([expect.objectContaining({ target: PLANTED.labelsIn, detail: expect.stringContaining(PLANTED.ghost) })])
    // A label in the wrong case is mended, the unknown one beside it dropped and noted.
    const mended = rows.find((c) => c.note?.includes('wrong case'))
    expect(mended).toMatchObject({ expected: [PLANTED.labelsIn], note: expect.stringContaining(`dropped label naming no agent: ${PLANTED.ghost}`) })
    // Over-drafting: the rest were over their quota, never silently lost.
    expect(out.drafted).toBe(out.rows + out.dropped.length)
    expect(reasons('over-quota').length).toBeGreaterThan(0)
    expect(r.stdout + r.stderr).not.toContain(KEY)
  })

  it('never overwrites the output without --force; with it, answered requests come from the cache and nothing is sent', async () => {
    server = await startMessagesServer({ tool: drafter })
    const dir = await tempProject()
    const args = ['generate', '--per-agent', '2', '--model', 'claude-haiku-4-5', '--out', 'drafts/mine.jsonl']
    const first = await runInProcess(args, { cwd: dir, env: env(server) })
    expect(first.code, first.stderr).toBe(0)
    const sent = server.requests.length
    const written = await readFile(path.join(dir, 'drafts/mine.jsonl'), 'utf8')
    expect(JSON.parse(written.split('\n')[0]!)).toMatchObject({ id: 'code-reviewer-01', tags: ['generated', expect.any(String)] })

    const again = await runInProcess(args, { cwd: dir, env: env(server) })
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('drafts/mine.jsonl: already exists; routecheck generate never overwrites a file')
    expect(server.requests).toHaveLength(sent)

    const forced = await runInProcess([...args, '--force', '--json'], { cwd: dir, env: env(server) })
    expect(forced.code, forced.stderr).toBe(0)
    expect(server.requests).toHaveLength(sent)
    expect((JSON.parse(forced.stdout) as GeneratedJson).cachedRequests).toBe(sent)
    expect(await readFile(path.join(dir, 'drafts/mine.jsonl'), 'utf8')).toBe(written)
  })

  it('--dry-run lists the requests and their estimated cost and sends nothing, with or without a key', async () => {
    server = await startMessagesServer({ tool: drafter })
    const dir = await tempProject()
    const r = await runInProcess(['generate', '--dry-run'], { cwd: dir, env: env(server), columns: 80 })
    expect(r.code, r.stderr).toBe(0)
    expect(server.requests).toHaveLength(0)
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/^generate --dry-run: nothing sent · model claude-sonnet-5-5 · 15 agents · 10 near-duplicate pairs/)
    expect(r.stdout).toContain('python-backend-architect ↔ python-backend-engineer')
    const flat = r.stdout.replace(/\s+/g, ' ')
    expect(flat).toMatch(/28 requests asking for 260 prompts, to keep 186: 120 for 15 agents \(8 each\), 40 boundary/)
    expect(flat).toMatch(/Estimated ≈[\d,]+ input and ≈31,200 output tokens: ≈\$\d+\.\d\d at claude-sonnet-5-5's prices/)
    expect(r.stdout).toContain('not shown at 80 columns: input tokens, output tokens')
    for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80)

    const json = await runInProcess(['generate', '--dry-run', '--json', '--per-agent', '3'], { cwd: dir, env: { ANTHROPIC_API_KEY: '' } })
    expect(json.code, json.stderr).toBe(0)
    const plan = JSON.parse(json.stdout) as { estimate: { requests: number; usd: number }; requests: Array<{ target: { kind: string }; body: { tools: Array<{ name: string }>; system: Array<{ text: string }> } }> }
    expect(plan.estimate.requests).toBe(plan.requests.length)
    expect(plan.requests[0]!.body.tools.map((t) => t.name)).toEqual(['record_prompts'])
    expect(plan.requests[0]!.body.system[0]!.text).toMatch(/calling the record_prompts tool/)
    expect(plan.requests[0]!.body.system[0]!.text).toContain('<agent name="python-specialist">')
    expect(plan.estimate.usd).toBeGreaterThan(0)
    await expect(readFile(path.join(dir, 'routecheck/generated.csv'))).rejects.toThrow()
  })

  it('--max-cost stops sending before the budget is passed: exit 3, what came back is written, the rest named', async () => {
    server = await startMessagesServer({ tool: drafter })
    const dir = await tempProject()
    const dry = JSON.parse((await runInProcess(['generate', '--dry-run', '--json', '--per-agent', '2', '--model', 'claude-haiku-4-5'], { cwd: dir })).stdout) as { estimate: { usd: number; requests: number }; requests: Array<{ estimate: { usd: number } }> }
    // Room for two requests as estimated: the first writes the prompt cache, the later ones read it, so a few more fit.
    const budget = 2.5 * dry.requests[0]!.estimate.usd
    const r = await runInProcess(['generate', '--per-agent', '2', '--model', 'claude-haiku-4-5', '--max-cost', budget.toFixed(6), '--concurrency', '1', '--json'], { cwd: dir, env: env(server) })
    expect(r.code, r.stderr).toBe(3)
    const out = JSON.parse(r.stdout) as GeneratedJson
    expect(server.requests.length).toBeGreaterThan(0)
    expect(server.requests.length).toBeLessThan(dry.estimate.requests)
    expect(out.failed.length).toBe(dry.estimate.requests - server.requests.length)
    expect(out.failed.every((f) => f.notSent && /--max-cost/.test(f.error))).toBe(true)
    expect(r.stderr).toMatch(/the estimate \(≈\$[\d.]+, as if nothing were cached\) is over --max-cost/)
    expect(r.stderr).toMatch(/requests brought no prompts \(--max-cost or Ctrl-C stopped some before sending\); run the same command again with --force/)
    expect(out.file).toBe('routecheck/generated.csv')
  })

  it('a refused key is exit 2 with nothing written; an output that is not .csv or .jsonl is exit 2 before anything is sent', async () => {
    server = await startMessagesServer({ tool: drafter, models: ['claude-haiku-4-5'] })
    const dir = await tempProject()
    const txt = await runInProcess(['generate', '--out', 'prompts.txt'], { cwd: dir, env: env(server) })
    expect(txt.code).toBe(2)
    expect(txt.stderr).toContain('prompts.txt: the output must be a .csv or .jsonl dataset')
    expect(server.requests).toHaveLength(0)
    const unknown = await runInProcess(['generate', '--model', 'claude-nope-1'], { cwd: dir, env: env(server) })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/does not know model "claude-nope-1"/)
    await expect(readFile(path.join(dir, 'routecheck/generated.csv'))).rejects.toThrow()
  })
})

describe('generate --from-examples', () => {
  it('on the bundled agents: the user turns of the <example> blocks, tagged from-description, with the warning; eval scores them with the lexical router', async () => {
    const dir = await tempProject()
    const r = await runInProcess(['generate', '--from-examples', '--out', 'examples.csv'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^wrote examples\.csv: 17 rows from the <example> blocks of the descriptions/)
    expect(r.stderr).toMatch(/warning: rows tagged from-description are the user turns of the descriptions' own <example> blocks: the router reads these very words/)
    const { catalogue } = await loadCatalogue(path.join(ROOT, 'agents'))
    const rows = await readRows(path.join(dir, 'examples.csv'), catalogue.agents.map((a) => a.name))
    expect(rows.every((c) => c.tags.join() === 'from-description' && c.expected.length === 1)).toBe(true)
    expect(rows.find((c) => c.id === 'devops-engineer-ex2')).toMatchObject({ prompt: 'The new release is crash-looping in prod, the pods keep restarting with OOMKilled', expected: ['devops-engineer'] })
    const scored = await runInProcess(['eval', '--dataset', 'examples.csv', '--out', 'out', '--json'], { cwd: dir })
    expect(scored.code, scored.stderr).toBe(0)
    expect(scored.stderr).toContain('examples.csv: 17 of 17 cases are tagged from-description')
    expect((JSON.parse(scored.stdout) as { metrics: { accuracy: number } }).metrics.accuracy).toBeGreaterThan(0.5)
  })

  it('with no <example> block anywhere it is exit 2 saying so', async () => {
    const dir = await tempDir()
    await writeFiles(dir, { 'agents/a.md': '---\nname: a\ndescription: Does A things for people.\n---\n' })
    const r = await runInProcess(['generate', '--from-examples', '--agents', 'agents'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('no agent description holds an <example> block')
  })
})

describe('the drafting filters', () => {
  const agent = (name: string, description: string) => parseAgentFile(`${name}.md`, `---\nname: ${name}\ndescription: ${JSON.stringify(description)}\n---\n`) as Agent

  it("reads the examples' user turns in the shapes descriptions use: quoted on one line, on their own lines, with commentary and follow-ups", () => {
    const oneLine = "Use it for Go. Examples: <example>Context: a leak. user: 'My goroutines never exit' assistant: 'I will use the go agent' <commentary>Go work.</commentary></example>"
    const multiLine = '<example>\nContext: x\nuser: "Review PR 12"\nassistant: "Using the reviewer."\n<commentary>\nReview.\n</commentary>\nuser: “and the tests too”\n</example>'
    expect(exampleTurns(oneLine).map((t) => [t.prompt, t.example])).toEqual([['My goroutines never exit', 1]])
    expect(exampleTurns(multiLine).map((t) => t.prompt)).toEqual(['Review PR 12', 'and the tests too'])
    expect(exampleTurns('No examples here; the user: is not in a block.')).toEqual([])
  })

  it('labels an example the agent its assistant hands it to, and merges one prompt copied between two descriptions', () => {
    const catalogue = buildCatalogue([
      agent('reviewer', "Reviews code. <example>user: 'Please review PR 7' assistant: 'I will use the reviewer agent'</example> <example>user: 'Deploy this to staging' assistant: 'That is for deployer, not me'</example>"),
      agent('deployer', "Deploys. <example>user: 'please review PR 7!' assistant: 'the deployer agent looks at the release side'</example>"),
    ])
    const rows = rowsFromExamples(catalogue)
    expect(rows.map((r) => [r.id, r.prompt, r.expected])).toEqual([
      ['deployer-ex1', 'please review PR 7!', ['deployer', 'reviewer']],
      ['reviewer-ex2', 'Deploy this to staging', ['deployer']],
    ])
    expect(rows[1]!.note).toContain("reviewer's description (reviewer.md:3), whose assistant hands it to deployer")
  })

  it('leakage: copied and lightly reworded descriptions are caught, hand-written prompts on the same topic are not', () => {
    const description = 'Use this agent when you need to design, implement, or refactor Python backend systems, APIs, or services with FastAPI or Django.'
    expect(isLeak(leakage('I need to design, implement, or refactor Python backend systems for my shop', description))).toBe(true)
    expect(isLeak(leakage('refactor python backend systems apis or services', description))).toBe(true)
    expect(isLeak(leakage('my FastAPI endpoint returns 422 on every POST, what is wrong with the schema?', description))).toBe(false)
    expect(isLeak(leakage('refactor the backend', description))).toBe(false)
  })

  it('near-identical prompts: rewordings and a swapped noun are one prompt, a prompt with details added is not; the first is kept', () => {
    const prompts = ['fix the goroutine leak in the worker pool', 'fix this goroutine leak in our worker pool', 'add pagination to the orders endpoint in FastAPI', 'add pagination to the users endpoint in FastAPI', 'write tests for the payment service', 'write integration tests for the payment service using pytest', 'hi', 'Hi!']
    expect([...nearIdentical(prompts)]).toEqual([[1, 0], [3, 2], [7, 6]])
  })

  it('the dataset writers round-trip through the reader: quotes, commas, newlines, a leading "-" and spaces', async () => {
    const rows: DatasetRow[] = [
      { id: 'a', prompt: '--- a/x.py\n+++ b/x.py\n@@ "quoted", commas\n', expected: ['x', 'y'], tags: ['generated', 'diff'], note: 'a, b' },
      { id: 'b', prompt: '  leading space', expected: ['none'], tags: [] },
    ]
    const dir = await tempDir()
    for (const [name, text] of [['d.csv', formatDatasetCsv(rows)], ['d.jsonl', formatDatasetJsonl(rows)]] as const) {
      await writeFile(path.join(dir, name), text)
      const back = parseDataset(name, await readFile(path.join(dir, name)), ['x', 'y'])
      expect(back.cases.map(({ line: _line, ...c }) => c)).toEqual(rows)
    }
  })
})
