import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadCatalogue, type Catalogue } from '../src/load/catalogue.js'
import { captureEngineRequest, promptFingerprint, withPrompt } from '../src/route/claude-code/capture.js'
import { BUILTIN_AGENTS } from '../src/load/builtin-agents.js'
import { classifyReply } from '../src/route/claude-code/decision-kind.js'
import { bundledClaudeBinary, claudeVersion } from '../src/route/claude-code/engine.js'
import { createClaudeCodeRouter, type ClaudeCodeRouter } from '../src/route/claude-code/router.js'
import { decisionSchema, RouterError, type Decision } from '../src/route/router.js'
import { startMessagesServer, type EngineReply, type Fault, type MessagesServer, type ReceivedRequest } from './support/messages-server.js'

// The real Claude Code binary, over real HTTP, against the local Messages stand-in. Each engine
// case costs about 0.6 s of CPU, so cases run together and every test checks several things.

const bin = bundledClaudeBinary()
const sdkInstalled = await import('@anthropic-ai/claude-agent-sdk').then(() => true, () => false)
const available = bin !== undefined && sdkInstalled
// Where the SDK ships a binary these tests must run: a missing one is a failure there, not a skip.
const mustRun = process.platform === 'linux' && process.arch === 'x64'
if (!available && !mustRun) console.warn(`claude-code tests skipped: no Claude Agent SDK binary for ${process.platform}-${process.arch}`)

const AGENT_FILES: Record<string, string> = {
  // Odd but valid bytes (CRLF, a quoted description, a trailing space) so a byte-for-byte copy is checked.
  'db-expert.md': '---\r\nname: db-expert\r\ndescription: "Database schema, SQL tuning and migrations expert." \r\ntools: Read, Grep\r\n---\r\nYou are a database expert.\r\n',
  'docs-writer.md': '---\nname: docs-writer\ndescription: Writes READMEs, changelogs and API reference documentation.\n---\nYou write docs.\n',
  'k8s-operator.md': '---\nname: k8s-operator\ndescription: Kubernetes deployments, Helm charts and cluster troubleshooting.\ntools: [Bash, Read]\n---\nYou run clusters.\n',
}

function sha(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

/** path → sha256 of every file under `dir`. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    out[path.relative(dir, file)] = sha(await readFile(file))
  }
  return out
}

/** The engine's working directory, as its request states it. */
function workingDirectory(r: ReceivedRequest): string {
  const match = /Primary working directory: (.+)/.exec(JSON.stringify(r.body.messages).replaceAll('\\n', '\n'))
  if (!match?.[1]) throw new Error('no working directory in the request')
  return match[1].trim()
}

/** Engine processes talking to `url` (Linux: read from /proc; elsewhere unknown, so empty). */
function enginesFor(url: string): string[] {
  if (process.platform !== 'linux') return []
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`ANTHROPIC_BASE_URL=${url}\0`)
      } catch {
        return false
      }
    })
}

