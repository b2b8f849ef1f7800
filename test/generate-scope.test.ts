import { appendFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { nearDuplicatePairs } from '../src/draft/generate.js'
import { loadCatalogue } from '../src/load/catalogue.js'
import { parseDataset } from '../src/load/dataset.js'
import { runInProcess, tempProject } from './support/cli.js'
import { drafter } from './support/drafter.js'
import { startMessagesServer, type MessagesServer, type ServerOptions } from './support/messages-server.js'

/**
 * `generate --agent NAME` drafts for the agents a change touches, and
 * `--append` adds their rows to the dataset the gate reads: against the
 * local Messages server and its deterministic drafter.
 */

const KEY = 'sk-ant-generate-scope-key'
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})
const env = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })
const start = async (opts: ServerOptions = { tool: drafter }) => (server = await startMessagesServer(opts))

type GeneratedJson = { file: string | null; append?: { file: string; existingRows: number }; rows: number; dropped: Array<{ prompt: string; reason: string; detail: string }>; cachedRequests: number }
type DryRunJson = { estimate: { requests: number; usd: number }; append?: { file: string; existingRows: number }; requests: Array<{ target: { kind: string; agent?: string; a?: string; b?: string }; prompts: number }> }

/** What each request sent asked for: the agent aimed at, `a|b` for a boundary pair, none, Explore. */
function targets(s: MessagesServer): string[] {
  return s.requests
    .filter((q) => q.path === '/v1/messages')
    .map((q) => {
      const aimed = /the subagent "([^"]+)" should take/.exec(q.prompt)?.[1]
      const pair = /The subagents "([^"]+)" and "([^"]+)" overlap/.exec(q.prompt)
      return aimed ?? (pair ? `${pair[1]}|${pair[2]}` : q.prompt.includes('that no subagent should take') ? 'none' : 'Explore')
    })
    .sort()
}

async function project() {
  const dir = await tempProject()
  const { catalogue } = await loadCatalogue(path.join(dir, 'agents'))
  const names = catalogue.agents.map((a) => a.name)
  const pairsOf = (agent: string) =>
    nearDuplicatePairs(catalogue)
      .filter((p) => p.a === agent || p.b === agent)
      .map((p) => `${p.a}|${p.b}`)
  return { dir, names, pairsOf }
}

