import { execFile } from 'node:child_process'
import { chmod, cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withPrompt, type CapturedRequest } from '../src/route/claude-code/capture.js'
import { bundledClaudeBinary } from '../src/route/claude-code/engine.js'
import { casesCsv, ROOT, runCli, runInProcess, tempDir, tempProject, writeFiles, type CliResult } from './support/cli.js'
import { startMessagesServer, type MessagesServer, type ReceivedRequest } from './support/messages-server.js'

// The anthropic router's claude-code style replays Claude Code's own request: captured once from
// the real engine (against a server inside routecheck), then sent by routecheck for every case.
// Checked here against the real engine, over real HTTP, with the server's default word-overlap
// rule answering both, through the built CLI (npm run build first).

const bin = bundledClaudeBinary()
const sdkInstalled = await import('@anthropic-ai/claude-agent-sdk').then(() => true, () => false)
const available = bin !== undefined && sdkInstalled
// Where the SDK ships a binary these tests must run: a missing one is a failure there, not a skip.
const mustRun = process.platform === 'linux' && process.arch === 'x64'
if (!available && !mustRun) console.warn(`anthropic replay tests skipped: no Claude Agent SDK binary for ${process.platform}-${process.arch}`)

/** Custom agents, Claude Code's own agents and plain answers, by the server's word-overlap rule over the listing. */
const CASES = [
  ['c1', 'goroutine leak in the grpc server go', 'golang-pro'],
  ['c2', 'terraform wants to destroy the kubernetes cluster', 'devops-engineer'],
  ['c3', 'swiftui list scrolls slowly on iphone', 'mobile-developer'],
  ['c4', 'Plan the implementation strategy and its architectural trade-offs', 'Plan'],
  ['c5', 'find files by pattern and grep for symbols', 'Explore'],
  ['c6', 'configure the status line setting', 'statusline-setup'],
  ['c7', 'hello there', 'none'],
  ['c8', 'what is the capital of peru', 'none'],
] as const

type Summary = { router: { id: string }; requests: { sent: number; fromCache: number; retries: number; errored: number }; metrics: { errored: number }; cases: { id: string; decision: string | null; decisionKind?: string }[] }
const byPrompt = (s: MessagesServer, prompt: string) => s.requests.filter((r) => r.prompt === prompt)

/** What a replay must send for `prompt`: the capture with the prompt (and its billing fingerprint), the prompt's cache breakpoint moved to the block before it. */
function expectedBody(captured: CapturedRequest, prompt: string): Record<string, any> {
  const body = withPrompt(captured, prompt) as any
  const content = body.messages.at(-1).content
  const marker = content.at(-1).cache_control
  delete content.at(-1).cache_control
  content.at(-2).cache_control = marker
  return body
}

/** A request without what differs between two sessions of the engine on one machine: its temporary folders and ids. */
function normalised(body: Record<string, any>): string {
  const { metadata: _metadata, ...rest } = body
  return JSON.stringify(rest).replace(/routecheck-claude-code-[A-Za-z0-9]{6}/g, 'routecheck-claude-code-XXXXXX')
}

const PER_CONNECTION = ['host', 'content-length', 'connection', 'authorization', 'x-api-key']
const sentHeaders = (r: ReceivedRequest) => Object.fromEntries(Object.entries(r.headers).filter(([k]) => !PER_CONNECTION.includes(k)))