describe.skipIf(!available && !mustRun)('claude-code router (real Claude Code, local Messages server)', () => {
  let tmp: string
  let catalogue: Catalogue
  let server: MessagesServer
  let router: ClaudeCodeRouter
  /** what the server answers, by prompt */
  const replies = new Map<string, EngineReply>()
  /** one fault on the first request of these prompts */
  const faults = new Map<string, Fault>()
  const faulted = new Set<string>()
  const env = (url: string) => ({ PATH: process.env.PATH, ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: url })
  const route = (prompt: string) => router.route(prompt, catalogue, new AbortController().signal)
  const routingFor = (prompt: string) => server.requests.filter((r) => r.engine?.prompt === prompt)

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'routecheck-cc-test-'))
    await mkdir(path.join(tmp, 'agents'))
    for (const [file, text] of Object.entries(AGENT_FILES)) await writeFile(path.join(tmp, 'agents', file), text)
    catalogue = (await loadCatalogue(path.join(tmp, 'agents'))).catalogue
    server = await startMessagesServer({
      engine: ({ prompt }) => replies.get(prompt),
      fault: ({ prompt }) => {
        const fault = faults.get(prompt)
        if (!fault || faulted.has(prompt)) return undefined
        faulted.add(prompt)
        return fault
      },
    })
    router = await createClaudeCodeRouter({ claudeBin: bin, env: env(server.url), timeoutMs: 60_000 })
  })

  afterAll(async () => {
    await router?.close()
    await server?.close()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  it('is named after the Claude Code version and model, and keeps a run journal', async () => {
    expect(router.id).toBe(`claude-code:${await claudeVersion(bin!)}:claude-haiku-4-5`)
    expect(router.id).toMatch(/^claude-code:\d+\.\d+\.\d+:claude-haiku-4-5$/)
    expect(router.cacheKey).toContain(router.version)
    expect(router.pricedModel).toBe('claude-haiku-4-5')
    expect(router.picksBuiltins).toBe(true)
  })

  it('sends one routing request per case, listing the catalogue and the built-ins, and records each kind as the server chose it', async () => {
    const cases: { prompt: string; reply: EngineReply; expected: Partial<Decision> }[] = [
      { prompt: 'Tune the slow orders query', reply: { kind: 'agent', subagent: 'db-expert' }, expected: { agent: 'db-expert', kind: 'custom' } },
      { prompt: 'Where is the retry logic defined?', reply: { kind: 'agent', subagent: 'Explore' }, expected: { agent: 'Explore', kind: 'builtin' } },
      { prompt: 'Research how our caching works end to end', reply: { kind: 'agent' }, expected: { agent: 'general-purpose', kind: 'builtin' } },
      { prompt: 'Show me package.json', reply: { kind: 'tool', name: 'Read', input: { file_path: 'package.json' } }, expected: { agent: 'none', kind: 'tool', tool: 'Read' } },
      { prompt: 'What does HTTP 418 mean?', reply: { kind: 'text', text: 'I am a teapot.' }, expected: { agent: 'none', kind: 'answer' } },
    ]
    for (const c of cases) replies.set(c.prompt, c.reply)
    const before = server.requests.length
    const decisions = await Promise.all(cases.map((c) => route(c.prompt)))

    // Exactly one request per case, and nothing else (no title, count_tokens or hello request).
    expect(server.requests.length - before).toBe(cases.length)
    cases.forEach((c, i) => {
      const decision = decisionSchema.parse(decisions[i])
      expect(decision).toMatchObject(c.expected)
      if (c.expected.kind !== 'tool') expect(decision.tool).toBeUndefined()
      const [request, ...more] = routingFor(c.prompt)
      expect(more).toEqual([])
      expect(request!.engine!.reply).toEqual(c.reply)
      expect(request!.body.stream).toBe(true)
      // Usage is the engine's account of what the server sent.
      const sent = request!.sent!.usage
      expect(decision.usage).toEqual({ inputTokens: sent.input_tokens, outputTokens: sent.output_tokens, cacheReadTokens: sent.cache_read_input_tokens, cacheWriteTokens: sent.cache_creation_input_tokens })
    })

    const request = routingFor(cases[0]!.prompt)[0]!
    const listed = Object.fromEntries(request.engine!.agents.map((a) => [a.name, a.description]))
    for (const agent of catalogue.agents) expect(listed[agent.name]).toBe(agent.description)
    for (const builtin of ['general-purpose', 'Explore', 'Plan']) expect(listed).toHaveProperty(builtin)
    expect(request.engine!.systemChars).toBeGreaterThan(10_000) // the full claude_code preset, not a stub
    expect(request.engine!.tools).toEqual(expect.arrayContaining(['Agent', 'Bash', 'Edit', 'Read', 'Write']))

    // The agent files reached the engine's project byte for byte.
    const project = workingDirectory(request)
    for (const [file, text] of Object.entries(AGENT_FILES)) expect(await readFile(path.join(project, '.claude', 'agents', file), 'utf8')).toBe(text)

    // Every case sees the same request but for its prompt (a fresh session each, nothing carried over).
    const version = router.version
    const sameButPrompt = (r: ReceivedRequest) => JSON.stringify({ ...r.body, metadata: null })
    for (const c of cases.slice(1)) {
      const other = routingFor(c.prompt)[0]!
      expect(JSON.stringify({ ...withPrompt({ body: request.body, version }, c.prompt), metadata: null })).toBe(sameButPrompt(other))
      expect(other.body.messages).toHaveLength(1)
    }
  })

  it('runs nothing the model asks for: no command, no file written or edited, no connection, no subagent', async () => {
    const outside = await mkdtemp(path.join(tmp, 'outside-'))
    const marker = path.join(outside, 'bash-ran')
    let connections = 0
    const trap = net.createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve))
    const port = (trap.address() as net.AddressInfo).port
    try {
      // The workspace exists once a case has run in it.
      replies.set('Warm up', { kind: 'text' })
      await route('Warm up')
      const project = workingDirectory(routingFor('Warm up')[0]!)
      const agentFile = path.join(project, '.claude', 'agents', 'docs-writer.md')
      const before = await snapshot(project)

      const cases: { prompt: string; reply: EngineReply; tool: string }[] = [
        { prompt: 'Create the marker', reply: { kind: 'tool', name: 'Bash', input: { command: `touch ${marker}`, description: 'touch' } }, tool: 'Bash' },
        { prompt: 'Create a marker here', reply: { kind: 'tool', name: 'Bash', input: { command: `touch ${path.join(project, 'bash-ran')}`, description: 'touch' } }, tool: 'Bash' },
        { prompt: 'Call the local service', reply: { kind: 'tool', name: 'Bash', input: { command: `curl -s http://127.0.0.1:${port}/`, description: 'curl' } }, tool: 'Bash' },
        { prompt: 'Write a notes file', reply: { kind: 'tool', name: 'Write', input: { file_path: path.join(project, 'notes.txt'), content: 'written' } }, tool: 'Write' },
        { prompt: 'Edit the docs agent', reply: { kind: 'tool', name: 'Edit', input: { file_path: agentFile, old_string: 'You write docs.', new_string: 'EDITED' } }, tool: 'Edit' },
        { prompt: 'Document the schema', reply: { kind: 'agent', subagent: 'docs-writer' }, tool: '' },
      ]
      for (const c of cases) replies.set(c.prompt, c.reply)
      const sent = server.requests.length
      const decisions = await Promise.all(cases.map((c) => route(c.prompt)))

      // One request per case and nothing else: a subagent that ran would have sent its own.
      expect(server.requests.length - sent).toBe(cases.length)
      cases.forEach((c, i) => {
        expect(decisions[i]).toMatchObject(c.tool ? { agent: 'none', kind: 'tool', tool: c.tool } : { agent: 'docs-writer', kind: 'custom' })
        // One request each: no second turn after the denied call, and no subagent started.
        expect(routingFor(c.prompt)).toHaveLength(1)
      })
      expect(existsSync(marker)).toBe(false)
      expect(connections).toBe(0)
      expect(await snapshot(project)).toEqual(before)
    } finally {
      trap.close()
    }
  })

  it('recovers from a 529, a dropped connection and a stream cut short, through Claude Code\'s own retries', async () => {
    const cases: { prompt: string; fault: Fault; reply: EngineReply; agent: string }[] = [
      { prompt: 'Overloaded once: migrate the users table', fault: 'overloaded', reply: { kind: 'agent', subagent: 'db-expert' }, agent: 'db-expert' },
      { prompt: 'Dropped once: write the changelog', fault: 'drop', reply: { kind: 'agent', subagent: 'docs-writer' }, agent: 'docs-writer' },
      { prompt: 'Cut once: roll out the Helm chart', fault: 'stream_cut', reply: { kind: 'agent', subagent: 'k8s-operator' }, agent: 'k8s-operator' },
    ]
    for (const c of cases) {
      replies.set(c.prompt, c.reply)
      faults.set(c.prompt, c.fault)
    }
    const decisions = await Promise.all(cases.map((c) => route(c.prompt)))
    cases.forEach((c, i) => {
      expect(decisions[i]).toMatchObject({ agent: c.agent, kind: 'custom' })
      const [first, second, ...more] = routingFor(c.prompt)
      expect(first!.fault).toBe(c.fault)
      expect(second!.fault).toBeUndefined()
      expect(more).toEqual([])
    })
  })

  it('routes inside a copy of a real project: its CLAUDE.md reaches the engine, the project itself is never touched', async () => {
    const real = path.join(tmp, 'real-project')
    await mkdir(path.join(real, '.claude', 'agents'), { recursive: true })
    await writeFile(path.join(real, 'CLAUDE.md'), 'House rule: database work always goes to db-expert.\n')
    await writeFile(path.join(real, 'app.js'), 'console.log(1)\n')
    await writeFile(path.join(real, '.claude', 'agents', 'stale.md'), '---\nname: stale\ndescription: An agent of the project, not of the catalogue.\n---\n')
    const before = await snapshot(real)
    const inProject = await createClaudeCodeRouter({ claudeBin: bin, env: env(server.url), workspace: real, timeoutMs: 60_000 })
    try {
      const prompt = 'Overwrite app.js in the real project'
      replies.set(prompt, { kind: 'tool', name: 'Write', input: { file_path: path.join(real, 'app.js'), content: 'overwritten' } })
      expect(await inProject.route(prompt, catalogue, new AbortController().signal)).toMatchObject({ agent: 'none', kind: 'tool', tool: 'Write' })
      const request = routingFor(prompt)[0]!
      expect(workingDirectory(request)).not.toBe(real)
      expect(JSON.stringify(request.body.messages)).toContain('House rule: database work always goes to db-expert.')
      expect(request.engine!.agents.map((a) => a.name)).not.toContain('stale') // the catalogue replaces the project's agents
      expect(await snapshot(real)).toEqual(before)
    } finally {
      await inProject.close()
    }
  })

  it('stops the run on an unknown model (fatal not_found)', async () => {
    const strict = await startMessagesServer({ models: ['claude-haiku-4-5'] })
    const wrong = await createClaudeCodeRouter({ claudeBin: bin, env: env(strict.url), model: 'claude-nonexistent-1', timeoutMs: 60_000 })
    try {
      const error = await wrong.route('Anything', catalogue, new AbortController().signal).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RouterError)
      expect(error).toMatchObject({ kind: 'not_found', fatal: true })
    } finally {
      await wrong.close()
      await strict.close()
    }
  })

  it('gives up on a reply that does not come: a timeout, and the engine process is ended', async () => {
    const slow = await startMessagesServer({ delayMs: 20_000 })
    const impatient = await createClaudeCodeRouter({ claudeBin: bin, env: env(slow.url), timeoutMs: 1500 })
    try {
      const started = performance.now()
      const error = await impatient.route('Anything', catalogue, new AbortController().signal).catch((e: unknown) => e)
      expect(error).toMatchObject({ kind: 'timeout' })
      expect(performance.now() - started).toBeLessThan(10_000)
      // The run's own signal stops a case too.
      const stop = new AbortController()
      setTimeout(() => stop.abort(), 500)
      await expect(impatient.route('Anything else', catalogue, stop.signal)).rejects.toMatchObject({ kind: 'timeout' })
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(enginesFor(slow.url)).toEqual([])
    } finally {
      await impatient.close()
      await slow.close()
    }
  })

  it('close() during a case ends its engine and leaves no folder behind', async () => {
    const slow = await startMessagesServer({ delayMs: 20_000 })
    const closing = await createClaudeCodeRouter({ claudeBin: bin, env: env(slow.url), timeoutMs: 60_000 })
    try {
      const pending = closing.route('Anything', catalogue, new AbortController().signal).catch((e: unknown) => e)
      for (let i = 0; i < 100 && slow.requests.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
      const root = path.dirname(workingDirectory(slow.requests[0]!))
      await closing.close()
      expect(await pending).toBeInstanceOf(RouterError)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(enginesFor(slow.url)).toEqual([])
      expect(existsSync(root)).toBe(false)
    } finally {
      await closing.close()
      await slow.close()
    }
  })

  it('captures the engine\'s exact request once, and the prompt is the only thing a replay changes', async () => {
    const prompt = 'Tune the slow orders query, please'
    const captured = await captureEngineRequest(catalogue, { claudeBin: bin, prompt })
    expect(captured.requests).toBe(1)
    expect(captured.version).toBe(router.version)
    expect(captured.url).toMatch(/^\/v1\/messages/)
    expect(captured.headers).not.toHaveProperty('x-api-key')
    expect(captured.headers['anthropic-version']).toBe('2023-06-01')
    const body = captured.body as { stream: boolean; model: string; tools: { name: string }[]; system: { text: string }[] }
    expect(body).toMatchObject({ stream: true, model: 'claude-haiku-4-5' })
    // Same tools as the router's requests; the billing fingerprint follows the prompt.
    const seen = routingFor('Tune the slow orders query')[0]!
    expect(body.tools.map((t) => t.name)).toEqual(seen.engine!.tools)
    expect(body.system[0]!.text).toContain(`cc_version=${captured.version}.${promptFingerprint(prompt, captured.version)}`)
    expect(seen.body.system[0].text).toContain(`cc_version=${captured.version}.${promptFingerprint(seen.prompt, captured.version)}`)
  })

  it('close() removes the workspace and the private config dir', async () => {
    const project = workingDirectory(routingFor('Warm up')[0]!)
    const root = path.dirname(project)
    expect(existsSync(path.join(root, 'home', '.claude'))).toBe(true)
    await router.close()
    expect(existsSync(root)).toBe(false)
    await expect(route('After close')).rejects.toThrow(/closed/)
  })
})

