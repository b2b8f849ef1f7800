import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { FatalRouterError } from '../src/route/run.js'
import { createToolCaller, type ToolSpec } from '../src/route/tool-call.js'
import { startMessagesServer, type MessagesServer, type ServerOptions } from './support/messages-server.js'

/**
 * The drafting client (generate, probes, improve) against the local Messages
 * server through the real SDK: answers in order, checked by their schema,
 * asked again once when malformed, cached per request, within --max-cost.
 */
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const KEY = 'sk-ant-test-tool-call-key'
const promptsTool: ToolSpec<{ prompts: string[] }> = {
  name: 'draft_prompts',
  description: 'Write prompts',
  input: z.object({ prompts: z.array(z.string().min(1)).min(1) }),
}
const requests = ['alpha', 'beta', 'gamma'].map((word) => ({ system: 'You write prompts.', prompt: `three prompts about ${word}`, maxTokens: 500, expectedOutputTokens: 100 }))

async function serve(opts: ServerOptions): Promise<MessagesServer> {
  server = await startMessagesServer({ retryAfter: '0', ...opts })
  return server
}
const env = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: KEY })
const echoPrompt: ServerOptions['tool'] = ({ prompt }) => ({ prompts: [`${prompt} #1`, `${prompt} #2`] })

describe('tool calls: Claude drafting through the anthropic client', () => {
  it('answers in request order through the one tool, its schema derived from zod, on the default model (which refuses a forced tool choice); a rerun is answered from the cache folder', async () => {
    const s = await serve({ tool: echoPrompt, delayMs: 5 })
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'rc-tool-'))
    const caller = createToolCaller({ env: env(s), timeoutMs: 5000, cacheDir })
    expect(caller.model).toBe('claude-sonnet-5-5')
    const answers = await caller.askAll(requests, promptsTool)
    expect(answers.map((a) => a.value?.prompts[0])).toEqual(['three prompts about alpha #1', 'three prompts about beta #1', 'three prompts about gamma #1'])
    expect(answers.every((a) => !a.cached && a.usage!.outputTokens > 0)).toBe(true)
    expect(caller.spentUsd()).toBeGreaterThan(0)
    const body = s.requests[0]!.body
    expect(body.tool_choice).toBeUndefined()
    expect(body.system[0].text).toMatch(/Answer only by calling the draft_prompts tool, once/)
    expect(body.tools[0].input_schema).toMatchObject({ type: 'object', required: ['prompts'] })
    expect(body.tools[0].input_schema.$schema).toBeUndefined()
    expect(body.system[0].cache_control).toEqual({ type: 'ephemeral' })

    const again = await createToolCaller({ env: env(s), timeoutMs: 5000, cacheDir }).askAll(requests, promptsTool)
    expect(s.requests).toHaveLength(3)
    expect(again.map((a) => [a.cached, a.value])).toEqual(answers.map((a) => [true, a.value]))
    const stored = await readdir(path.join(cacheDir, 'tool-calls'))
    expect(stored.filter((f) => f.endsWith('.json'))).toHaveLength(3)
    expect(stored.some((f) => f.endsWith('.tmp'))).toBe(false)
    for (const f of stored) expect(await readFile(path.join(cacheDir, 'tool-calls', f), 'utf8')).not.toContain(KEY)
  })

  it('the test server refuses a forced tool choice on a model that thinks by default, as the API does', async () => {
    const s = await serve({ tool: echoPrompt })
    const reply = await fetch(`${s.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ model: 'claude-sonnet-5-5', max_tokens: 100, tools: [{ name: 'draft_prompts', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'draft_prompts' }, messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(reply.status).toBe(400)
  })

  it('asks again when the reply calls no tool or breaks the schema, and gives up with the reason after two tries', async () => {
    const s = await serve({ tool: ({ prompt, seen }) => (prompt.includes('beta') ? { prompts: [] } : prompt.includes('gamma') && seen === 0 ? undefined : seen === 0 ? { wrong: 1 } : { prompts: ['ok'] }) })
    const answers = await createToolCaller({ env: env(s), timeoutMs: 5000, model: 'claude-haiku-4-5' }).askAll(requests, promptsTool)
    expect(answers[0]!.value).toEqual({ prompts: ['ok'] })
    expect(answers[1]!.value).toBeUndefined()
    expect(answers[1]!.error).toMatch(/draft_prompts tool input does not fit its schema: prompts: .*\(after 2 tries\)/)
    expect(answers[2]!.value).toEqual({ prompts: ['ok'] })
    expect(s.requests).toHaveLength(6)
  })

  it('retries 429s and 5xx through the SDK, honouring retry-after', async () => {
    const s = await serve({ tool: echoPrompt, fault: ({ seen }) => (seen === 0 ? 'rate_limit' : seen === 1 ? 'server_error' : undefined) })
    const answers = await createToolCaller({ env: env(s), timeoutMs: 5000, model: 'claude-haiku-4-5' }).askAll(requests, promptsTool)
    expect(answers.every((a) => a.value !== undefined)).toBe(true)
    expect(s.counts().faults).toEqual({ rate_limit: 3, server_error: 3 })
  })

  it('without a key, says so before anything is sent, naming the offline source rather than the lexical router', () => {
    expect(() => createToolCaller({ env: {}, timeoutMs: 5000 })).toThrow(/^drafting with Claude needs an API key: export ANTHROPIC_API_KEY .*generate --from-examples, overlap --probe --probe-from examples$/)
  })

  it('stops at a refused key with one fatal error, and never prints the key', async () => {
    const s = await serve({ tool: echoPrompt, models: ['claude-haiku-4-5'] })
    const caller = createToolCaller({ env: env(s), timeoutMs: 5000, model: 'claude-unknown-9' })
    const error = await caller.askAll(requests, promptsTool).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FatalRouterError)
    expect(String((error as Error).message)).toMatch(/does not know model "claude-unknown-9"/)
  })

  it('--max-cost: sends nothing that would pass the budget, and dry-run estimates without a key', async () => {
    const s = await serve({ tool: echoPrompt })
    const dry = createToolCaller({ env: {}, timeoutMs: 5000, dryRun: true, model: 'claude-haiku-4-5' })
    const estimate = dry.estimate(requests, promptsTool)
    expect(estimate).toMatchObject({ requests: 3, outputTokens: 300 })
    expect(estimate.inputTokens).toBeGreaterThan(3 * 20)
    expect(estimate.usd).toBeCloseTo((estimate.inputTokens * 1 + 300 * 5) / 1e6, 12)
    await expect(dry.askAll(requests, promptsTool)).rejects.toThrow(/dry-run/)

    const answers = await createToolCaller({ env: env(s), timeoutMs: 5000, model: 'claude-haiku-4-5', maxUsd: estimate.usd! / 2, concurrency: 1 }).askAll(requests, promptsTool)
    expect(answers.filter((a) => a.notSent)).not.toHaveLength(0)
    expect(answers.find((a) => a.notSent)!.error).toMatch(/--max-cost/)
    expect(s.requests.length).toBe(answers.filter((a) => !a.notSent).length)
  })
})