describe.skipIf(!available && !mustRun)('anthropic router, claude-code style: a replay of Claude Code\'s own request', () => {
  let dir: string
  let spawnLog: string
  let replayServer: MessagesServer
  let engineServer: MessagesServer
  let replay: Summary
  let engine: Summary
  let captured: CapturedRequest
  let captureFile: string
  const env = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: 'test-key' })
  /** Claude Code processes started since the log was last cleared, `claude --version` aside. */
  const engineSpawns = async () => (await readFile(spawnLog, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '' && l !== '--version').length

  beforeAll(async () => {
    dir = await tempProject()
    spawnLog = path.join(dir, 'spawns.log')
    // The real binary behind a wrapper that notes every start, so a test can tell whether Claude Code ran.
    const wrapper = path.join(dir, 'claude-wrapper')
    await writeFile(wrapper, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${spawnLog}'\nexec '${bin}' "$@"\n`)
    await chmod(wrapper, 0o755)
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES), 'routecheck.config.json': JSON.stringify({ claudeCode: { bin: wrapper } }) })
    replayServer = await startMessagesServer()
    engineServer = await startMessagesServer()
    const args = ['eval', '--dataset', 'cases.csv', '--repeats', '1', '--concurrency', '4', '--json']
    const [r, e] = await Promise.all([
      runCli([...args, '--router', 'anthropic', '--out', 'replay'], { cwd: dir, env: env(replayServer) }),
      runCli([...args, '--router', 'claude-code', '--out', 'engine'], { cwd: dir, env: env(engineServer) }),
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(e.code, e.stderr).toBe(0)
    replay = JSON.parse(r.stdout) as Summary
    engine = JSON.parse(e.stdout) as Summary
    expect(r.stderr).toMatch(/captured Claude Code \d+\.\d+\.\d+'s routing request for 15 agents in [\d.]+ s: \.routecheck\/cache\/claude-code-request-[0-9a-f]{24}\.json/)
    const cacheDir = path.join(dir, '.routecheck/cache')
    captureFile = path.join(cacheDir, (await readdir(cacheDir)).find((f) => f.startsWith('claude-code-request-'))!)
    captured = (JSON.parse(await readFile(captureFile, 'utf8')) as { captured: CapturedRequest }).captured
  }, 120_000)

  afterAll(async () => {
    await replayServer?.close()
    await engineServer?.close()
  })

  it('is named after the model and the Claude Code version it replays, and picks what the engine picks, case by case', () => {
    const version = /^claude-code:(\d+\.\d+\.\d+):claude-haiku-4-5$/.exec(engine.router.id)?.[1]
    expect(version).toBeDefined()
    expect(replay.router.id).toBe(`anthropic:claude-haiku-4-5:claude-code@${version}`)
    expect(captured.version).toBe(version)
    const decided = (s: Summary) => s.cases.map((c) => [c.id, c.decision, c.decisionKind])
    expect(decided(replay)).toEqual(decided(engine))
    // The dataset reaches every kind the default rule can give: catalogue agents, Claude Code's own, plain answers.
    expect(new Set(replay.cases.map((c) => c.decisionKind))).toEqual(new Set(['custom', 'builtin', 'answer']))
    expect(replay.cases.find((c) => c.id === 'c4')).toMatchObject({ decision: 'Plan', decisionKind: 'builtin' })
    expect(replay.metrics.errored).toBe(0)
  })

  it('sends one request per case: the capture\'s headers and body but for the prompt, its billing fingerprint and the moved breakpoint', () => {
    expect(replayServer.requests).toHaveLength(CASES.length)
    expect(captured.url).toBe('/v1/messages?beta=true')
    // Claude Code marks the prompt block; the replay marks the block before it, and nothing else changes.
    const capturedContent = (captured.body as any).messages.at(-1).content
    expect(capturedContent.at(-1).cache_control).toEqual({ type: 'ephemeral' })
    expect(capturedContent.at(-2).cache_control).toBeUndefined()
    for (const [, prompt] of CASES) {
      const [request, ...more] = byPrompt(replayServer, prompt)
      expect(more).toEqual([])
      expect(request!.path).toBe('/v1/messages')
      expect(request!.body).toEqual(expectedBody(captured, prompt))
      expect(request!.body.stream).toBe(true)
      expect(sentHeaders(request!)).toEqual(captured.headers)
      expect(request!.headers.authorization ?? request!.headers['x-api-key']).toMatch(/test-key/)
      const content = request!.body.messages.at(-1).content
      expect(content.at(-1)).toEqual({ type: 'text', text: prompt })
      // Within the API's 4 breakpoints: system[1], system[2] and the last reminder.
      const marked = [...request!.body.tools, ...request!.body.system, ...content].filter((b: { cache_control?: unknown }) => b.cache_control !== undefined)
      expect(marked.length).toBeLessThanOrEqual(4)
      expect(marked.at(-1)).toBe(content.at(-2))
    }
  })

  it('shares one prefix across all requests (tools, system, reminders), listing the catalogue\'s agents and Claude Code\'s own', async () => {
    const prefixes = new Set(
      replayServer.requests.map((r) => {
        const { messages, system, ...rest } = r.body
        // system[0] is the billing header, whose fingerprint follows the prompt.
        return JSON.stringify({ ...rest, system: system.slice(1), reminders: messages.at(-1).content.slice(0, -1) })
      }),
    )
    expect(prefixes.size).toBe(1)
    const listed = replayServer.requests[0]!.engine!.agents.map((a) => a.name)
    const agents = (await readdir(path.join(dir, 'agents'))).map((f) => f.replace(/\.md$/, ''))
    expect(listed).toEqual(expect.arrayContaining([...agents, 'general-purpose', 'Explore', 'Plan']))
    expect(replayServer.requests[0]!.engine!.tools).toHaveLength(12)
  })

  it('is the request Claude Code itself sends for the same prompt, but for the engine\'s temporary folders and ids and the breakpoint', () => {
    for (const [, prompt] of CASES) {
      const [mine] = byPrompt(replayServer, prompt)
      const [theirs] = byPrompt(engineServer, prompt)
      expect(normalised(mine!.body)).toBe(normalised(expectedBody({ body: theirs!.body, version: captured.version } as CapturedRequest, prompt)))
      const { 'x-claude-code-session-id': _a, ...ours } = sentHeaders(mine!)
      // accept-encoding is the connection's business (routecheck's client does not decompress), like host and content-length.
      const { 'x-claude-code-session-id': _b, 'accept-encoding': _c, ...engines } = sentHeaders(theirs!)
      expect(ours).toEqual(engines)
    }
  })

  it('a second run replays the stored capture without starting Claude Code, with the same journal and the same bytes', async () => {
    await writeFile(spawnLog, '')
    const journals = async () => (await readdir(path.join(dir, '.routecheck/cache'))).filter((f) => f.endsWith('.jsonl')).sort()
    const before = await journals()
    const first = new Map(replayServer.requests.map((r) => [r.prompt, JSON.stringify(r.body)]))
    replayServer.reset()
    // Repeat 0 comes from the journal; repeat 1 is sent.
    const again = await runCli(['eval', '--router', 'anthropic', '--dataset', 'cases.csv', '--repeats', '2', '--out', 'again', '--json'], { cwd: dir, env: env(replayServer) })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/replaying Claude Code \d+\.\d+\.\d+'s request, captured \d{4}-\d\d-\d\dT/)
    expect(await engineSpawns()).toBe(0)
    const s = JSON.parse(again.stdout) as Summary
    expect(s.requests).toMatchObject({ fromCache: CASES.length, sent: CASES.length })
    expect(replayServer.requests).toHaveLength(CASES.length)
    for (const r of replayServer.requests) expect(JSON.stringify(r.body)).toBe(first.get(r.prompt))
    // The same journal (the replay's and the engine run's): the key did not change with the run.
    expect(await journals()).toEqual(before)
  })

  it('a fresh capture (another temporary workspace, other ids) keeps the journal key: the journal answers every case', async () => {
    await rm(captureFile)
    await writeFile(spawnLog, '')
    replayServer.reset()
    const r = await runCli(['eval', '--router', 'anthropic', '--dataset', 'cases.csv', '--repeats', '1', '--out', 'recaptured', '--json'], { cwd: dir, env: env(replayServer) })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/captured Claude Code .* routing request/)
    expect(await engineSpawns()).toBe(1)
    const again = (JSON.parse(await readFile(captureFile, 'utf8')) as { captured: CapturedRequest }).captured
    expect(again.headers['x-claude-code-session-id']).not.toBe(captured.headers['x-claude-code-session-id'])
    // Another temporary workspace is named in the request, yet the journal key is the same.
    const folder = (c: CapturedRequest) => /routecheck-claude-code-[A-Za-z0-9]{6}/.exec(JSON.stringify(c.body))?.[0]
    expect(folder(again)).toBeDefined()
    expect(folder(again)).not.toBe(folder(captured))
    expect((JSON.parse(r.stdout) as Summary).requests).toMatchObject({ fromCache: CASES.length, sent: 0 })
    expect(replayServer.requests).toHaveLength(0)
  })

  it('--dry-run prints the captured request and the estimate, needs no key, sends and stores nothing', async () => {
    const fresh = await tempProject()
    await writeFiles(fresh, { 'cases.csv': casesCsv(CASES) })
    const before = replayServer.requests.length
    const r = await runInProcess(['eval', '--router', 'anthropic', '--dataset', 'cases.csv', '--repeats', '1', '--dry-run'], { cwd: fresh, env: { ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: '', ANTHROPIC_BASE_URL: replayServer.url } })
    expect(r.code, r.stderr).toBe(0)
    const [head, ...rest] = r.stdout.split('\n')
    expect(head).toMatch(/^First request \(anthropic:claude-haiku-4-5:claude-code@\d+\.\d+\.\d+\):$/)
    const preview = JSON.parse(rest.join('\n').split('\n\n')[0]!) as { url: string; headers: Record<string, string>; body: Record<string, any> }
    expect(preview.url).toBe('/v1/messages?beta=true')
    expect(preview.headers).not.toHaveProperty('x-api-key')
    expect(preview.body.messages.at(-1).content.at(-1)).toEqual({ type: 'text', text: CASES[0][1] })
    expect(preview.body.tools).toHaveLength(12)
    expect(JSON.stringify(preview.body).length).toBeGreaterThan(80_000)
    // About 25,000 input tokens a request (the whole 100 KB request, once written to the cache, then read).
    const estimate = /(\d+) request\(s\) to send .*≈([\d,]+) input tokens, ≈\$([\d.]+)/.exec(r.stdout)
    expect(estimate?.[1]).toBe(String(CASES.length))
    expect(Number(estimate![2]!.replaceAll(',', '')) / CASES.length).toBeGreaterThan(20_000)
    expect(r.stdout).toMatch(/dry run: nothing was sent/)
    expect(await readdir(fresh)).not.toContain('.routecheck')
    expect(replayServer.requests).toHaveLength(before)
  })

  it('a 529, a dropped connection and a stream cut short are retried by routecheck\'s run engine, one request per try', async () => {
    const faulted = [
      { id: 'f1', prompt: 'overloaded: migrate the grpc server to go', fault: 'overloaded' },
      { id: 'f2', prompt: 'dropped: terraform destroys the kubernetes cluster', fault: 'drop' },
      { id: 'f3', prompt: 'cut: plan the implementation strategy', fault: 'stream_cut' },
    ] as const
    const server = await startMessagesServer({ fault: ({ prompt, seen }) => (seen === 0 ? faulted.find((f) => f.prompt === prompt)?.fault : undefined) })
    try {
      await writeFiles(dir, { 'faults.csv': casesCsv(faulted.map((f) => [f.id, f.prompt, 'none'])) })
      await writeFile(spawnLog, '')
      const r = await runCli(['eval', '--router', 'anthropic', '--dataset', 'faults.csv', '--repeats', '1', '--concurrency', '1', '--out', 'faults', '--json'], { cwd: dir, env: env(server) })
      expect(r.code, r.stderr).toBe(0)
      expect(await engineSpawns()).toBe(0) // the stored capture again
      const s = JSON.parse(r.stdout) as Summary
      expect(s.requests).toMatchObject({ sent: 3, retries: 3, errored: 0 })
      for (const { id, prompt, fault } of faulted) {
        const [first, second, ...more] = byPrompt(server, prompt)
        expect(first!.fault).toBe(fault)
        expect(second!.fault).toBeUndefined()
        expect(more).toEqual([])
        expect(second!.body).toEqual(first!.body)
        // The decision is the answer to the try that got through.
        const reply = second!.engine!.reply!
        expect(s.cases.find((c) => c.id === id)!.decision).toBe(reply.kind === 'agent' ? reply.subagent : 'none')
      }
    } finally {
      await server.close()
    }
  })
})