describe('classifyReply (shared with a replay of the engine\'s request)', () => {
  const custom = new Set(['db-expert'])
  const call = (name: string, input: unknown) => [{ type: 'thinking' }, { type: 'text', text: 'Sure.' }, { type: 'tool_use', name, input }]

  it('tells custom, built-in, tool and answer apart', () => {
    expect(classifyReply(call('Agent', { subagent_type: 'db-expert' }), custom)).toEqual({ agent: 'db-expert', kind: 'custom' })
    expect(classifyReply(call('Task', { subagent_type: 'db-expert' }), custom)).toEqual({ agent: 'db-expert', kind: 'custom' })
    expect(classifyReply(call('Agent', { subagent_type: 'Plan' }), custom)).toEqual({ agent: 'Plan', kind: 'builtin' })
    expect(classifyReply(call('Agent', { subagent_type: 'fork' }), custom, [])).toEqual({ agent: 'fork', kind: 'builtin' })
    expect(classifyReply(call('Agent', { prompt: 'x' }), custom)).toEqual({ agent: 'general-purpose', kind: 'builtin' })
    expect(classifyReply(call('Grep', { pattern: 'x' }), custom)).toEqual({ agent: 'none', kind: 'tool', tool: 'Grep' })
    expect(classifyReply([{ type: 'text', text: 'Done.' }], custom)).toEqual({ agent: 'none', kind: 'answer' })
    expect(classifyReply([], custom)).toEqual({ agent: 'none', kind: 'answer' })
  })

  it('keeps a name that is neither a catalogue agent nor a built-in, so the run scores it as unknown', () => {
    expect(classifyReply(call('Agent', { subagent_type: 'ghost' }), custom)).toEqual({ agent: 'ghost', kind: 'custom' })
    expect(BUILTIN_AGENTS).toContain('general-purpose')
  })
})

