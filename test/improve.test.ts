import { execFile } from 'node:child_process'
import { cp, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { pValue } from '../src/improve/render.js'
import { improveReportSchema } from '../src/improve/schema.js'
import { unifiedDiff, withDescription } from '../src/improve/patch.js'
import { splitCases } from '../src/improve/split.js'
import { loadCatalogue, parseAgentFile } from '../src/load/catalogue.js'
import { attemptKey, batchCustomId } from '../src/route/journal.js'
import { mcnemarExact } from '../src/score/stats.js'
import { runInProcess, ROOT, tempDir, writeFiles } from './support/cli.js'
import { startMessagesServer, type AgentEntry, type MessagesServer, type ServerOptions } from './support/messages-server.js'
import { harmfulRewriter, helpfulRewriter } from './support/rewriter.js'

const exec = promisify(execFile)
const KEY = 'sk-ant-test-improve-key'

let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('the train/test split', () => {
  const cases = Array.from({ length: 90 }, (_, i) => ({ key: `d.csv\u0000c${i}`, expected: [['a', 'b', 'none'][i % 3]!, 'x'] }))

  it('is stratified by the first label, balanced overall, and the same whatever the row order', () => {
    const split = splitCases(cases, 0.5)
    for (const label of ['a', 'b', 'none']) {
      const mine = cases.filter((c) => c.expected[0] === label)
      const test = mine.filter((c) => split.get(c.key) === 'test').length
      expect(Math.abs(test - mine.length / 2)).toBeLessThanOrEqual(0.5)
    }
    expect([...split.values()].filter((h) => h === 'test')).toHaveLength(45)
    expect(splitCases([...cases].reverse(), 0.5)).toEqual(split)
    // 40% held out: 36 of 90, never drifting label by label
    expect([...splitCases(cases, 0.4).values()].filter((h) => h === 'test')).toHaveLength(36)
  })

  it('keeps the running total when labels are small: 30 labels of 3 cases split 45 / 45', () => {
    const small = Array.from({ length: 90 }, (_, i) => ({ key: `k${i}`, expected: [`label${Math.floor(i / 3)}`] }))
    expect([...splitCases(small, 0.5).values()].filter((h) => h === 'test')).toHaveLength(45)
  })
})

describe('a new description in an agent file', () => {
  it('replaces only the description, in a file that needs the quoting retry, and reads back as Claude Code reads it', async () => {
    const file = 'agents/python-specialist.md'
    const text = await readFile(path.join(ROOT, file), 'utf8')
    const description = 'SQLAlchemy ORM, Pydantic models and type hints in FastAPI services: "quoted", with a colon: and a\nsecond line.'
    const out = withDescription(file, text, description)
    if (!('text' in out)) throw new Error(out.error)
    const back = parseAgentFile(file, out.text)
    expect(back).toMatchObject({ name: 'python-specialist', description, model: 'sonnet' })
    // one line changed: the body and the other keys are byte for byte the same
    const before = text.split('\n')
    const after = out.text.split('\n')
    expect(after.length).toBe(before.length)
    expect(after.filter((l, i) => l !== before[i])).toHaveLength(1)
  })

  it('keeps CRLF line endings, replaces a block scalar whole, and refuses "---"', () => {
    const crlf = '---\r\nname: a\r\ndescription: |\r\n  first line\r\n\r\n  second line\r\ntools: Read\r\n---\r\nbody\r\n'
    const out = withDescription('a.md', crlf, 'Only the new text.')
    if (!('text' in out)) throw new Error(out.error)
    expect(out.text).toBe('---\r\nname: a\r\ndescription: "Only the new text."\r\ntools: Read\r\n---\r\nbody\r\n')
    expect(withDescription('a.md', crlf, 'one --- two')).toEqual({ error: expect.stringContaining('"---"') })
  })

  it('writes a unified diff with three lines of context, marking a last line without a newline', () => {
    const before = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight'
    const after = 'one\ntwo\nthree\nfour\nFIVE\nsix\nseven\neight'
    expect(unifiedDiff('x/a.md', before, after)).toBe(
      ['diff --git a/x/a.md b/x/a.md', '--- a/x/a.md', '+++ b/x/a.md', '@@ -2,7 +2,7 @@', ' two', ' three', ' four', '-five', '+FIVE', ' six', ' seven', ' eight', '\\ No newline at end of file', ''].join('\n'),
    )
    expect(unifiedDiff('a.md', 'same\n', 'same\n')).toBe('')
  })

  it('writes one hunk per separate change, which git apply takes', async () => {
    const dir = await tempDir('routecheck-patch-')
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`)
    const before = `${lines.join('\n')}\n`
    const after = before.replace('line 2\n', 'line two\n').replace('line 25\n', 'line twenty-five\n')
    const patch = unifiedDiff('a.md', before, after)
    expect(patch.match(/^@@ /gm)).toHaveLength(2)
    await writeFiles(dir, { 'a.md': before, 'fix.patch': patch })
    await exec('git', ['apply', 'fix.patch'], { cwd: dir })
    expect(await readFile(path.join(dir, 'a.md'), 'utf8')).toBe(after)
  })
})

/** A project where two database agents say the same thing, and each one's prompts use words only its own job has. */
async function databaseProject(router: 'lexical' | 'anthropic' = 'lexical'): Promise<string> {
  const dir = await tempDir('routecheck-improve-')
  const tuner = ['index', 'explain', 'vacuum', 'autovacuum', 'btree', 'seqscan', 'planner', 'statistics', 'partitioning', 'cardinality']
  const doctor = ['replication', 'failover', 'deadlock', 'connections', 'pgbouncer', 'wraparound', 'checkpoint', 'corruption', 'standby', 'locks']
  const web = ['component', 'hooks', 'layout', 'forms', 'tailwind', 'props', 'render', 'flexbox']
  const rows = ['id,prompt,expected']
  const pairsOf = (pool: string[], n: number) => Array.from({ length: n }, (_, i) => [pool[i % pool.length]!, pool[(i * 3 + 1) % pool.length]!])
  pairsOf(tuner, 14).forEach(([x, y], i) => rows.push(`t${i},"our postgresql database: the ${x} and the ${y} on the orders table",db-tuner`))
  pairsOf(doctor, 14).forEach(([x, y], i) => rows.push(`d${i},"our postgresql database: the ${x} and the ${y} since last night",db-doctor`))
  pairsOf(web, 8).forEach(([x, y], i) => rows.push(`w${i},"the react ${x} and ${y} on the checkout page",web-dev`))
  for (let i = 0; i < 4; i++) rows.push(`n${i},"what a lovely morning number ${i}",none`)
  await writeFiles(dir, {
    'agents/db-tuner.md': '---\nname: db-tuner\ndescription: Use this agent for PostgreSQL database work on queries and the performance of the database.\n---\nYou tune.\n',
    'agents/db-doctor.md': '---\nname: db-doctor\ndescription: Use this agent for PostgreSQL database work on queries and the health of the database.\n---\nYou diagnose.\n',
    'agents/web-dev.md': '---\nname: web-dev\ndescription: Use this agent for React components, CSS layout, forms and pages of the web app.\n---\nYou build pages.\n',
    'datasets/db.csv': `${rows.join('\n')}\n`,
    'routecheck.config.json': JSON.stringify({ agents: 'agents', datasets: ['datasets/db.csv'], router, ...(router === 'anthropic' ? { anthropic: { style: 'template' } } : {}), out: 'reports', cacheDir: '.cache' }),
  })
  return dir
}

const envFor = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })

describe('routecheck improve against the local Messages server', () => {
  it('keeps a rewrite that helps: held-out accuracy rises, the gate passes, and the patch applies with git apply and patch -p1', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter })
    const dir = await databaseProject()
    const originals = await Promise.all(['db-tuner', 'db-doctor', 'web-dev'].map((n) => readFile(path.join(dir, 'agents', `${n}.md`), 'utf8')))
    const r = await runInProcess(['improve', '--agent', 'db-tuner', '--agent', 'db-doctor', '--rounds', '2'], { cwd: dir, env: envFor(server) })
    expect(r.stderr).not.toContain('internal error')
    expect(r.code).toBe(0)
    const report = improveReportSchema.parse(JSON.parse(await readFile(path.join(dir, 'reports/improve/improve.json'), 'utf8')))
    expect(report.agents).toEqual(['db-doctor', 'db-tuner'])
    expect(report.split).toMatchObject({ train: 20, test: 20 })
    expect(report.rounds.map((x) => x.round)).toEqual([0, 1, 2])
    const won = report.rounds.find((x) => x.round === report.winner)!
    const base = report.rounds[0]!
    expect(won.accepted).toBe(true)
    expect(won.test!.accuracy).toBeGreaterThan(base.test!.accuracy)
    expect(won.gate!.passed).toBe(true)
    expect(won.heldOut!.mcnemarP).toBe(mcnemarExact(won.heldOut!.broke, won.heldOut!.fixed))
    expect(won.descriptions['db-tuner']).toMatch(/^Handles /)
    const said = r.stdout.replace(/\s+/g, ' ')
    expect(said).toMatch(new RegExp(`kept round ${won.round}: held-out accuracy ${base.test!.accuracy.toFixed(2)} → ${won.test!.accuracy.toFixed(2)}`))
    expect(said).toContain(`exact McNemar p = ${pValue(won.heldOut!.mcnemarP)}`)

    // the rewriter saw the train half only: no held-out case id or prompt reached it
    const bodies = server.requests.map((q) => JSON.stringify(q.body))
    expect(bodies).toHaveLength(2)
    const csv = await readFile(path.join(dir, 'datasets/db.csv'), 'utf8')
    const ids = csv.split('\n').slice(1).filter(Boolean).map((l) => l.split(',')[0]!)
    const held = ids.filter((id) => splitCases(ids.map((i) => ({ key: `datasets/db.csv\u0000${i}`, expected: [csv.split('\n').find((l) => l.startsWith(`${i},`))!.split(',').at(-1)!] })), 0.5).get(`datasets/db.csv\u0000${id}`) === 'test')
    expect(held).toHaveLength(20)
    for (const id of held) for (const b of bodies) expect(b).not.toContain(`[${id}]`)

    // the agent files are untouched; the patch applies to copies, and they load with the winning descriptions
    expect(await Promise.all(['db-tuner', 'db-doctor', 'web-dev'].map((n) => readFile(path.join(dir, 'agents', `${n}.md`), 'utf8')))).toEqual(originals)
    const patchFile = path.join(dir, 'reports/improve/descriptions.patch')
    for (const tool of ['git', 'patch'] as const) {
      const copy = await tempDir(`routecheck-apply-${tool}-`)
      await cp(path.join(dir, 'agents'), path.join(copy, 'agents'), { recursive: true })
      if (tool === 'git') await exec('git', ['apply', '--verbose', patchFile], { cwd: copy })
      else await exec('patch', ['-p1', '--forward', '-i', patchFile], { cwd: copy })
      const patched = await loadCatalogue(path.join(copy, 'agents'))
      for (const a of patched.catalogue.agents) expect(a.description, `${tool}: ${a.name}`).toBe(won.descriptions[a.name] ?? (await loadCatalogue(path.join(dir, 'agents'))).catalogue.agents.find((x) => x.name === a.name)!.description)
    }
  })

  it('rejects a rewrite that hurts: nothing kept, no patch written, and the reason given', async () => {
    server = await startMessagesServer({ tool: harmfulRewriter })
    const dir = await databaseProject()
    const r = await runInProcess(['improve', '--agent', 'db-tuner', '--agent', 'db-doctor', '--agent', 'web-dev', '--rounds', '1'], { cwd: dir, env: envFor(server) })
    expect(r.code).toBe(0)
    const report = improveReportSchema.parse(JSON.parse(await readFile(path.join(dir, 'reports/improve/improve.json'), 'utf8')))
    expect(report.winner).toBeUndefined()
    const [base, one] = report.rounds
    expect(one!.test!.accuracy).toBeLessThan(base!.test!.accuracy)
    expect(one!.accepted).toBe(false)
    expect(one!.reason).toMatch(/held-out accuracy did not rise/)
    expect(one!.gate!.passed).toBe(false)
    // the lexical router is deterministic: its stable flips count as they are, and nothing is re-tested
    expect(one!.gate!.failures.map((f) => f.rule)).toContain('stable-flips')
    expect(one!.retest).toBeUndefined()
    expect(r.stderr).not.toContain('re-testing')
    expect(server.requests).toHaveLength(1)
    expect(await readdir(path.join(dir, 'reports/improve'))).toEqual(['improve.json'])
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/kept nothing: none of 1 rewrite raised held-out accuracy; the agent files stay as they are/)
  })

  it('picks the largest cluster by default; --dry-run sends nothing and prices the rewriter', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter })
    const dir = await databaseProject()
    const dry = await runInProcess(['improve', '--dry-run'], { cwd: dir, env: envFor(server) })
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('agents to rewrite (cluster 1 on the descriptions alone')
    expect(dry.stdout).toContain(': db-doctor, db-tuner')
    expect(dry.stdout).toContain('"name": "propose_descriptions"')
    expect(dry.stdout).toMatch(/rewriter: up to 3 request\(s\), ≈[\d,]+ input tokens, ≈\$\d/)
    expect(dry.stdout).toContain('re-tests: none (the lexical router is deterministic: a flip is never noise)')
    expect(dry.stdout).toContain('dry run: nothing was sent.')
    expect(server.requests).toHaveLength(0)
    await expect(stat(path.join(dir, 'reports/improve'))).rejects.toThrow()

    const r = await runInProcess(['improve', '--rounds', '1', '--json'], { cwd: dir, env: envFor(server) })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ cluster: 1, agents: ['db-doctor', 'db-tuner'] })
  })

  it('gate.minChangedAgentCases holds for improve: a group short of cases of its own is exit 2 before the rewriter is asked; a rewrite of a short agent is rejected as the gate would', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter })
    const dir = await databaseProject()
    // d0 becomes db-doctor's description's own example: 13 cases of its own, db-tuner 14
    const csv = path.join(dir, 'datasets/db.csv')
    const rows = (await readFile(csv, 'utf8')).trimEnd().split('\n')
    await writeFile(csv, `${rows.map((l, i) => (i === 0 ? `${l},tags` : `${l},${l.startsWith('d0,') ? 'from-description' : ''}`)).join('\n')}\n`)
    const config = path.join(dir, 'routecheck.config.json')
    const minimum = async (n: number) => writeFile(config, JSON.stringify({ ...JSON.parse(await readFile(config, 'utf8')), gate: { minChangedAgentCases: n } }))
    const args = ['improve', '--agent', 'db-tuner', '--agent', 'db-doctor', '--rounds', '1']

    await minimum(15)
    const refused = await runInProcess(args, { cwd: dir, env: envFor(server) })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('gate.minChangedAgentCases is 15 and every agent to rewrite has fewer cases of its own (db-doctor 13, db-tuner 14): the gate would fail any rewrite, so none could be kept; add prompts labelled for db-doctor and db-tuner to a dataset')
    expect(server.requests).toHaveLength(0)

    await minimum(14)
    const r = await runInProcess(args, { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('note: gate.minChangedAgentCases is 14 and db-doctor has fewer cases of its own (db-doctor 13): only a rewrite that leaves it as it is can be kept')
    const one = (await improveJson(dir)).rounds[1]!
    expect(one.descriptions['db-doctor']).toMatch(/^Handles /)
    expect(one.accepted).toBe(false)
    expect(one.reason).toContain('the gate would fail (changed-agent-cases)')
    expect(one.gate!.failures).toContainEqual({ rule: 'changed-agent-cases', message: expect.stringMatching(/^db-doctor, which this change edits, has 13 cases of its own \(and 1 from-description, which do not count\), fewer than minChangedAgentCases 14/) })
    expect(one.gate!.failures.map((f) => f.message).join('\n')).not.toContain('db-tuner, which')
  })

  it('bad usage is exit 2 before anything is routed or sent', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter })
    const dir = await databaseProject()
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [['--agent', 'db-tuner', '--cluster', '1'], /--cluster and --agent both choose/],
      [['--agent', 'db-tunr'], /--agent db-tunr: no agent of that name .*did you mean "db-tuner"/],
      [['--rounds', '6'], /--rounds must be at most 5/],
      [['--cluster', '3'], /--cluster 3: the overlap has 1 cluster/],
      [['--agent', 'db-tuner'], /ANTHROPIC_API_KEY/, { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: '' }],
    ]
    for (const [args, message, env] of cases) {
      const r = await runInProcess(['improve', ...args], { cwd: dir, env: env ?? envFor(server) })
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(message)
    }
    expect(server.requests).toHaveLength(0)
  })
})

/** w0, a web-dev case every catalogue routes right by the stand-in's word rule; the rewriter's catalogue (its descriptions open with "Handles") is made to send it to db-tuner. */
const FLIPPED = 'the react component and hooks on the checkout page'
const rewritten = (agents: AgentEntry[]) => agents.some((a) => a.description.startsWith('Handles '))
/**
 * The anthropic router's answers: the word rule, except w0 with a rewritten catalogue. `noise`:
 * only the first three times that exact request is seen (the round's three repeats), so the
 * gate's re-test (repeats 1000–1002, three more) gets web-dev again; otherwise every time.
 */
const flipW0 = (noise: boolean): NonNullable<ServerOptions['route']> => ({ prompt, agents, seen }) => (prompt.includes(FLIPPED) && rewritten(agents) && (!noise || seen < 3) ? 'db-tuner' : undefined)

async function improveJson(dir: string) {
  return improveReportSchema.parse(JSON.parse(await readFile(path.join(dir, 'reports/improve/improve.json'), 'utf8')))
}

/** The gate.json a gate run wrote, wherever the run folder is. */
async function gateJson(dir: string): Promise<{ passed: boolean; failures: Array<{ rule: string; message: string; dataset?: string }>; comparison: { flips: Array<{ id: string; direction: string; stable: boolean; flaky: boolean }> } }> {
  const files = (await readdir(path.join(dir, 'reports'), { recursive: true })).filter((f) => f.endsWith('gate.json'))
  expect(files).toHaveLength(1)
  return JSON.parse(await readFile(path.join(dir, 'reports', files[0]!), 'utf8'))
}

describe('improve with a model router predicts the gate, noise check included', () => {
  const args = ['improve', '--agent', 'db-tuner', '--agent', 'db-doctor', '--rounds', '1']

  it('keeps a round whose only stable right → wrong flip is noise on the re-test, as the gate would pass it', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter, route: flipW0(true) })
    const dir = await databaseProject('anthropic')
    const r = await runInProcess(args, { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(0)
    const report = await improveJson(dir)
    const one = report.rounds[1]!
    expect(one.test!.accuracy).toBeGreaterThan(report.rounds[0]!.test!.accuracy)
    expect(one.gate).toEqual({ passed: true, failures: [] })
    expect(one.accepted).toBe(true)
    // 15 stable flips (14 fixed, w0 broke), each re-tested 3 more times: w0's re-test disagrees with its flip
    expect(one.retest).toEqual({ flips: 15, noise: 1, repeats: 3 })
    expect(report.winner).toBe(1)
    expect(r.stderr).toContain('re-testing 15 flipped case(s) 3 more times each')
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('the gate passes on every case, with 1 of 15 stable flip(s) shown to be noise by its re-test')
    expect(r.stdout).toMatch(/│\s+re-tested │ gate │/)
    expect(r.stdout).toMatch(/│ 15 \(1 noise\) │ pass/)
    // round 0 and round 1 route 40 cases × 3 repeats; the re-test 15 × 3 at repeats 1000–1002; the rewriter 1
    const routing = server.requests.filter((q) => q.body.tools?.[0]?.name === 'Agent')
    expect(routing).toHaveLength(40 * 3 * 2 + 15 * 3)
    expect(server.requests).toHaveLength(routing.length + 1)
    // w0: 3 repeats in round 0, 3 in round 1, 3 on the re-test
    expect(routing.filter((q) => q.prompt.includes(FLIPPED))).toHaveLength(9)
    // the re-tests are priced into the routing cost and --max-cost's count
    expect(report.cost!.retestUsd).toBeGreaterThan(0)
    expect(report.cost!.retestUsd).toBeLessThan(report.cost!.routingUsd)

    // a rerun finds every routing request, the re-test's among them, in the journal: the server sees the rewriter's request alone
    const before = server.requests.length
    const again = await runInProcess([...args, '--out', 'reports/again'], { cwd: dir, env: envFor(server) })
    expect(again.code, again.stderr).toBe(0)
    expect(server.requests.slice(before).filter((q) => q.body.tools?.[0]?.name === 'Agent')).toHaveLength(0)
    const rerun = improveReportSchema.parse(JSON.parse(await readFile(path.join(dir, 'reports/again/improve.json'), 'utf8')))
    expect(rerun.rounds[1]!.retest).toEqual(one.retest)
    expect(rerun.rounds[1]!.gate).toEqual(one.gate)
  })

  it('--max-cost counts the re-tests: a budget that runs out during them sends fewer, says so, and exits 3', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter, route: flipW0(true) })
    const full = await databaseProject('anthropic')
    expect((await runInProcess(args, { cwd: full, env: envFor(server) })).code).toBe(0)
    const { cost } = await improveJson(full)
    const before = cost!.rewriterUsd + cost!.routingUsd - cost!.retestUsd!
    await server.close()

    server = await startMessagesServer({ tool: helpfulRewriter, route: flipW0(true) })
    const dir = await databaseProject('anthropic')
    const maxCost = before + cost!.retestUsd! / 2
    const r = await runInProcess([...args, '--max-cost', maxCost.toFixed(6)], { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(3)
    const retests = server.requests.length - 1 - 40 * 3 * 2
    expect(retests).toBeGreaterThan(0)
    expect(retests).toBeLessThan(15 * 3)
    expect(r.stderr).toContain(`round 1: ${15 * 3 - retests} re-test request(s) of flipped cases have no answer (their flips are judged against the proposal: a broke flip counts, a fixed one does not)`)
    const spent = (await improveJson(dir)).cost!
    expect(spent.rewriterUsd + spent.routingUsd).toBeLessThanOrEqual(maxCost)
    expect(spent.retestUsd).toBeGreaterThan(0)
  })

  it('still rejects a round whose flip the re-test reproduces (stable-flips), as it did before the re-test', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter, route: flipW0(false) })
    const dir = await databaseProject('anthropic')
    const r = await runInProcess(args, { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(0)
    const one = (await improveJson(dir)).rounds[1]!
    expect(one.retest).toEqual({ flips: 15, noise: 0, repeats: 3 })
    expect(one.accepted).toBe(false)
    expect(one.reason).toBe('the gate would fail (stable-flips)')
    expect(one.gate!.failures).toEqual([{ rule: 'stable-flips', message: expect.stringContaining('datasets/db.csv: 1 case(s) went from right to wrong with every repeat agreeing (maxStableFlips 0): w0 web-dev → db-tuner') }])
  })

  it.each([
    ['noise on the re-test', true],
    ['reproduced by the re-test', false],
  ] as const)('predicts rule for rule what routecheck gate says of the same descriptions against round 0 (w0 %s)', async (_, noise) => {
    server = await startMessagesServer({ tool: helpfulRewriter, route: flipW0(noise) })
    const dir = await databaseProject('anthropic')
    const r = await runInProcess(args, { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(0)
    const predicted = (await improveJson(dir)).rounds[1]!
    await server.close()

    // The same stand-in afresh: round 0's descriptions as the baseline, then round 1's gated, every request sent again.
    server = await startMessagesServer({ tool: helpfulRewriter, route: flipW0(noise) })
    const baseline = await runInProcess(['baseline', '--no-cache'], { cwd: dir, env: envFor(server) })
    expect(baseline.code, baseline.stderr).toBe(0)
    for (const [name, description] of Object.entries(predicted.descriptions)) {
      const file = path.join(dir, 'agents', `${name}.md`)
      const edited = withDescription(file, await readFile(file, 'utf8'), description)
      if (!('text' in edited)) throw new Error(edited.error)
      await writeFile(file, edited.text)
    }
    const gate = await runInProcess(['gate', '--no-cache'], { cwd: dir, env: envFor(server) })
    expect(gate.code, gate.stdout + gate.stderr).toBe(noise ? 0 : 1)
    const judged = await gateJson(dir)
    expect(judged.comparison.flips.find((f) => f.id === 'w0')).toMatchObject({ direction: 'broke', flaky: noise })
    expect(predicted.gate).toEqual({ passed: judged.passed, failures: judged.failures.map((f) => ({ rule: f.rule, message: `${f.dataset ? `${f.dataset}: ` : ''}${f.message}` })) })
    expect(gate.stderr).toContain('re-testing 15 flipped case(s) 3 more times each')
  })

  it('--batch: the re-test is one more batch of the round, at repeats 1000–1002; --dry-run bounds the re-tests', async () => {
    server = await startMessagesServer({ tool: helpfulRewriter, route: flipW0(false), batch: { pollsToEnd: 0 } })
    const dir = await databaseProject('anthropic')
    const dry = await runInProcess([...args, '--dry-run'], { cwd: dir, env: envFor(server) })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/re-tests of stable flips, as the gate makes them: up to 120 request\(s\) \(40 cases × 3 repeats × 1 round: the bound, every case flipping; a round re-tests only the cases it flipped\), ≈\$\d/)
    expect(server.requests).toHaveLength(0)

    const r = await runInProcess([...args, '--batch', '--batch-poll', '0.01'], { cwd: dir, env: envFor(server) })
    expect(r.code, r.stderr).toBe(0)
    // round 0's routing, the rewrite, round 1's routing, round 1's re-test: no routing request live
    expect(server.batches).toHaveLength(4)
    expect(server.requests.filter((q) => q.path === '/v1/messages')).toHaveLength(0)
    // one request per flipped prompt and fresh repeat (the dataset's repeated prompts are one request, as in every batch)
    const retest = server.batches[3]!.requests.map((q) => q.custom_id)
    const prompts = new Set(retest.map((id) => id.split('_')[0]))
    // every custom_id carries the candidate catalogue's journal tag
    const tags = new Set(retest.map((id) => id.split('_')[2]))
    expect(tags.size).toBe(1)
    const [tag] = tags
    expect(retest.sort()).toEqual([...prompts].flatMap((p) => [1000, 1001, 1002].map((n) => `${p}_${n}_${tag}`)).sort())
    expect(retest).toContain(batchCustomId(attemptKey(FLIPPED, 1000), tag!))
    expect(prompts.size).toBeGreaterThan(1)
    const one = (await improveJson(dir)).rounds[1]!
    expect(one.retest).toEqual({ flips: 15, noise: 0, repeats: 3 })
    expect(one.gate!.failures.map((f) => f.rule)).toEqual(['stable-flips'])
  })
})