describe('generate --agent: only the agents a change touches', () => {
  it("sends only the chosen agents' requests and their near-duplicate pairs' boundary requests, no none or Explore; every row loads, labels may name any agent; the same run again, or after a whole run, pays nothing", async () => {
    const s = await start()
    const { dir, names, pairsOf } = await project()
    const engineerPairs = pairsOf('python-engineer')
    expect(engineerPairs.length).toBeGreaterThan(0)
    expect(pairsOf('devops-engineer')).toEqual([])

    const args = ['generate', '--agent', 'python-engineer', '--agent', 'devops-engineer', '--per-agent', '3', '--model', 'claude-haiku-4-5', '--json']
    const r = await runInProcess(args, { cwd: dir, env: env(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(targets(s)).toEqual(['devops-engineer', 'python-engineer', ...engineerPairs].sort())
    const rows = parseDataset('generated.csv', await readFile(path.join(dir, 'routecheck/generated.csv')), names).cases
    expect(rows).toHaveLength((JSON.parse(r.stdout) as GeneratedJson).rows)
    expect(rows.filter((c) => !c.tags.includes('boundary')).map((c) => c.expected[0])).toEqual([...Array(3).fill('python-engineer'), ...Array(3).fill('devops-engineer')].sort((a, b) => names.indexOf(a) - names.indexOf(b)))
    // Boundary rows are labelled with either agent of the pair: the other one is not among those chosen.
    const boundary = rows.filter((c) => c.tags.includes('boundary'))
    expect(boundary).toHaveLength(4 * engineerPairs.length)
    expect(new Set(boundary.map((c) => c.expected[0])).size).toBe(engineerPairs.length + 1)
    expect(rows.some((c) => c.expected[0] === 'none' || c.expected[0] === 'Explore')).toBe(false)

    // The same agents again: every request from the cache.
    const sent = s.requests.length
    const again = await runInProcess([...args, '--force'], { cwd: dir, env: env(s) })
    expect(again.code, again.stderr).toBe(0)
    expect(s.requests).toHaveLength(sent)
    expect((JSON.parse(again.stdout) as GeneratedJson).cachedRequests).toBe(targets(s).length)

    // Each request is the whole run's own: a whole run after it sends only the requests not yet answered.
    const whole = await runInProcess(['generate', '--per-agent', '3', '--model', 'claude-haiku-4-5', '--out', 'all.csv', '--json'], { cwd: dir, env: env(s) })
    expect(whole.code, whole.stderr).toBe(0)
    expect((JSON.parse(whole.stdout) as GeneratedJson).cachedRequests).toBe(sent)
  })

  it('none and Explore are drafted when named, alone or beside agents', async () => {
    const s = await start()
    const { dir } = await project()
    const r = await runInProcess(['generate', '--agent', 'none', '--agent', 'Explore', '--per-agent', '2', '--model', 'claude-haiku-4-5'], { cwd: dir, env: env(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(targets(s)).toEqual(['Explore', 'none'])
    expect(r.stdout).toMatch(/^wrote routecheck\/generated\.csv: 4 labelled prompts for review \(0 aimed at agents, 2 none, 2 Explore\)/)
  })

  it('a name that is no agent is exit 2 with a did-you-mean, before anything is sent; so is a built-in agent generate cannot draft for', async () => {
    const s = await start()
    const { dir } = await project()
    const typo = await runInProcess(['generate', '--agent', 'python-enginer'], { cwd: dir, env: env(s) })
    expect(typo.code).toBe(2)
    expect(typo.stderr).toMatch(/^routecheck: --agent "python-enginer" is not an agent: did you mean "python-engineer"/)
    expect(typo.stderr).toContain('none, Explore)')
    const lower = await runInProcess(['generate', '--agent', 'explore', '--dry-run'], { cwd: dir, env: env(s) })
    expect(lower.code).toBe(2)
    expect(lower.stderr).toContain('did you mean "Explore"?')
    const builtin = await runInProcess(['generate', '--agent', 'general-purpose'], { cwd: dir, env: env(s) })
    expect(builtin.code).toBe(2)
    expect(builtin.stderr).toContain('--agent "general-purpose" is not an agent')
    expect(s.requests).toHaveLength(0)
  })

  it('--dry-run counts the narrowed requests and their cost, and sends nothing', async () => {
    const { dir, pairsOf } = await project()
    const whole = JSON.parse((await runInProcess(['generate', '--dry-run', '--json'], { cwd: dir })).stdout) as DryRunJson
    const narrow = await runInProcess(['generate', '--agent', 'python-engineer', '--dry-run', '--json'], { cwd: dir })
    expect(narrow.code, narrow.stderr).toBe(0)
    const plan = JSON.parse(narrow.stdout) as DryRunJson
    const pairs = pairsOf('python-engineer').length
    expect(plan.estimate.requests).toBe(1 + pairs)
    expect(plan.requests.map((q) => q.target.kind)).toEqual(['agent', ...Array(pairs).fill('boundary')])
    expect(plan.requests.filter((q) => q.target.kind === 'boundary').every((q) => q.target.a === 'python-engineer' || q.target.b === 'python-engineer')).toBe(true)
    // The per-request estimates are the whole run's own: the narrowed total is a part of it.
    expect(plan.estimate.usd).toBeLessThan(whole.estimate.usd / 4)

    const text = await runInProcess(['generate', '--agent', 'python-engineer', '--agent', 'none', '--dry-run'], { cwd: dir, columns: 100 })
    expect(text.code, text.stderr).toBe(0)
    const flat = text.stdout.replace(/\s+/g, ' ')
    expect(flat).toContain(`generate --dry-run: nothing sent · model claude-sonnet-5-5 · python-engineer (1 of 15 agents; none) · ${pairs} near-duplicate pairs`)
    expect(flat).toContain(`${2 + pairs} requests asking for ${11 + 11 + 6 * pairs} prompts, to keep ${8 + 8 + 4 * pairs}: 8 for 1 agent, ${4 * pairs} boundary (4 for each of ${pairs} near-duplicate pairs), 8 none.`)
  })
})

describe('generate --append: rows added to an existing dataset', () => {
  /** A dataset as a team writes it: CRLF line endings, an extra column, an id generate would use, a prompt the drafter will draft, and no line break at the end. */
  async function teamDataset(dir: string, copied: string): Promise<Buffer> {
    const text = ['id,prompt,expected,owner,tags,note', 'devops-engineer-01,terraform plan wants to destroy the prod cluster,devops-engineer,ops,reviewed,', `mine-1,"${copied}",devops-engineer,ops,,copied from a draft`, 'mine-2,"say ""hi"", then stop",none,,,'].join('\r\n')
    const bytes = Buffer.from(text)
    await writeFile(path.join(dir, 'team.csv'), bytes)
    return bytes
  }

  it('keeps the old rows byte for byte, writes in their format (columns, CRLF), numbers ids past theirs, drops a prompt they hold; the file loads with unique ids; a rerun appends nothing', async () => {
    const s = await start()
    const { dir, names } = await project()
    const args = ['generate', '--agent', 'devops-engineer', '--per-agent', '3', '--model', 'claude-haiku-4-5']
    // The drafter's first devops-engineer prompt, copied by hand into the team's dataset before.
    const probe = await runInProcess([...args, '--out', 'probe.jsonl'], { cwd: dir, env: env(s) })
    expect(probe.code, probe.stderr).toBe(0)
    const copied = (JSON.parse((await readFile(path.join(dir, 'probe.jsonl'), 'utf8')).split('\n')[0]!) as { prompt: string }).prompt
    const before = await teamDataset(dir, copied)

    const r = await runInProcess([...args, '--append', '--out', 'team.csv', '--json'], { cwd: dir, env: env(s) })
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as GeneratedJson
    expect(out.append).toEqual({ file: 'team.csv', existingRows: 3 })
    expect(out.dropped.filter((d) => d.reason === 'in-dataset')).toEqual([expect.objectContaining({ prompt: copied, detail: expect.stringContaining('already in the dataset') })])
    const after = await readFile(path.join(dir, 'team.csv'))
    expect(after.subarray(0, before.length).equals(before)).toBe(true)
    const added = after.subarray(before.length).toString('utf8')
    expect(added.startsWith('\r\n')).toBe(true)
    expect(added.split('\r\n').filter(Boolean)).toHaveLength(out.rows)
    expect(added.replace(/\r\n/g, '')).not.toContain('\n')
    const cases = parseDataset('team.csv', after, names).cases
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length)
    // The quota's 3 were picked as for an empty file; the one the file holds is not added again (and the quota is not topped up: a rerun must pick the same rows).
    expect(cases.slice(3).map((c) => c.id)).toEqual(['devops-engineer-02', 'devops-engineer-03'])
    expect(cases.slice(3).every((c) => c.tags[0] === 'generated' && c.note && c.expected[0] === 'devops-engineer')).toBe(true)
    // The extra column is left empty in the new rows, the known ones in the header's order.
    expect(added).toMatch(/^\r\ndevops-engineer-02,[^\r]*,devops-engineer,,generated\|[a-z-]+,aimed at devops-engineer\r\n/)

    // Again: the answers come from the cache and every prompt is in the file already.
    const sent = s.requests.length
    const again = await runInProcess([...args, '--append', '--out', 'team.csv'], { cwd: dir, env: env(s) })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/^appended nothing to team\.csv: every prompt it would add is already in it/)
    expect(s.requests).toHaveLength(sent)
    expect((await readFile(path.join(dir, 'team.csv'))).equals(after)).toBe(true)
  })

  it('a JSONL dataset gets JSONL lines; a missing file is written whole; --dry-run says what it appends to', async () => {
    const s = await start()
    const { dir, names } = await project()
    const existing = `${JSON.stringify({ id: 'q1', prompt: 'where do we build the docker image', expected: ['devops-engineer'] })}\n`
    await writeFile(path.join(dir, 'team.jsonl'), existing)
    const dry = await runInProcess(['generate', '--agent', 'technical-writer', '--append', '--out', 'team.jsonl', '--dry-run'], { cwd: dir, env: env(s) })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('appends to team.jsonl (1 row there, kept as they are)')
    const args = ['generate', '--agent', 'technical-writer', '--per-agent', '2', '--model', 'claude-haiku-4-5', '--append']
    const r = await runInProcess([...args, '--out', 'team.jsonl'], { cwd: dir, env: env(s) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/^appended to team\.jsonl: 2 labelled prompts for review \(2 aimed at agents\) after its 1 row, which are as they were/)
    const text = await readFile(path.join(dir, 'team.jsonl'), 'utf8')
    expect(text.startsWith(existing)).toBe(true)
    expect(parseDataset('team.jsonl', Buffer.from(text), names).cases.map((c) => c.id)).toEqual(['q1', 'technical-writer-01', 'technical-writer-02'])
    const fresh = await runInProcess([...args, '--out', 'new/fresh.csv'], { cwd: dir, env: env(s) })
    expect(fresh.code, fresh.stderr).toBe(0)
    expect((await readFile(path.join(dir, 'new/fresh.csv'), 'utf8')).split('\n')[0]).toBe('id,prompt,expected,tags,note')
  })

  it('refuses before sending anything: a dataset that does not load, a header without tags or note, --append with --force; an existing file without --append names it', async () => {
    const s = await start()
    const { dir } = await project()
    await writeFile(path.join(dir, 'bare.csv'), 'id,prompt,expected\nb1,deploy the helm chart,devops-engineer\n')
    const bare = await runInProcess(['generate', '--agent', 'devops-engineer', '--append', '--out', 'bare.csv'], { cwd: dir, env: env(s) })
    expect(bare.code).toBe(2)
    expect(bare.stderr).toContain('bare.csv:1: the header row has no "tags" or "note" column (found: id, prompt, expected)')
    expect(bare.stderr).toContain('add ,tags,note to the header row')
    await writeFile(path.join(dir, 'bad.csv'), 'id,prompt,expected,tags,note\nb1,deploy the helm chart,devops-enginer,,\n')
    const bad = await runInProcess(['generate', '--agent', 'devops-engineer', '--append', '--out', 'bad.csv'], { cwd: dir, env: env(s) })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('bad.csv:2 (column 3, "expected"): unknown agent "devops-enginer"')
    const both = await runInProcess(['generate', '--agent', 'devops-engineer', '--append', '--force', '--out', 'bad.csv'], { cwd: dir, env: env(s) })
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--append adds to the --out file and --force replaces it')
    const exists = await runInProcess(['generate', '--agent', 'devops-engineer', '--out', 'bad.csv'], { cwd: dir, env: env(s) })
    expect(exists.code).toBe(2)
    expect(exists.stderr).toContain('pass --append to add the drafted rows to its end')
    expect(s.requests).toHaveLength(0)
  })

  it('a dataset edited while the requests were out is left as the user left it: exit 2, nothing appended', async () => {
    const { dir } = await project()
    const file = path.join(dir, 'team.csv')
    await writeFile(file, 'id,prompt,expected,tags,note\nt1,deploy the helm chart,devops-engineer,,\n')
    // The user saves the file while the drafting request is answered.
    const s = await start({ tool: (info) => (appendFileSync(file, 't2,rotate the tls certificates,devops-engineer,,\n'), drafter(info)) })
    const r = await runInProcess(['generate', '--agent', 'devops-engineer', '--per-agent', '2', '--model', 'claude-haiku-4-5', '--append', '--out', 'team.csv'], { cwd: dir, env: env(s) })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('team.csv: changed while routecheck generate was drafting: nothing was appended')
    expect(await readFile(file, 'utf8')).toBe('id,prompt,expected,tags,note\nt1,deploy the helm chart,devops-engineer,,\nt2,rotate the tls certificates,devops-engineer,,\n')
  })
})