describe('the Messages stand-in, for Claude Code (no binary needed)', () => {
  const listing = (agents: string) => `<system-reminder>\nAvailable agent types for the Agent tool:\n${agents}\n\nWhen you launch multiple agents, send them in one message.\n</system-reminder>\n`
  const engineBody = (prompt: string) => ({
    model: 'claude-haiku-4-5',
    max_tokens: 1000,
    system: [{ type: 'text' as const, text: 'You are an agent.' }],
    tools: [{ name: 'Agent', description: 'Launch an agent', input_schema: { type: 'object' as const } }],
    messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: listing('- Explore: Searches code for files and symbols.\n- db-expert: Postgres query tuning.\n  Also migrations. (Tools: Read)') }, { type: 'text' as const, text: prompt }] }],
  })

  it('streams a reply the Anthropic SDK reads back whole, and logs the listing, prompt and reply', async () => {
    const server = await startMessagesServer({ engine: ({ prompt }) => (prompt.includes('run') ? { kind: 'tool', name: 'Bash', input: { command: 'ls -la', description: 'list' } } : undefined) })
    try {
      const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 })
      const delegated = await client.messages.stream(engineBody('tune this postgres query')).finalMessage()
      expect(delegated.content.at(-1)).toMatchObject({ type: 'tool_use', name: 'Agent', input: { subagent_type: 'db-expert', prompt: 'tune this postgres query' } })
      expect(delegated.stop_reason).toBe('tool_use')
      const tool = await client.messages.stream(engineBody('run it')).finalMessage()
      expect(tool.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'Bash', input: { command: 'ls -la', description: 'list' } })])
      expect(tool.usage.output_tokens).toBe(server.requests[1]!.sent!.usage.output_tokens)
      const [first] = server.requests
      expect(first!.engine).toMatchObject({ prompt: 'tune this postgres query', tools: ['Agent'], systemChars: 'You are an agent.'.length, reply: { kind: 'agent', subagent: 'db-expert' } })
      expect(first!.engine!.agents).toEqual([
        { name: 'Explore', description: 'Searches code for files and symbols.' },
        { name: 'db-expert', description: 'Postgres query tuning.\n  Also migrations.' },
      ])
    } finally {
      await server.close()
    }
  })

  it('answers and logs the other requests Claude Code can make: hello, count_tokens, a title', async () => {
    const server = await startMessagesServer()
    try {
      expect((await fetch(`${server.url}/api/hello`, { method: 'HEAD' })).status).toBe(200)
      const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 })
      const counted = await client.messages.countTokens({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hello' }] })
      expect(counted.input_tokens).toBeGreaterThan(0)
      const title = await client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: '<session>\nhello\n</session>\nName this session.' }] }).finalMessage()
      expect(title.content[0]).toMatchObject({ type: 'text' })
      expect(server.requests.map((r) => [r.path, r.engine !== undefined])).toEqual([
        ['/api/hello', false],
        ['/v1/messages/count_tokens', false],
        ['/v1/messages', false],
      ])
    } finally {
      await server.close()
    }
  })
})
