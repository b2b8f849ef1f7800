import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  RateLimitError,
} from '@anthropic-ai/sdk'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  FAULTS,
  faultOnFirstAttempt,
  parseAgentLines,
  rankAgents,
  startMessagesServer,
  type Fault,
  type MessagesServer,
  type ServerOptions,
} from './support/messages-server.js'

const MODEL = 'claude-haiku-4-5'

const AGENTS = [
  {
    name: 'golang-pro',
    description: 'Write idiomatic Go code with goroutines, channels and interfaces.\nUse for Go refactoring, concurrency bugs and grpc services.',
    tools: 'Read, Edit, Bash',
  },
  {
    name: 'database-optimizer',
    description: 'Optimize SQL queries, design indexes and tune postgres.\n- Example: a slow report query\nExplains query plans.',
    tools: 'Read, Bash',
  },
  {
    name: 'frontend-developer',
    description: 'Build React components, CSS layouts and accessible user interfaces.',
    tools: 'Read, Write',
  },
]

const catalogueLines = AGENTS.map((a) => `- ${a.name}: ${a.description} (Tools: ${a.tools})`).join('\n')

const AGENT_TOOL = {
  name: 'Agent',
  description: `Launch a new agent to handle complex, multi-step tasks autonomously.\n\nAvailable agent types and the tools they have access to:\n${catalogueLines}`,
  input_schema: {
    type: 'object' as const,
    properties: {
      subagent_type: { type: 'string' },
      description: { type: 'string' },
      prompt: { type: 'string' },
    },
    required: ['subagent_type', 'description', 'prompt'],
  },
  cache_control: { type: 'ephemeral' as const },
}

function claudeCode(prompt: string, extra: Partial<Anthropic.MessageCreateParamsNonStreaming> = {}): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: MODEL,
    max_tokens: 256,
    system: [{ type: 'text', text: 'You are Claude Code.', cache_control: { type: 'ephemeral' } }],
    tools: [AGENT_TOOL],
    messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    ...extra,
  }
}

function classifier(prompt: string): Anthropic.MessageCreateParamsNonStreaming {
  const names = [...AGENTS.map((a) => a.name), 'none']
  return {
    model: MODEL,
    max_tokens: 256,
    system: `Pick the subagent for the request, or none.\n\n${catalogueLines}`,
    tools: [
      {
        name: 'route',
        input_schema: {
          type: 'object',
          properties: { agent: { enum: names }, runnerUp: { enum: names }, confidence: { type: 'number' } },
          required: ['agent'],
        },
      },
    ],
    tool_choice: { type: 'tool', name: 'route' },
    messages: [{ role: 'user', content: prompt }],
  }
}

function client(server: MessagesServer, opts: ConstructorParameters<typeof Anthropic>[0] = {}): Anthropic {
  return new Anthropic({ apiKey: 'test', baseURL: server.url, maxRetries: 0, ...opts })
}

/** Runs `fn` against a server started with `opts`, always closing it. */
async function withServer<T>(opts: ServerOptions, fn: (server: MessagesServer) => Promise<T>): Promise<T> {
  const server = await startMessagesServer(opts)
  try {
    return await fn(server)
  } finally {
    await server.close()
  }
}

function only<T>(items: readonly T[]): T {
  expect(items).toHaveLength(1)
  return items[0] as T
}

