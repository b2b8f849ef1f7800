import { execFile } from 'node:child_process'
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { GLOBAL_OPTIONS } from '../src/cli/options.js'
import { COMMANDS } from '../src/cli/run.js'
import { DEFAULT_BASELINE } from '../src/gate/baseline.js'
import { COMMENT_LIMIT, COMMENT_MARKER, commentBody, nextLink } from '../src/report/github-comment.js'
import { redact } from '../src/text/safe.js'
import { ROOT, runInProcess, tempDir, tempProject, type CliResult } from './support/cli.js'
import { commitAll, git, gitInit, shallowClone } from './support/git.js'

/** A token no output or file may hold. */
const TOKEN = 'ghs_routecheckTEST5ecretT0ken0123456789ab'
const REPO = 'acme/agents'
const PR = 7
const HEAD_SHA = '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567'

type StoredComment = { id: number; body: string; user: { login: string; type: 'Bot' | 'User' }; html_url: string }
type Request = { method: string; path: string; auth: string | undefined; userAgent: string | undefined; body: string }
type Refusal = { status: number; message: string }

/**
 * A stand-in for the three GitHub REST endpoints the comment uses, on
 * 127.0.0.1: list a pull request's issue comments (paginated with a Link
 * header, per_page honoured), create one, update one. It records every
 * request, answers 401 to a wrong token, and can refuse or fail on demand.
 */
async function startGitHub(opts: { comments?: StoredComment[]; refuse?: (method: string) => Refusal | undefined } = {}) {
  const comments: StoredComment[] = [...(opts.comments ?? [])]
  const requests: Request[] = []
  let nextId = Math.max(1000, ...comments.map((c) => c.id)) + 1
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      const method = req.method ?? 'GET'
      requests.push({ method, path: req.url ?? '', auth: req.headers.authorization, userAgent: req.headers['user-agent'], body })
      const url = new URL(req.url ?? '/', base)
      const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers })
        res.end(JSON.stringify(json))
      }
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'Bad credentials' })
      const refusal = opts.refuse?.(method)
      if (refusal) return send(refusal.status, { message: refusal.message })
      const list = /^\/repos\/acme\/agents\/issues\/7\/comments$/.test(url.pathname)
      const one = /^\/repos\/acme\/agents\/issues\/comments\/(\d+)$/.exec(url.pathname)
      if (list && method === 'GET') {
        const perPage = Number(url.searchParams.get('per_page') ?? 30)
        const page = Number(url.searchParams.get('page') ?? 1)
        const pages = Math.max(1, Math.ceil(comments.length / perPage))
        const link = (p: number) => `<${base}/repos/acme/agents/issues/7/comments?per_page=${perPage}&page=${p}>`
        const links = [...(page < pages ? [`${link(page + 1)}; rel="next"`, `${link(pages)}; rel="last"`] : []), ...(page > 1 ? [`${link(1)}; rel="first"`] : [])]
        return send(200, comments.slice((page - 1) * perPage, page * perPage), links.length > 0 ? { link: links.join(', ') } : {})
      }
      if (list && method === 'POST') {
        const id = nextId++
        const created = { id, body: (JSON.parse(body) as { body: string }).body, user: { login: 'github-actions[bot]', type: 'Bot' as const }, html_url: `https://github.com/${REPO}/pull/${PR}#issuecomment-${id}` }
        comments.push(created)
        return send(201, created)
      }
      if (one && method === 'PATCH') {
        const c = comments.find((x) => x.id === Number(one[1]))
        if (!c) return send(404, { message: 'Not Found' })
        c.body = (JSON.parse(body) as { body: string }).body
        return send(200, c)
      }
      return send(404, { message: 'Not Found' })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const stop = () => new Promise<void>((resolve) => server.close(() => resolve()))
  servers.push(stop)
  return { url: base, comments, requests, stop, seen: () => requests.splice(0).map((r) => `${r.method} ${r.path}`) }
}

const servers: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((stop) => stop()))
})

let project: string
let eventFile: string
let reports: { pythonBackend: string; routing: string }
/** Every output and every folder the runs could write to, for the last test's grep. */
const outputs: CliResult[] = []
const written: string[] = []

/** A project gated once with the lexical router: reports/latest/{python-backend,routing}/report.md are real gate reports. */
beforeAll(async () => {
  project = await tempProject({ datasets: true })
  await writeFile(path.join(project, 'routecheck.config.json'), await readFile(path.join(ROOT, 'routecheck.config.json')))
  expect((await runInProcess(['baseline'], { cwd: project })).code).toBe(0)
  expect((await runInProcess(['gate'], { cwd: project })).code).toBe(0)
  reports = {
    pythonBackend: await readFile(path.join(project, 'reports/latest/python-backend/report.md'), 'utf8'),
    routing: await readFile(path.join(project, 'reports/latest/routing/report.md'), 'utf8'),
  }
  const events = await tempDir('routecheck-event-')
  eventFile = path.join(events, 'event.json')
  await writeFile(eventFile, JSON.stringify({ action: 'synchronize', number: PR, pull_request: { number: PR, head: { sha: HEAD_SHA } } }))
  written.push(project, events)
})

