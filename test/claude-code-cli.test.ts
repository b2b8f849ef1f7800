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