describe('messages server: answers', () => {
  let server: MessagesServer
  beforeAll(async () => {
    server = await startMessagesServer()
  })
  afterAll(() => server.close())
  beforeEach(() => server.reset())

  it('parses agent lines whose descriptions span several lines', () => {
    const agents = parseAgentLines(AGENT_TOOL.description)
    expect(agents.map((a) => a.name)).toEqual(['golang-pro', 'database-optimizer', 'frontend-developer'])
    expect(agents[1]?.description).toBe('Optimize SQL queries, design indexes and tune postgres.\n- Example: a slow report query\nExplains query plans.')
  })

  it('claude-code style: delegates an obvious prompt to the right agent', async () => {
    const prompt = 'my goroutines deadlock on a channel in this Go service'
    const message = await client(server).messages.create(claudeCode(prompt))
    expect(message.type).toBe('message')
    expect(message.role).toBe('assistant')
    expect(message.model).toBe(MODEL)
    expect(message.id).toMatch(/^msg_/)
    expect(message.stop_reason).toBe('tool_use')
    expect(message.stop_sequence).toBeNull()
    const block = only(message.content)
    expect(block.type).toBe('tool_use')
    if (block.type !== 'tool_use') return
    expect(block.name).toBe('Agent')
    expect(block.id).toMatch(/^toolu_/)
    expect(block.input).toMatchObject({ subagent_type: 'golang-pro', prompt })
    expect(typeof (block.input as { description?: unknown }).description).toBe('string')

    const request = only(server.requests)
    expect(request.prompt).toBe(prompt)
    expect(request.body.tools[0].name).toBe('Agent')
  })

  it('claude-code style: a continuation line of a description counts for its agent', async () => {
    const message = await client(server).messages.create(claudeCode('explain the query plans'))
    const block = only(message.content)
    expect(block.type === 'tool_use' && block.input).toMatchObject({ subagent_type: 'database-optimizer' })
  })

  it('claude-code style: answers an unrelated prompt with text only', async () => {
    const message = await client(server).messages.create(claudeCode('what is the capital of peru?', { system: 'plain string system' }))
    expect(message.stop_reason).toBe('end_turn')
    const block = only(message.content)
    expect(block.type).toBe('text')
  })

  it('classifier style: returns an agent from the enum, a runner-up and a confidence', async () => {
    const message = await client(server).messages.create(classifier('slow postgres query needs an index'))
    expect(message.stop_reason).toBe('tool_use')
    const block = only(message.content)
    expect(block.type === 'tool_use' && block.name).toBe('route')
    if (block.type !== 'tool_use') return
    const input = block.input as { agent: string; runnerUp: string; confidence: number }
    expect(input.agent).toBe('database-optimizer')
    expect([...AGENTS.map((a) => a.name), 'none']).toContain(input.runnerUp)
    expect(input.confidence).toBeGreaterThan(0)
    expect(input.confidence).toBeLessThan(1)

    const none = await client(server).messages.create(classifier('what is the capital of peru?'))
    const noneBlock = only(none.content)
    expect(noneBlock.type === 'tool_use' && noneBlock.input).toMatchObject({ agent: 'none', confidence: 0 })
  })

  it('is deterministic: the same request gets the same answer', async () => {
    const prompt = 'react component layout breaks with css grid'
    const a = await client(server).messages.create(classifier(prompt))
    const b = await client(server).messages.create(classifier(prompt))
    const inputs = (m: Anthropic.Message) => m.content.map((block) => (block.type === 'tool_use' ? block.input : block))
    expect(inputs(b)).toEqual(inputs(a))
    expect(rankAgents(prompt, parseAgentLines(catalogueLines)).agent).toBe('frontend-developer')
  })

  it('breaks ties by name and scores name words', () => {
    const agents = [
      { name: 'zeta-tool', description: 'handles widgets' },
      { name: 'alpha-tool', description: 'handles widgets' },
    ]
    expect(rankAgents('widgets please', agents)).toMatchObject({ agent: 'alpha-tool', runnerUp: 'zeta-tool', confidence: 1 / 3 })
    expect(rankAgents('the zeta widgets', agents)).toMatchObject({ agent: 'zeta-tool', runnerUp: 'alpha-tool', confidence: 2 / 4 })
  })

  it('simulates prompt caching: creation on the first request, read on the next with the same prefix', async () => {
    const first = await client(server).messages.create(claudeCode('goroutines leak'))
    const second = await client(server).messages.create(claudeCode('index for postgres'))
    const prefixTokens = Math.ceil((JSON.stringify(claudeCode('').tools) + JSON.stringify(claudeCode('').system)).length / 4)
    expect(first.usage).toMatchObject({ cache_creation_input_tokens: prefixTokens, cache_read_input_tokens: 0, output_tokens: 20 })
    expect(second.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: prefixTokens })
    expect(first.usage.input_tokens).toBeGreaterThan(0)
    expect(first.usage.input_tokens).toBeLessThan(prefixTokens)

    // no cache_control anywhere: everything is plain input
    const plain = await client(server).messages.create(classifier('goroutines leak'))
    expect(plain.usage).toMatchObject({ cache_creation_input_tokens: 0, cache_read_input_tokens: 0 })
    expect(plain.usage.input_tokens).toBeGreaterThan(prefixTokens / 2)
  })

  it('records the SDK headers: the api key travels as a bearer token', async () => {
    await client(server).messages.create(claudeCode('goroutines leak'))
    const { headers } = only(server.requests)
    expect(headers.authorization).toBe('Bearer test')
    expect(headers['anthropic-version']).toBeTypeOf('string')
    expect(headers['x-stainless-retry-count']).toBe('0')
  })

  it('answers 401 without a key, 400 for a malformed body', async () => {
    const anonymous = client(server, { defaultHeaders: { Authorization: null } })
    const error = await anonymous.messages.create(claudeCode('goroutines leak')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AuthenticationError)
    expect((error as APIError).status).toBe(401)
    expect((error as APIError).type).toBe('authentication_error')
    expect(only(server.requests).headers.authorization).toBeUndefined()

    const response = await fetch(`${server.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'k' }, body: '{not json' })
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    expect(response.headers.get('request-id')).toMatch(/^req_/)
  })

  it('counts requests and forgets everything on reset', async () => {
    await client(server).messages.create(claudeCode('goroutines leak'))
    await client(server).messages.create(claudeCode('goroutines leak'))
    expect(server.counts()).toEqual({ requests: 2, faults: {} })
    server.reset()
    expect(server.counts()).toEqual({ requests: 0, faults: {} })
    const again = await client(server).messages.create(claudeCode('goroutines leak'))
    expect(again.usage.cache_creation_input_tokens).toBeGreaterThan(0)
  })
})

describe('messages server: the benchmarks\' lean mode (keepRequests: false)', () => {
  it('answers as ever and counts every request, keeps none of them, and still tells a fault picker how often a body was seen', async () => {
    const seen: number[] = []
    await withServer({ keepRequests: false, fault: ({ seen: s }) => void seen.push(s) }, async (server) => {
      const first = await client(server).messages.create(claudeCode('my goroutines deadlock on a channel in this Go service'))
      const again = await client(server).messages.create(claudeCode('my goroutines deadlock on a channel in this Go service'))
      expect(only(first.content)).toMatchObject({ type: 'tool_use', name: 'Agent', input: { subagent_type: 'golang-pro' } })
      expect(again.usage.cache_read_input_tokens).toBeGreaterThan(0)
      expect(server.requests).toHaveLength(0)
      expect(server.counts().requests).toBe(2)
      expect(seen).toEqual([0, 1])
    })
  })
})

describe('messages server: models', () => {
  it('answers 404 not_found_error for a model that is not listed', async () => {
    await withServer({ models: [MODEL] }, async (server) => {
      const error = await client(server)
        .messages.create({ ...claudeCode('goroutines leak'), model: 'claude-nope-1' })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(NotFoundError)
      expect((error as APIError).status).toBe(404)
      expect((error as APIError).apiMessage).toBe('model: claude-nope-1')
      expect((await client(server).messages.create(claudeCode('goroutines leak'))).model).toBe(MODEL)
    })
  })
})

describe('messages server: faults', () => {
  const always = (fault: Fault): ServerOptions['fault'] => () => fault

  it.each([
    ['rate_limit', 429, RateLimitError, 'rate_limit_error'],
    ['server_error', 500, InternalServerError, 'api_error'],
    ['overloaded', 529, OverloadedError, 'overloaded_error'],
  ] as const)('%s: the SDK throws a %i APIError', async (fault, status, ErrorClass, type) => {
    await withServer({ fault: always(fault), retryAfter: '7' }, async (server) => {
      const error = await client(server).messages.create(claudeCode('goroutines leak')).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ErrorClass)
      expect(error).toBeInstanceOf(APIError)
      const apiError = error as APIError
      expect(apiError.status).toBe(status)
      expect(apiError.type).toBe(type)
      expect(apiError.requestID).toMatch(/^req_/)
      if (fault === 'rate_limit') expect(apiError.headers?.get('retry-after')).toBe('7')
      // 529 is an InternalServerError subclass in the SDK
      if (fault === 'overloaded') expect(error).toBeInstanceOf(InternalServerError)
      expect(only(server.requests).fault).toBe(fault)
      expect(server.counts()).toEqual({ requests: 1, faults: { [fault]: 1 } })
    })
  })

  it('drop: the SDK throws APIConnectionError (not a timeout)', async () => {
    await withServer({ fault: always('drop') }, async (server) => {
      const error = await client(server).messages.create(claudeCode('goroutines leak')).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(APIConnectionError)
      expect(error).not.toBeInstanceOf(APIConnectionTimeoutError)
      expect((error as APIError).status).toBeUndefined()
    })
  })

  it('slow: the client times out first with APIConnectionTimeoutError', async () => {
    await withServer({ fault: always('slow'), slowMs: 2000 }, async (server) => {
      const started = Date.now()
      const error = await client(server).messages.create(claudeCode('goroutines leak'), { timeout: 300 }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(APIConnectionTimeoutError)
      expect(error).toBeInstanceOf(APIConnectionError)
      expect(Date.now() - started).toBeLessThan(1500)
      expect(only(server.requests).fault).toBe('slow')
    })
  })

  it('slow: a patient client gets a normal reply', async () => {
    await withServer({ fault: always('slow'), slowMs: 50 }, async (server) => {
      const message = await client(server).messages.create(claudeCode('goroutines leak'), { timeout: 2000 })
      expect(message.content[0]).toMatchObject({ type: 'tool_use', input: { subagent_type: 'golang-pro' } })
    })
  })

  it('unknown_agent, no_tool_call and bad_tool_input: 200 replies with broken content', async () => {
    let fault: Fault = 'unknown_agent'
    await withServer({ fault: () => fault }, async (server) => {
      const sdk = client(server)
      const ghost = await sdk.messages.create(claudeCode('goroutines leak'))
      expect(ghost.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'Agent', input: expect.objectContaining({ subagent_type: 'ghost-agent' }) })])
      const ghostRoute = await sdk.messages.create(classifier('goroutines leak'))
      expect(ghostRoute.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'route', input: expect.objectContaining({ agent: 'ghost-agent' }) })])

      fault = 'no_tool_call'
      for (const params of [claudeCode('goroutines leak'), classifier('goroutines leak')]) {
        const text = await sdk.messages.create(params)
        expect(text.stop_reason).toBe('end_turn')
        expect(only(text.content).type).toBe('text')
      }

      fault = 'bad_tool_input'
      for (const params of [claudeCode('goroutines leak'), classifier('goroutines leak')]) {
        const bad = await sdk.messages.create(params)
        expect(bad.stop_reason).toBe('tool_use')
        const block = only(bad.content)
        expect(block.type).toBe('tool_use')
        if (block.type !== 'tool_use') continue
        expect(block.input).not.toHaveProperty('subagent_type')
        expect(block.input).not.toHaveProperty('agent')
      }
      expect(server.counts().faults).toEqual({ unknown_agent: 2, no_tool_call: 2, bad_tool_input: 2 })
    })
  })

  it('faultOnFirstAttempt: deterministic, ~rate of first attempts, never on seen > 0', () => {
    const kinds: Fault[] = ['rate_limit', 'server_error', 'drop']
    const pick = faultOnFirstAttempt(0.2, kinds)!
    const again = faultOnFirstAttempt(0.2, kinds)!
    const prompts = Array.from({ length: 200 }, (_, i) => `prompt number ${i}: fix the flaky build`)
    const first = prompts.map((prompt, index) => pick({ prompt, seen: 0, index }))
    expect(prompts.map((prompt, index) => again({ prompt, seen: 0, index: index + 1000 }))).toEqual(first)
    const failed = first.filter((f) => f !== undefined)
    expect(failed.length).toBeGreaterThanOrEqual(25)
    expect(failed.length).toBeLessThanOrEqual(55)
    expect(new Set(failed)).toEqual(new Set(kinds))
    expect(prompts.filter((prompt, index) => pick({ prompt, seen: 1, index }) !== undefined)).toEqual([])
    expect(prompts.filter((prompt, index) => faultOnFirstAttempt(0, FAULTS.slice())!({ prompt, seen: 0, index }) !== undefined)).toEqual([])
  })

  it('faultOnFirstAttempt through the SDK: the retry of a failed body succeeds', async () => {
    await withServer({ fault: faultOnFirstAttempt(1, ['rate_limit']), retryAfter: '0.05' }, async (server) => {
      const message = await client(server, { maxRetries: 1 }).messages.create(claudeCode('goroutines leak'))
      expect(message.content[0]).toMatchObject({ type: 'tool_use' })
      expect(server.requests.map((r) => r.fault)).toEqual(['rate_limit', undefined])
      expect(server.requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '1'])
      // the retry sends the very same body, which is what `seen` keys on
      expect(server.requests[1]?.body).toEqual(server.requests[0]?.body)
    })
  })

  it('close() ends open connections, so a hung request never keeps the suite alive', async () => {
    const server = await startMessagesServer({ fault: always('slow'), slowMs: 60_000 })
    const pending = client(server).messages.create(claudeCode('goroutines leak')).catch((e: unknown) => e)
    while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5))
    const started = Date.now()
    await server.close()
    expect(Date.now() - started).toBeLessThan(1000)
    expect(await pending).toBeInstanceOf(APIConnectionError)
    await server.close()
  })
})

describe('messages server: rate limits', () => {
  it('checks its token buckets as a request arrives, reports them on every reply, and turns away what does not fit with 429 and retry-after', async () => {
    // 3 requests, refilled at one every 10 s: the fourth at once does not fit, and would in about 10 s.
    await withServer({ rateLimits: { requests: { limit: 3, perSecond: 0.1 }, inputTokens: { limit: 100_000, perSecond: 1000 } } }, async (server) => {
      const api = client(server)
      const seen: string[] = []
      for (let i = 0; i < 3; i++) {
        const { response } = await api.messages.create(claudeCode(`goroutines leak ${i}`)).withResponse()
        seen.push(response.headers.get('anthropic-ratelimit-requests-remaining')!)
        expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('3')
        expect(Date.parse(response.headers.get('anthropic-ratelimit-requests-reset')!)).toBeGreaterThan(Date.now())
      }
      expect(seen).toEqual(['2', '1', '0'])
      const rejected = await api.messages.create(claudeCode('goroutines leak 3')).catch((e: unknown) => e)
      expect(rejected).toBeInstanceOf(RateLimitError)
      const headers = (rejected as RateLimitError).headers!
      expect(Number(headers.get('retry-after'))).toBeGreaterThan(5)
      expect(headers.get('anthropic-ratelimit-requests-remaining')).toBe('0')
      // The input-token bucket counted each request's input (the first one's cache write included), and had room.
      const input = Number(headers.get('anthropic-ratelimit-input-tokens-remaining'))
      expect(input).toBeLessThan(100_000)
      expect(input).toBeGreaterThan(90_000)
      expect(server.counts().requests).toBe(4)
      expect(server.traffic()).toMatchObject({ rateLimited: 1, admitted: { requests: 3 } })
    })
  })
})