const githubEnv = (api: string, more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  GITHUB_TOKEN: TOKEN,
  GITHUB_REPOSITORY: REPO,
  GITHUB_API_URL: api,
  GITHUB_EVENT_PATH: eventFile,
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_RUN_ID: '4242',
  GITHUB_ACTIONS: '',
  GITHUB_STEP_SUMMARY: '',
  ...more,
})

/** `routecheck comment`, in-process; its output is kept for the token grep. */
async function comment(args: string[], env: NodeJS.ProcessEnv, cwd = project): Promise<CliResult> {
  const r = await runInProcess(['comment', ...args], { cwd, env })
  outputs.push(r)
  expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN)
  return r
}

const bodyOf = (r: Request) => (JSON.parse(r.body) as { body: string }).body
const firstLines = (text: string, n: number) => text.split('\n').slice(0, n).join('\n')

describe('routecheck comment: one sticky comment on the pull request', () => {
  it('the first run creates the comment (POST), the second updates the same one (PATCH)', async () => {
    const gh = await startGitHub()
    const first = await comment([], githubEnv(gh.url))
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/^comment: posted https:\/\/github\.com\/acme\/agents\/pull\/7#issuecomment-1001 on pull request #7: reports\/latest\/python-backend\/report\.md, reports\/latest\/routing\/report\.md \([\d,]+ characters\)\n$/)
    const firstRequests = [...gh.requests]
    expect(gh.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100', 'POST /repos/acme/agents/issues/7/comments'])
    for (const r of firstRequests) {
      expect(r.auth).toBe(`Bearer ${TOKEN}`)
      expect(r.userAgent).toMatch(/^routecheck\//)
    }
    const created = bodyOf(firstRequests[1]!)
    // The marker, then the reports in run-folder order (python-backend, routing), then the footer.
    expect(created.startsWith(`${COMMENT_MARKER}\n${firstLines(reports.pythonBackend, 5)}`)).toBe(true)
    expect(created).toMatch(/^## ✅ Routing gate passed$/m)
    expect(created).toContain(`\n\n---\n\n${firstLines(reports.routing, 5)}`)
    expect(created).toMatch(/<sub>routecheck \d+\.\d+\.\d+ · commit 0a1b2c3 · \[workflow run\]\(https:\/\/github\.com\/acme\/agents\/actions\/runs\/4242\)<\/sub>\n$/)

    // The agents change; the gate writes a new report; the same comment is updated.
    const file = path.join(project, 'reports/latest/routing/report.md')
    await writeFile(file, reports.routing.replace('## ✅ Routing gate passed', '## ❌ Routing gate failed'))
    try {
      const second = await comment([], githubEnv(gh.url))
      expect(second.code, second.stderr).toBe(0)
      expect(second.stdout).toMatch(/^comment: updated https:\/\/github\.com\/acme\/agents\/pull\/7#issuecomment-1001 on pull request #7/)
      const secondRequests = [...gh.requests]
      expect(gh.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100', 'PATCH /repos/acme/agents/issues/comments/1001'])
      for (const r of secondRequests) expect(r.auth).toBe(`Bearer ${TOKEN}`)
      expect(gh.comments).toHaveLength(1)
      const updated = bodyOf(secondRequests[1]!)
      expect(updated.startsWith(`${COMMENT_MARKER}\n${firstLines(reports.pythonBackend, 5)}`)).toBe(true)
      expect(updated).toContain('\n\n---\n\n## ❌ Routing gate failed\n')
      expect(gh.comments[0]!.body).toBe(updated)
    } finally {
      await writeFile(file, reports.routing)
    }
  })

  it('finds its comment on page 2 by following the Link header, and leaves a person’s comment with the marker alone', async () => {
    const user = (i: number): StoredComment => ({ id: i, body: `comment ${i}`, user: { login: `dev${i % 7}`, type: 'User' }, html_url: `https://github.com/${REPO}/pull/${PR}#issuecomment-${i}` })
    const seeded = Array.from({ length: 250 }, (_, i) => user(i + 1))
    seeded[40] = { ...seeded[40]!, body: `${COMMENT_MARKER}\nI wrote the marker by hand` } // a person's: never updated
    seeded[150] = { ...seeded[150]!, body: `${COMMENT_MARKER}\nold report`, user: { login: 'github-actions[bot]', type: 'Bot' } }
    const gh = await startGitHub({ comments: seeded })
    const r = await comment([], githubEnv(gh.url))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^comment: updated https:\/\/github\.com\/acme\/agents\/pull\/7#issuecomment-151 /)
    // Page 3 is never read: the comment was on page 2.
    expect(gh.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100', 'GET /repos/acme/agents/issues/7/comments?per_page=100&page=2', 'PATCH /repos/acme/agents/issues/comments/151'])
    expect(gh.comments).toHaveLength(250)
    expect(gh.comments[40]!.body).toBe(`${COMMENT_MARKER}\nI wrote the marker by hand`)
    expect(gh.comments[150]!.body.startsWith(`${COMMENT_MARKER}\n## ✅ Routing gate passed`)).toBe(true)
    expect(nextLink('<https://x/a?page=2>; rel="next", <https://x/a?page=5>; rel="last"')).toBe('https://x/a?page=2')
    expect(nextLink('<https://x/a?page=1>; rel="prev"')).toBeUndefined()
  })

  it('a 403 on a fork’s pull request (read-only token) or a 404 is a warning, exit 0; under Actions a ::warning annotation', async () => {
    const gh = await startGitHub({ refuse: (method) => (method === 'POST' ? { status: 403, message: 'Resource not accessible by integration' } : undefined) })
    const r = await comment([], githubEnv(gh.url))
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /^warning: GitHub answered 403 Forbidden \(Resource not accessible by integration\) to POST \/repos\/acme\/agents\/issues\/7\/comments: this token may not comment on pull request #7 of acme\/agents \(a pull request from a fork gets a read-only token\), so no comment was posted/,
    )
    expect(gh.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100', 'POST /repos/acme/agents/issues/7/comments'])
    expect(gh.comments).toHaveLength(0)

    const hidden = await startGitHub({ refuse: () => ({ status: 404, message: 'Not Found' }) })
    const actions = await comment([], githubEnv(hidden.url, { GITHUB_ACTIONS: 'true' }))
    expect(actions.code).toBe(0)
    expect(actions.stdout).toMatch(/^::warning title=routecheck comment::GitHub answered 404 Not Found \(Not Found\) to GET \/repos\/acme\/agents\/issues\/7\/comments\?per_page=100: this token may not comment/)
  })

  it('other errors are one sentence and exit 3, with the token taken out of what the server echoes', async () => {
    const echo = await startGitHub({ refuse: (method) => (method === 'GET' ? { status: 500, message: `upstream rejected header Authorization: Bearer ${TOKEN} (token ${encodeURIComponent(TOKEN)})` } : undefined) })
    const r = await comment([], githubEnv(echo.url))
    expect(r.code).toBe(3)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(
      'routecheck comment: could not post the comment on pull request #7 of acme/agents: GitHub answered 500 Internal Server Error to GET /repos/acme/agents/issues/7/comments?per_page=100: upstream rejected header Authorization: [redacted] (token [redacted])\n',
    )

    const wrongToken = await comment([], githubEnv(echo.url, { GITHUB_TOKEN: `${TOKEN}x` }))
    expect(wrongToken.code).toBe(3)
    expect(wrongToken.stderr).toMatch(/GitHub answered 401 Unauthorized to GET .*: Bad credentials\n$/)

    const closed = await startGitHub()
    await closed.stop()
    const unreachable = await comment([], githubEnv(closed.url))
    expect(unreachable.code).toBe(3)
    expect(unreachable.stderr).toMatch(/^routecheck comment: could not post the comment on pull request #7 of acme\/agents: could not reach GitHub at http:\/\/127\.0\.0\.1:\d+ for GET \/repos\/acme\/agents\/issues\/7\/comments\?per_page=100: .*ECONNREFUSED/)
    expect(redact(`a ${TOKEN} b ${encodeURIComponent(TOKEN)}`, [` ${TOKEN}\n`])).toBe('a [redacted] b [redacted]')
  })

  it('usage: no token, plain http to a remote host, or no pull request in the event is exit 2; --pr and --dry-run work without an event', async () => {
    const gh = await startGitHub()
    expect((await comment([], githubEnv(gh.url, { GITHUB_TOKEN: '' }))).stderr).toMatch(/^routecheck: comment needs a token in \$GITHUB_TOKEN/)
    const plain = await comment([], githubEnv('http://api.example.com'))
    expect(plain.code).toBe(2)
    expect(plain.stderr).toMatch(/\$GITHUB_API_URL must be https \(plain http only to localhost\)/)
    const push = path.join(path.dirname(eventFile), 'push.json')
    await writeFile(push, JSON.stringify({ ref: 'refs/heads/main', head_commit: { id: HEAD_SHA } }))
    const noPr = await comment([], githubEnv(gh.url, { GITHUB_EVENT_PATH: push }))
    expect(noPr.code).toBe(2)
    expect(noPr.stderr).toMatch(/holds no pull_request\.number; pass --pr N/)
    expect(gh.seen()).toEqual([])

    const byFlag = await comment(['--pr', '7', 'reports/latest/routing'], githubEnv(gh.url, { GITHUB_EVENT_PATH: '' }))
    expect(byFlag.code, byFlag.stderr).toBe(0)
    expect(gh.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100', 'POST /repos/acme/agents/issues/7/comments'])
    const dry = await comment(['--dry-run', '--dataset', 'datasets/routing.csv'], { GITHUB_TOKEN: '', GITHUB_EVENT_PATH: '' })
    expect(dry.code).toBe(0)
    expect(dry.stdout.startsWith(`${COMMENT_MARKER}\n${firstLines(reports.routing, 3)}`)).toBe(true)
  })

  it('with no report.md, an earlier comment is updated to say so and none is created', async () => {
    const empty = await tempDir()
    written.push(empty)
    const none = await startGitHub()
    const r = await comment(['--out', empty], githubEnv(none.url))
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('comment: no report.md to post and no earlier comment on pull request #7; nothing posted\n')
    expect(none.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100'])

    const earlier = await startGitHub({ comments: [{ id: 5, body: `${COMMENT_MARKER}\nold`, user: { login: 'github-actions[bot]', type: 'Bot' }, html_url: 'https://github.com/acme/agents/pull/7#issuecomment-5' }] })
    const u = await comment(['--out', empty], githubEnv(earlier.url))
    expect(u.code).toBe(0)
    expect(earlier.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100', 'PATCH /repos/acme/agents/issues/comments/5'])
    expect(earlier.comments[0]!.body).toMatch(/^<!-- routecheck-gate -->\n_The routing gate wrote no report\.md in its last run/)
  })

  it('reports too long for one comment are cut at a line, fairly, each cut saying what it dropped', async () => {
    const big = (title: string, n: number) => [`## ${title}`, '', '<details><summary>flips</summary>', '', ...Array.from({ length: n }, (_, i) => `| r${i} | ${'x'.repeat(80)} |`), '', '</details>'].join('\n')
    const small = { source: 'reports/latest/small/report.md', text: '## small\n\nall of it' }
    const { body, cut } = commentBody([{ source: 'reports/latest/a/report.md', text: big('a', 600) }, small, { source: 'reports/latest/b/report.md', text: big('b', 600) }], { footer: '<sub>f</sub>' })
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT)
    expect(body.length).toBeGreaterThan(COMMENT_LIMIT - 2_000)
    expect(body.startsWith(`${COMMENT_MARKER}\n## a\n`)).toBe(true)
    expect(body).toContain('\n\n---\n\n## small\n\nall of it\n\n---\n\n## b\n')
    expect(cut).toEqual([expect.stringMatching(/^reports\/latest\/a\/report\.md: [\d,]+ of [\d,]+ characters cut$/), expect.stringMatching(/^reports\/latest\/b\/report\.md: [\d,]+ of [\d,]+ characters cut$/)])
    expect(body.match(/characters of reports\/latest\/[ab]\/report\.md cut to stay under GitHub's 65,536-character comment limit; the run folder has all of it\._/g)).toHaveLength(2)
    // Each cut closed the <details> it left open, so the rest of the comment renders.
    expect(body.match(/<details>/g)).toHaveLength(2)
    expect(body.match(/<\/details>/g)).toHaveLength(2)

    // Through the CLI: two run folders over the limit together, the cut said on stderr.
    const dir = await tempDir()
    written.push(dir)
    for (const name of ['a', 'b']) {
      await mkdir(path.join(dir, name))
      await writeFile(path.join(dir, name, 'report.md'), big(name, 500))
    }
    const r = await comment(['--dry-run', dir], { GITHUB_EVENT_PATH: '' })
    expect(r.code).toBe(0)
    expect(r.stdout.length).toBeLessThanOrEqual(COMMENT_LIMIT)
    expect(r.stderr).toMatch(/^comment: cut to fit GitHub's comment limit: .*\/a\/report\.md: [\d,]+ of [\d,]+ characters cut\ncomment: cut to fit GitHub's comment limit: .*\/b\/report\.md/)
  })
})

type ActionStep = { name?: string; id?: string; if?: string; uses?: string; shell?: string; run?: string; env?: Record<string, string>; 'working-directory'?: string; with?: Record<string, unknown> }
type Action = { name: string; inputs: Record<string, { description: string; default?: string }>; outputs: Record<string, { value: string }>; runs: { using: string; steps: ActionStep[] } }

const readAction = async () => parseYaml(await readFile(path.join(ROOT, 'action.yml'), 'utf8')) as Action

/** The routecheck command lines of a step's script: the command (args=(NAME)) and every --flag the script adds. */
function invocation(script: string): { command: string; flags: string[] } | undefined {
  if (!script.includes('dist/cli/main.js')) return undefined
  const command = /^args=\(([a-z]+)\)$/m.exec(script)?.[1]
  expect(script, 'the CLI is called with the args array').toMatch(/node "\$GITHUB_ACTION_PATH\/dist\/cli\/main\.js" "\$\{args\[@\]\}"/)
  return { command: command ?? '?', flags: [...script.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((m) => m[1]!) }
}

/**
 * A pull request that makes one description vaguer and re-makes the baseline with it, so the
 * baseline it carries passes it: a project with this repository's config and a baseline on main,
 * the pull request's branch, and the runner's checkout of it (shallow, as actions/checkout makes
 * one: without main's commit). `base` is the pull request's base commit.
 */
async function worsenedProject(): Promise<{ dir: string; base: string }> {
  const origin = await tempProject({ datasets: true })
  written.push(origin)
  await writeFile(path.join(origin, 'routecheck.config.json'), await readFile(path.join(ROOT, 'routecheck.config.json')))
  await writeFile(path.join(origin, '.gitignore'), 'reports/latest/\n')
  expect((await runInProcess(['baseline'], { cwd: origin })).code).toBe(0)
  const base = await gitInit(origin, 'agents, datasets, baseline')
  await git(origin, 'checkout', '-q', '-b', 'vaguer')
  const agent = path.join(origin, 'agents/golang-pro.md')
  await writeFile(agent, (await readFile(agent, 'utf8')).replace(/^description:.*$/m, 'description: "Use this agent for anything about code."'))
  expect((await runInProcess(['baseline'], { cwd: origin })).code).toBe(0)
  await commitAll(origin, 'golang-pro takes everything; baseline re-made')
  const dir = path.join(await tempDir('routecheck-checkout-'), 'repo')
  await shallowClone(origin, 'vaguer', dir)
  written.push(dir)
  return { dir, base }
}

/** GitHub's expressions the tests evaluate beyond inputs and step outputs: the pull_request event's base commit, the job's token. */
const eventContext = (base: string) => (e: string) => ({ 'github.event.pull_request.base.sha': base, 'github.token': TOKEN })[e]

describe('action.yml: the composite action', () => {
  it('parses, calls only commands and flags that exist, uses every input it declares, and defaults as the CLI does', async () => {
    const action = await readAction()
    expect(action.runs.using).toBe('composite')
    const steps = action.runs.steps
    const calls = steps.flatMap((s) => (s.run ? [invocation(s.run)].filter((x) => x !== undefined) : []))
    expect(calls.map((c) => c.command)).toEqual(['gate', 'merge', 'gate', 'comment'])
    for (const call of calls) {
      const command = COMMANDS.find((c) => c.name === call.command)
      expect(command, call.command).toBeDefined()
      const takes = [...Object.keys(command!.options), ...Object.keys(GLOBAL_OPTIONS)]
      for (const flag of call.flags) expect(takes, `${call.command} --${flag}`).toContain(flag)
    }
    // Every input is used, and nothing uses an input that is not declared.
    const text = await readFile(path.join(ROOT, 'action.yml'), 'utf8')
    const used = new Set([...text.matchAll(/\binputs\.([a-z][a-z-]*)/g)].map((m) => m[1]!))
    expect([...used].sort()).toEqual(Object.keys(action.inputs).sort())
    expect(Object.keys(action.inputs)).toEqual(expect.arrayContaining(['agents', 'datasets', 'baseline', 'router', 'model', 'max-cost', 'working-directory']))
    // Defaults: the CLI's own (empty = the flag is left out, so the config and the CLI decide).
    expect(action.inputs.baseline!.default).toBe(DEFAULT_BASELINE)
    for (const name of ['agents', 'datasets', 'router', 'model', 'max-cost', 'config', 'shard', 'merge-shards']) expect(action.inputs[name]!.default, name).toBe('')
    expect(action.inputs['only-if-changed']!.default).toBe('false')
    // The baseline is the base branch's: the pull request's base commit, fetched before any step reads the baseline.
    expect(action.inputs['baseline-ref']!.default).toBe('${{ github.event.pull_request.base.sha }}')
    const fetch = steps.find((s) => s.id === 'baseline-ref')!
    expect(fetch).toMatchObject({ if: "inputs.baseline-ref != ''", env: { RC_BASELINE_REF: '${{ inputs.baseline-ref }}' } })
    expect(fetch.run).toMatch(/git fetch --no-tags --depth=1 origin "\$RC_BASELINE_REF"/)
    for (const id of ['shard', 'gate']) {
      const s = steps.find((x) => x.id === id)!
      expect(steps.indexOf(fetch), id).toBeLessThan(steps.indexOf(s))
      expect(s.env?.RC_BASELINE_REF, id).toBe('${{ steps.baseline-ref.outputs.ref }}')
      expect(s.run, id).toContain('opt --baseline-ref "$RC_BASELINE_REF"')
    }
    // Inputs reach scripts through env only, never pasted into a script.
    for (const s of steps) expect(s.run ?? '', s.name).not.toMatch(/\$\{\{/)
    // The verdict waits for the comment: the gate step records the exit code, the comment runs always, the last step fails.
    const names = steps.map((s) => s.id ?? s.name)
    expect(names.indexOf('gate')).toBeLessThan(names.indexOf('Comment on the pull request'))
    expect(steps.at(-1)!.name).toBe('Fail when the gate did not pass')
    expect(steps.find((s) => s.name === 'Comment on the pull request')!.if).toMatch(/^always\(\) && steps\.gate\.outcome == 'success'/)
    expect(steps.find((s) => s.name === 'Install routecheck')).toMatchObject({ 'working-directory': '${{ github.action_path }}', run: expect.stringMatching(/^npm ci /) })
  })

  it('the agents and datasets inputs take several folders and files, separated by spaces or new lines, each its own flag', async () => {
    const action = await readAction()
    // A stand-in for the CLI that prints the arguments it was given: the step's own bash builds them.
    const fake = await tempDir('routecheck-fake-action-')
    written.push(fake)
    await mkdir(path.join(fake, 'dist/cli'), { recursive: true })
    await writeFile(path.join(fake, 'dist/cli/main.js'), 'console.log(JSON.stringify(process.argv.slice(2)))\n')
    const gate = action.runs.steps.find((x) => x.id === 'gate')!
    const script = path.join(fake, 'gate.sh')
    await writeFile(script, gate.run!)
    const argv = await new Promise<string[]>((resolve, reject) =>
      execFile(
        'bash',
        ['--noprofile', '--norc', '-eo', 'pipefail', script],
        { cwd: fake, env: { ...process.env, GITHUB_ACTION_PATH: fake, GITHUB_OUTPUT: path.join(fake, 'out'), RC_AGENTS: '.claude/agents\n  shared/agents ', RC_DATASETS: 'a.csv b.csv', RC_ROUTER: 'lexical' } },
        (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout.split('\n')[0]!) as string[])),
      ),
    )
    expect(argv.filter((a, i) => argv[i - 1] === '--agents')).toEqual(['.claude/agents', 'shared/agents'])
    expect(argv.filter((a, i) => argv[i - 1] === '--dataset')).toEqual(['a.csv', 'b.csv'])
    expect(argv[0]).toBe('gate')
  })

  it('the example workflow uses the action, on the paths that matter, with permission to comment', async () => {
    const wf = parseYaml(await readFile(path.join(ROOT, '.github/workflows/routing-gate.yml'), 'utf8')) as {
      on: { pull_request: { paths: string[] } }
      permissions: Record<string, string>
      jobs: Record<string, { steps: ActionStep[] }>
    }
    expect(wf.on.pull_request.paths).toEqual(expect.arrayContaining(['.claude/agents/**', 'agents/**', 'datasets/**', 'routecheck.config.json', 'reports/baseline*.json']))
    expect(wf.permissions['pull-requests']).toBe('write')
    const action = await readAction()
    const uses = Object.values(wf.jobs).flatMap((j) => j.steps.filter((s) => s.uses === './'))
    expect(uses.length).toBeGreaterThan(0)
    for (const s of uses) for (const key of Object.keys(s.with ?? {})) expect(Object.keys(action.inputs), key).toContain(key)
    // No step runs routecheck by hand any more: the action does.
    expect(Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? '')).join('\n')).not.toMatch(/routecheck/)
  })

  it('run by bash as a runner would: the base commit is fetched, the gate fails against its baseline, the comment is posted, and only then the step fails', async () => {
    const action = await readAction()
    const { dir, base } = await worsenedProject()
    const gh = await startGitHub()
    const runner = await tempDir('routecheck-runner-')
    written.push(runner)
    const files = { GITHUB_OUTPUT: path.join(runner, 'output'), GITHUB_STEP_SUMMARY: path.join(runner, 'summary.md') }
    await Promise.all(Object.values(files).map((f) => writeFile(f, '')))
    let stepOutputs: Record<string, string> = {}
    const event = eventContext(base)
    const one = (e: string): string => {
      const fromEvent = event(e)
      if (fromEvent !== undefined) return fromEvent
      if (e.startsWith('inputs.')) return inputs[e.slice(7)]!
      if (e === 'steps.gate.outputs.exit-code') return stepOutputs['exit-code'] ?? ''
      if (e === 'steps.baseline-ref.outputs.ref') return stepOutputs.ref ?? ''
      // The matrix mode's steps (route, merge) do not run in a single job: their outputs are empty.
      if (/^steps\.(shard|merge)\.outputs\.[\w-]+$/.test(e)) return ''
      throw new Error(`the test does not evaluate ${e}`)
    }
    // `a || b`: the first that is not empty, as GitHub's expressions do.
    const expr = (v: string) => v.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => e.split('||').map((x) => one(x.trim())).find((x) => x !== '') ?? '')
    // Input defaults are expressions too (baseline-ref's is the pull request's base commit).
    const inputs: Record<string, string> = { ...Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [k, expr(v.default ?? '')])), 'github-token': TOKEN, datasets: 'datasets/routing.csv\n  datasets/python-backend.csv\n' }

    const step = async (name: string) => {
      const s = action.runs.steps.find((x) => x.name === name)!
      stepOutputs = Object.fromEntries([...(await readFile(files.GITHUB_OUTPUT, 'utf8')).matchAll(/^([\w-]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]))
      const env = { ...process.env, ...githubEnv(gh.url, { GITHUB_ACTIONS: 'true', GITHUB_ACTION_PATH: ROOT, ...files }), ...Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, expr(v)])) }
      const script = path.join(runner, `${s.id ?? 'step'}.sh`)
      await writeFile(script, s.run!)
      return new Promise<CliResult>((resolve) =>
        execFile('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { cwd: path.join(dir, expr(s['working-directory'] ?? '.')), env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
          const r = { code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }
          outputs.push(r)
          resolve(r)
        }),
      )
    }

    // The checkout has the pull request's commit alone; the step fetches the base commit and hands it on.
    await expect(git(dir, 'cat-file', '-e', `${base}^{commit}`)).rejects.toThrow()
    const fetched = await step("Fetch the baseline's commit")
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(await readFile(files.GITHUB_OUTPUT, 'utf8')).toBe(`ref=${base}\n`)
    await git(dir, 'cat-file', '-e', `${base}^{commit}`)

    // The baseline the pull request re-made passes it; the base commit's does not.
    expect((await runInProcess(['gate', '--out', path.join(runner, 'own')], { cwd: dir })).code).toBe(0)
    const gate = await step('Gate')
    expect(gate.code, gate.stderr).toBe(0)
    expect(await readFile(files.GITHUB_OUTPUT, 'utf8')).toBe(`ref=${base}\nexit-code=1\n`)
    expect(gate.stdout).toMatch(new RegExp(`^gate · router lexical · baseline reports/baseline\\.json at ${base.slice(0, 12)}\nbaseline: this pull request changes reports/baseline\\.json; the gate compares with the one at ${base.slice(0, 12)}`, 'm'))
    expect(gate.stdout).toMatch(/^::error file=agents\/golang-pro\.md,line=\d+,title=routecheck gate%3A /m)
    expect(await readFile(files.GITHUB_STEP_SUMMARY, 'utf8')).toMatch(/^## ❌ Routing gate failed/)

    const posted = await step('Comment on the pull request')
    expect(posted.code, posted.stderr).toBe(0)
    expect(posted.stdout).toMatch(/^comment: posted https:\/\/github\.com\/acme\/agents\/pull\/7#issuecomment-\d+ on pull request #7: reports\/latest\/routing\/report\.md, reports\/latest\/python-backend\/report\.md/)
    expect(gh.seen()).toEqual(['GET /repos/acme/agents/issues/7/comments?per_page=100', 'POST /repos/acme/agents/issues/7/comments'])
    expect(gh.comments[0]!.body).toMatch(/^<!-- routecheck-gate -->\n## ❌ Routing gate failed\n/)
    expect(gh.comments[0]!.body).toContain('> baseline: this pull request changes reports/baseline.json;')

    const fail = await step('Fail when the gate did not pass')
    expect(fail.code).toBe(1)
    expect(fail.stdout).toBe("routecheck gate exited 1: routing got worse (the Gate step's log, the step summary and the pull-request comment say more)\n")
  })
})

describe('action.yml in matrix mode, run by bash as runners would', () => {
  it('two route jobs upload a shard each; the gate job merges them, gates the whole as one job would, comments, then fails', async () => {
    const action = await readAction()
    const { dir, base } = await worsenedProject()
    const gh = await startGitHub()
    const event = eventContext(base)

    /** One job: its own runner folder, outputs by step id, `uses:` steps done by the test as the runner would. */
    const job = async (with_: Record<string, string>) => {
      const runner = await tempDir('routecheck-runner-')
      written.push(runner)
      const temp = path.join(runner, 'temp')
      await mkdir(temp)
      const files = { GITHUB_OUTPUT: path.join(runner, 'output'), GITHUB_STEP_SUMMARY: path.join(runner, 'summary.md') }
      await writeFile(files.GITHUB_STEP_SUMMARY, '')
      const stepOutputs: Record<string, Record<string, string>> = {}
      const one = (e: string): string => {
        const fromEvent = event(e)
        if (fromEvent !== undefined) return fromEvent
        if (e.startsWith('inputs.')) return inputs[e.slice(7)]!
        const out = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e)
        if (out) return stepOutputs[out[1]!]?.[out[2]!] ?? ''
        throw new Error(`the test does not evaluate ${e}`)
      }
      const expr = (v: string) => v.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => e.split('||').map((x) => one(x.trim())).find((x) => x !== '') ?? '')
      const inputs: Record<string, string> = { ...Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [k, expr(v.default ?? '')])), 'github-token': TOKEN, ...with_ }
      const run = async (name: string): Promise<CliResult> => {
        const s = action.runs.steps.find((x) => x.name === name)!
        await writeFile(files.GITHUB_OUTPUT, '')
        const env = { ...process.env, ...githubEnv(gh.url, { GITHUB_ACTIONS: 'true', GITHUB_ACTION_PATH: ROOT, RUNNER_TEMP: temp, ...files }), ...Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, expr(v)])) }
        const script = path.join(runner, `${s.id ?? 'step'}.sh`)
        await writeFile(script, s.run!)
        const r = await new Promise<CliResult>((resolve) =>
          execFile('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script], { cwd: path.join(dir, expr(s['working-directory'] ?? '.')), env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
            resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr })
          }),
        )
        outputs.push(r)
        stepOutputs[s.id ?? name] = Object.fromEntries([...(await readFile(files.GITHUB_OUTPUT, 'utf8')).matchAll(/^([\w-]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]))
        return r
      }
      return { run, temp, files, outputs: stepOutputs, expr }
    }

    const artifacts = await tempDir('routecheck-artifacts-')
    written.push(artifacts)
    for (const k of [1, 2]) {
      const route = await job({ shard: `${k}/2` })
      // Each job fetches the base commit when its checkout lacks it (here the jobs share one checkout: the second finds it).
      const fetched = await route.run("Fetch the baseline's commit")
      expect(fetched.code, fetched.stderr).toBe(0)
      expect(route.outputs['baseline-ref']).toEqual({ ref: base })
      const r = await route.run('Route a shard')
      expect(r.code, r.stderr).toBe(0)
      expect(route.outputs.shard).toEqual({ artifact: `routecheck-shard-${k}-of-2`, 'exit-code': '0' })
      expect(r.stdout).toContain(`gate: routed shard ${k} of 2, nothing judged`)
      // upload-artifact, then download-artifact into a folder per artifact, as the runner does.
      const upload = action.runs.steps.find((x) => x.name === 'Upload the shard')!
      expect(upload).toMatchObject({ if: "always() && steps.shard.outputs.artifact != ''", uses: 'actions/upload-artifact@v4', with: { name: '${{ steps.shard.outputs.artifact }}', path: '${{ runner.temp }}/routecheck-shard' } })
      await cp(path.join(route.temp, 'routecheck-shard'), path.join(artifacts, `routecheck-shard-${k}-of-2`), { recursive: true })
    }

    const gate = await job({ 'merge-shards': '2', out: 'reports/merged' })
    await cp(artifacts, path.join(gate.temp, 'routecheck-shards'), { recursive: true })
    expect((await gate.run("Fetch the baseline's commit")).code).toBe(0)
    const merged = await gate.run('Merge the shards')
    expect(merged.code, merged.stderr).toBe(0)
    expect(gate.outputs.merge).toEqual({ merged: 'true' })
    const judged = await gate.run('Gate')
    expect(gate.outputs.gate).toEqual({ 'exit-code': '1' })
    // The single job's gate, against the same base commit (the pull request's own baseline passes it).
    const single = await runInProcess(['gate', '--baseline-ref', base, '--out', 'single'], { cwd: dir })
    expect(single.code).toBe(1)
    expect(judged.stdout).toContain(`baseline: this pull request changes reports/baseline.json; the gate compares with the one at ${base.slice(0, 12)}`)
    // The verdict of the merged run is the verdict of the single job, line for line (the annotations too).
    const verdict = (text: string) => text.split('\n').filter((l) => !l.startsWith('::'))
    expect(verdict(judged.stdout)).toEqual(verdict(single.stdout))
    expect(judged.stdout).toMatch(/^::error file=agents\/golang-pro\.md,line=\d+,title=routecheck gate%3A /m)
    expect(await readFile(gate.files.GITHUB_STEP_SUMMARY, 'utf8')).toMatch(/^## ❌ Routing gate failed/)
    expect(JSON.parse(await readFile(path.join(dir, 'reports/merged/routing/gate.json'), 'utf8'))).toMatchObject({ passed: false })

    const posted = await gate.run('Comment on the pull request')
    expect(posted.code, posted.stderr).toBe(0)
    expect(posted.stdout).toMatch(/^comment: posted .* on pull request #7: reports\/merged\/python-backend\/report\.md, reports\/merged\/routing\/report\.md/)
    expect(gh.comments[0]!.body).toMatch(/^<!-- routecheck-gate -->\n## ❌ Routing gate failed\n/)
    const fail = await gate.run('Fail when the gate did not pass')
    expect(fail.code).toBe(1)
  })
})

describe('the token', () => {
  it('never appears in stdout, stderr or any file the runs wrote', async () => {
    expect(outputs.length).toBeGreaterThan(15)
    for (const r of outputs) expect(`${r.stdout}\n${r.stderr}`).not.toContain(TOKEN)
    const files: string[] = []
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) await walk(p)
        else files.push(p)
      }
    }
    for (const dir of written) await walk(dir)
    expect(files.length).toBeGreaterThan(20)
    for (const f of files) expect((await readFile(f)).includes(TOKEN), f).toBe(false)
  })
})
