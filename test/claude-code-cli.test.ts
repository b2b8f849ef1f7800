import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { bundledClaudeBinary } from '../src/route/claude-code/engine.js'
import { runInProcess, tempProject, writeFiles } from './support/cli.js'
import { startMessagesServer, type MessagesServer } from './support/messages-server.js'

// `eval --router claude-code` through the CLI's own path: flags, config, the run engine, the run folder.
const available = bundledClaudeBinary() !== undefined
const mustRun = process.platform === 'linux' && process.arch === 'x64'

let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const CASES = [
  'id,prompt,expected',
  'k1,my goroutines leak in the grpc server,golang-pro',
  'k2,find where the config files are parsed in this repo,Explore|code-reviewer',
  'k3,read the file src/app.ts,none',
  'k4,thanks that is all,none',
].join('\n')

describe.skipIf(!available && !mustRun)('routecheck eval --router claude-code', () => {
  it('routes through the real engine, records each decision with its kind, and prints where the prompts went', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': `${CASES}\n` })
    server = await startMessagesServer({
      engine: ({ prompt }) =>
        prompt.includes('goroutines') ? { kind: 'agent', subagent: 'golang-pro' } : prompt.includes('find where') ? { kind: 'agent', subagent: 'Explore' } : prompt.includes('read the file') ? { kind: 'tool', name: 'Read', input: { file_path: '/tmp/x' } } : { kind: 'text', text: 'Glad to help.' },
    })
    const r = await runInProcess(['eval', '--router', 'claude-code', '--dataset', 'cases.csv', '--repeats', '1', '--concurrency', '2', '--out', 'run', '--no-cache'], {
      cwd: dir,
      env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'test-key' },
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/router claude-code:\d+\.\d+\.\d+:claude-haiku-4-5/)
    expect(r.stdout).toContain('where the prompts went: custom 25% · built-in 25% (Explore 25%) · handled itself 25% (Read 25%) · answered 25% (of 4 decided cases)')
    const s = JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8')) as { cases: Array<{ id: string; decision: string; decisionKind: string; tool?: string; correct: boolean }>; decisionKinds: unknown; metrics: { accuracy: number } }
    expect(s.cases.map((c) => [c.id, c.decision, c.decisionKind, c.tool ?? null, c.correct])).toEqual([
      ['k1', 'golang-pro', 'custom', null, true],
      ['k2', 'Explore', 'builtin', null, true],
      ['k3', 'none', 'tool', 'Read', true],
      ['k4', 'none', 'answer', null, true],
    ])
    expect(s.metrics.accuracy).toBe(1)
    // One routing request per case, each listing the catalogue and Claude Code's own agents.
    const routing = server.requests.filter((q) => q.engine)
    expect(routing).toHaveLength(4)
    for (const q of routing) expect(q.engine!.agents.map((a) => a.name)).toEqual(expect.arrayContaining(['golang-pro', 'python-engineer', 'Explore', 'general-purpose', 'Plan']))
  })

  it('--dry-run needs no key and sends nothing', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': `${CASES}\n` })
    const r = await runInProcess(['eval', '--router', 'claude-code', '--dataset', 'cases.csv', '--dry-run'], { cwd: dir, env: { ANTHROPIC_API_KEY: '', ANTHROPIC_AUTH_TOKEN: '' } })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/First request \(claude-code:/)
    expect(r.stdout).toMatch(/dry run: nothing was sent\. Total: 12 request\(s\)/)
  })
})

describe.skipIf(!available && !mustRun)('a killed claude-code run', () => {
  it('re-sends nothing it finished: the journal holds each decision and its kind', async () => {
    const { spawn } = await import('node:child_process')
    const { CLI } = await import('./support/cli.js')
    const dir = await tempProject()
    const rows = Array.from({ length: 10 }, (_, i) => `c${i},${i % 2 === 0 ? 'my goroutines leak again' : 'search the repo for the retry helper'} ${i},${i % 2 === 0 ? 'golang-pro' : 'Explore'}`)
    await writeFiles(dir, { 'cases.csv': `id,prompt,expected\n${rows.join('\n')}\n` })
    server = await startMessagesServer({ delayMs: 300, engine: ({ prompt }) => (prompt.includes('goroutines') ? { kind: 'agent', subagent: 'golang-pro' } : { kind: 'agent', subagent: 'Explore' }) })
    const s = server
    const env = { ...process.env, ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: 'test-key' }
    const args = ['eval', '--router', 'claude-code', '--dataset', 'cases.csv', '--repeats', '1', '--concurrency', '2', '--out', 'run']
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env, stdio: 'ignore' })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    while (s.requests.filter((q) => q.engine).length < 4) await new Promise((r) => setTimeout(r, 20))
    child.kill('SIGKILL')
    await exited
    // Engines the killed run had started may still be finishing their one request: wait until the server is quiet.
    for (let last = -1; last !== s.requests.length; ) {
      last = s.requests.length
      await new Promise((r) => setTimeout(r, 1500))
    }
    const journalDir = path.join(dir, '.routecheck/cache')
    const { readdir } = await import('node:fs/promises')
    const [journalFile] = await readdir(journalDir)
    const lines = (await readFile(path.join(journalDir, journalFile!), 'utf8')).trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as { decision?: { agent: string; kind?: string } })
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.length).toBeLessThan(10)
    for (const l of lines) expect([['golang-pro', 'custom'], ['Explore', 'builtin']]).toContainEqual([l.decision!.agent, l.decision!.kind])

    s.reset()
    const again = await runInProcess(args, { cwd: dir, env: { ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: 'test-key' } })
    expect(again.code, again.stderr).toBe(0)
    expect(s.requests.filter((q) => q.engine)).toHaveLength(10 - lines.length)
    expect(again.stderr).toContain(`${lines.length} finished request(s) from earlier runs`)
  })
})
