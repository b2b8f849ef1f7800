import { spawn } from 'node:child_process'
import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CLI, runCli, tempProject, writeFiles, type CliResult } from './support/cli.js'
import { FAULTS, faultOnFirstAttempt, startMessagesServer, type MessagesServer } from './support/messages-server.js'

let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const TOPICS = ['goroutine leak in the grpc server', 'swiftui list scrolls slowly', 'terraform plan destroys the cluster', 'slow postgres query plan', 'flaky playwright test', 'readme for the cli', 'xss in the comment form', 'ab test significance', 'pydantic validation error in fastapi', 'what is the capital of peru']
const AGENTS = ['golang-pro', 'mobile-developer', 'devops-engineer', 'database-optimizer', 'test-automator', 'technical-writer', 'security-auditor', 'data-scientist', 'python-specialist', 'none']

/** n distinct prompts over ten topics, labelled with the topic's agent. */
function syntheticCases(n: number): string {
  const rows = Array.from({ length: n }, (_, i) => `s${i},"${TOPICS[i % 10]} (ticket ${i})",${AGENTS[i % 10]}`)
  return `id,prompt,expected\n${rows.join('\n')}\n`
}

function runInBackground(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }))
  })
}

async function journalFile(dir: string): Promise<string> {
  const cacheDir = path.join(dir, '.routecheck/cache')
  const [file] = await readdir(cacheDir)
  return path.join(cacheDir, file!)
}

describe('reliability', () => {
  // The template style: these tests are about the run engine and the journal, and count a malformed Agent call as a retry
  // (a replay of Claude Code's request reads it as Claude Code does: general-purpose). The replay: anthropic-replay.test.ts.
  it('a soak of 5,000 requests with 20% first-attempt faults of every kind loses nothing and decides every case', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'soak.csv': syntheticCases(5000) })
    server = await startMessagesServer({ retryAfter: '0.01', slowMs: 5000, fault: faultOnFirstAttempt(0.2, [...FAULTS]) })
    const r = await runCli(['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'soak.csv', '--repeats', '1', '--concurrency', '32', '--timeout', '2', '--out', 'run', '--json'], {
      cwd: dir,
      env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'k' },
    })
    expect(r.code, r.stderr.slice(-2000)).toBe(0)
    const s = JSON.parse(r.stdout)
    const faults = server.counts().faults
    expect(Object.keys(faults).sort()).toEqual([...FAULTS].sort())
    const injected = Object.values(faults).reduce((a, b) => a + b, 0)
    expect(injected).toBeGreaterThan(5000 * 0.15)
    expect(s.metrics.errored).toBe(0)
    expect(s.metrics.decided).toBe(5000)
    expect(s.cases.every((c: { decision: string | null }) => c.decision !== null)).toBe(true)
    // Decisions that are answers (an unknown agent, no tool call) are not retried; every other fault is, once
    // (a busy machine may add a timeout), and every try reached the server.
    const answered = (faults.unknown_agent ?? 0) + (faults.no_tool_call ?? 0)
    expect(s.requests.retries).toBeGreaterThanOrEqual(injected - answered)
    expect(server.counts().requests).toBe(5000 + s.requests.retries)
    expect(s.metrics.invalid).toBe(faults.unknown_agent)
    const journal = (await readFile(await journalFile(dir), 'utf8')).trimEnd().split('\n')
    expect(journal).toHaveLength(5001) // header + one line per request
  })

  it('two runs sharing one cache at the same time corrupt nothing, and a third sends nothing', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': syntheticCases(400) })
    server = await startMessagesServer({ delayMs: 2 })
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'k' }
    const args = ['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'cases.csv', '--repeats', '1', '--concurrency', '8']
    const [a, b] = await Promise.all([runInBackground([...args, '--out', 'a'], dir, env), runInBackground([...args, '--out', 'b'], dir, env)])
    expect([a.code, b.code]).toEqual([0, 0])
    const lines = (await readFile(await journalFile(dir), 'utf8')).trimEnd().split('\n')
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow()
    const keys = new Set(lines.slice(1).map((l) => JSON.parse(l).key).filter(Boolean))
    expect(keys.size).toBe(400)
    const sA = JSON.parse(await readFile(path.join(dir, 'a/summary.json'), 'utf8'))
    const sB = JSON.parse(await readFile(path.join(dir, 'b/summary.json'), 'utf8'))
    expect(sA.cases.map((c: { decision: string }) => c.decision)).toEqual(sB.cases.map((c: { decision: string }) => c.decision))
    server.reset()
    const third = await runCli([...args, '--out', 'c'], { cwd: dir, env })
    expect(third.code).toBe(0)
    expect(server.requests).toHaveLength(0)
  })

  it('a journal whose last line was cut off mid-write is repaired on the next run, which re-sends only that request', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': syntheticCases(30) })
    server = await startMessagesServer()
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'k' }
    const args = ['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'cases.csv', '--repeats', '1', '--out', 'run']
    expect((await runCli(args, { cwd: dir, env })).code).toBe(0)
    const file = await journalFile(dir)
    const size = (await stat(file)).size
    await truncate(file, size - 25) // the last line loses its end and its newline
    server.reset()
    const again = await runCli(args, { cwd: dir, env })
    expect(again.code).toBe(0)
    expect(again.stderr).toMatch(/removed a last line cut off mid-write/)
    expect(server.requests).toHaveLength(1)
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n')
    expect(lines).toHaveLength(31)
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow()
  })

  it('a corrupted cache file gives a clear message and a way out, not a crash', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': syntheticCases(10) })
    server = await startMessagesServer()
    const env = { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'k' }
    const args = ['eval', '--router', 'anthropic', '--style', 'template', '--dataset', 'cases.csv', '--repeats', '1', '--out', 'run']
    expect((await runCli(args, { cwd: dir, env })).code).toBe(0)
    const file = await journalFile(dir)
    const lines = (await readFile(file, 'utf8')).split('\n')
    // Garbage in the middle: skipped with a warning, those requests sent again.
    lines[3] = '{"key": 12, "decision": "garbage"'
    lines[5] = '\u0000\u0000\u0000'
    await writeFile(file, lines.join('\n'))
    server.reset()
    const middle = await runCli(args, { cwd: dir, env })
    expect(middle.code).toBe(0)
    expect(middle.stderr).toMatch(/skipped 2 unreadable line\(s\) \(4, 6/)
    expect(server.requests).toHaveLength(2)
    // A file that is not a journal at all: exit 2, the file, and the way out.
    await writeFile(file, 'PK\u0003\u0004 this is a zip file\n')
    const broken = await runCli(args, { cwd: dir, env })
    expect(broken.code).toBe(2)
    expect(broken.stderr).toContain(`${path.relative(dir, file)}:1: this is not a routecheck run journal`)
    expect(broken.stderr).toMatch(/fix: delete the file .*or run with --no-cache/)
    expect(broken.stderr).not.toMatch(/\n\s+at /)
    const bypass = await runCli([...args, '--no-cache'], { cwd: dir, env })
    expect(bypass.code).toBe(0)
  })
})