/** A copy of the built CLI whose node_modules lacks the Agent SDK, as after `npm install --omit=optional`. */
async function installWithoutSdk(): Promise<string> {
  const app = await tempDir('routecheck-no-sdk-')
  await cp(path.join(ROOT, 'dist'), path.join(app, 'dist'), { recursive: true })
  await cp(path.join(ROOT, 'templates'), path.join(app, 'templates'), { recursive: true })
  await cp(path.join(ROOT, 'package.json'), path.join(app, 'package.json'))
  await mkdir(path.join(app, 'node_modules', '@anthropic-ai'), { recursive: true })
  for (const entry of await readdir(path.join(ROOT, 'node_modules'))) {
    if (entry === '@anthropic-ai' || entry.startsWith('.')) continue
    await symlink(path.join(ROOT, 'node_modules', entry), path.join(app, 'node_modules', entry))
  }
  await symlink(path.join(ROOT, 'node_modules', '@anthropic-ai', 'sdk'), path.join(app, 'node_modules', '@anthropic-ai', 'sdk'))
  return app
}

function runApp(app: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(app, 'dist/cli/main.js'), ...args], { cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr })
    })
  })
}

describe('anthropic router without the Agent SDK', () => {
  it('falls back to --style template, routecheck\'s approximation, with one warning; --style claude-code asked for by name is exit 2 with the install command', async () => {
    const app = await installWithoutSdk()
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': casesCsv(CASES.slice(0, 2)) })
    const server = await startMessagesServer()
    try {
      const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'test-key', PATH: '/usr/bin:/bin' }
      const fallback = await runApp(app, ['eval', '--router', 'anthropic', '--dataset', 'cases.csv', '--repeats', '1', '--out', 'run', '--json'], { cwd: dir, env })
      expect(fallback.code, fallback.stderr).toBe(0)
      const warnings = fallback.stderr.split('\n').filter((l) => l.startsWith('warning:'))
      expect(warnings).toEqual([expect.stringMatching(/^warning: the Claude Agent SDK \(@anthropic-ai\/claude-agent-sdk\) is not installed, so the anthropic router uses --style template, routecheck's approximation .*npm install @anthropic-ai\/claude-agent-sdk/)])
      expect((JSON.parse(fallback.stdout) as Summary).router.id).toBe('anthropic:claude-haiku-4-5:template')
      expect(server.requests).toHaveLength(2)
      expect(server.requests[0]!.body.tools.map((t: { name: string }) => t.name)).toEqual(['Agent'])

      const asked = await runApp(app, ['eval', '--router', 'anthropic', '--style', 'claude-code', '--dataset', 'cases.csv', '--out', 'run2'], { cwd: dir, env })
      expect(asked.code).toBe(2)
      expect(asked.stderr).toMatch(/--style claude-code replays Claude Code's own request, which needs the Claude Agent SDK, but .*is not installed: run `npm install @anthropic-ai\/claude-agent-sdk`, or pick --style template/)
      expect(server.requests).toHaveLength(2)
    } finally {
      await server.close()
    }
  })

  it('names the styles in --help, the template one as an approximation', async () => {
    const r = await runInProcess(['eval', '--help'])
    expect(r.stdout).toMatch(/claude-code \(default: Claude Code's own request, captured once and replayed; needs the Agent SDK\)/)
    expect(r.stdout).toMatch(/template \(an approximation of Claude Code's Agent tool/)
  })
})
