import type Anthropic from '@anthropic-ai/sdk'
import { z } from 'zod'
import type { Agent, Catalogue } from '../load/catalogue.js'
import { NONE } from '../load/dataset.js'
import { RouterError, type Decision, type Usage } from './router.js'
import type { CacheTtl, RouterStyle } from '../load/config.js'

/**
 * The Messages API requests the anthropic router builds itself (styles
 * template and classifier; claude-code replays Claude Code's own, see
 * replay.ts), and how it reads the replies. Pure: no client, no clock. The
 * catalogue part of a request is built once per catalogue and reused, so it
 * is byte-identical in every request of a run and the prompt cache pays for
 * it once.
 */

/** The styles whose request routecheck writes itself. */
export type MessagesStyle = Exclude<RouterStyle, 'claude-code'>

export type RequestSettings = {
  model: string
  style: MessagesStyle
  /** the Agent tool's wording, with {{agents}} where the agent lines go */
  template: string
  maxTokens: number
  temperature?: number
  /** the prompt cache's lifetime for the catalogue part (unset: the API's 5 minutes) */
  cacheTtl?: CacheTtl
}
type Params = Anthropic.MessageCreateParamsNonStreaming

/** The template style's system prompt: a stand-in for Claude Code's, which is ~28,000 characters. */
const CLAUDE_CODE_SYSTEM =
  'You are an interactive assistant for software engineering work, running in the user\'s terminal. ' +
  'Use the tools available to you to help the user; answer directly when no tool is needed.'

const CLASSIFIER_SYSTEM = `You route a user's request to the one subagent best suited to handle it, or to none.
Read the request, compare it with each subagent's description below, and call the route tool once.
Set agent to the best-suited subagent's name, or to "none" when no description fits (general questions, small talk, trivial one-line answers).
Set runnerUp to the second-best subagent's name, or to "none".
Set confidence to how sure you are of the choice, from 0 to 1.

Subagents:
`

/** `Read, Grep` · `All tools except Bash` · `All tools` (Claude Code's wording for an agent's tools). */
export function toolsText(agent: Pick<Agent, 'tools' | 'disallowedTools'>): string {
  if (agent.tools && agent.tools.length > 0 && !agent.tools.includes('*')) return agent.tools.join(', ')
  if (agent.disallowedTools && agent.disallowedTools.length > 0) return `All tools except ${agent.disallowedTools.join(', ')}`
  return 'All tools'
}

/** `- NAME: DESCRIPTION (Tools: TOOLS)`, one per agent, in catalogue order. */
export function agentLines(catalogue: Catalogue): string {
  return catalogue.agents.map((a) => `- ${a.name}: ${a.description} (Tools: ${toolsText(a)})`).join('\n')
}

export function renderTemplate(template: string, catalogue: Catalogue): string {
  return template.replace('{{agents}}', agentLines(catalogue))
}

/** A prompt-cache breakpoint; a 1-hour lifetime is named, the 5-minute default is not (the request stays as it was). */
export function cacheControl(ttl: CacheTtl | undefined): Anthropic.CacheControlEphemeral {
  return ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' }
}

/** The part of every request that depends only on the catalogue and settings. */
export function buildRequestPrefix(catalogue: Catalogue, s: RequestSettings): Omit<Params, 'messages'> {
  const cache = cacheControl(s.cacheTtl)
  const sampling = s.temperature === undefined ? {} : { temperature: s.temperature }
  if (s.style === 'template') {
    return {
      model: s.model,
      max_tokens: s.maxTokens,
      ...sampling,
      system: [{ type: 'text', text: CLAUDE_CODE_SYSTEM }],
      tools: [
        {
          name: 'Agent',
          description: renderTemplate(s.template, catalogue),
          input_schema: {
            type: 'object',
            properties: {
              subagent_type: { type: 'string', description: 'The name of the subagent to start' },
              description: { type: 'string', description: 'A short (3–5 word) description of the task' },
              prompt: { type: 'string', description: 'The task for the subagent to perform' },
            },
            required: ['subagent_type', 'description', 'prompt'],
          },
          cache_control: cache,
        },
      ],
    }
  }
  const names = [...catalogue.agents.map((a) => a.name), NONE]
  return {
    model: s.model,
    max_tokens: s.maxTokens,
    ...sampling,
    tools: [
      {
        name: 'route',
        description: 'Record which subagent should handle the request.',
        input_schema: {
          type: 'object',
          properties: {
            agent: { type: 'string', enum: names },
            runnerUp: { type: 'string', enum: names },
            confidence: { type: 'number', minimum: 0, maximum: 1 },
          },
          required: ['agent', 'confidence'],
        },
      },
    ],
    // No forced tool_choice: models that think by default (Sonnet 5.5) refuse it with a 400. The
    // system text asks for the call; a reply without it is a retryable bad_output (readReply).
    system: [{ type: 'text', text: `${CLASSIFIER_SYSTEM}${agentLines(catalogue)}`, cache_control: cache }],
  }
}

export function buildRequest(prefix: Omit<Params, 'messages'>, prompt: string): Params {
  return { ...prefix, messages: [{ role: 'user', content: prompt }] }
}

/**
 * The request body as JSON bytes, from the prefix serialised and UTF-8
 * encoded once (`requestBodyHead`): every request then carries the very same
 * catalogue bytes by construction, and a run neither re-serialises 15
 * descriptions per prompt nor re-encodes their 17 kB (the harness benchmark
 * found both among the client's top costs).
 */
export function requestBodyBytes(head: Buffer, prompt: string): Buffer {
  return Buffer.concat([head, Buffer.from(`${JSON.stringify([{ role: 'user', content: prompt }])}}`)])
}

/** The body's bytes before the messages: the prefix's JSON with its closing brace opened for them. */
export function requestBodyHead(prefixJson: string): Buffer {
  return Buffer.from(`${prefixJson.slice(0, -1)},"messages":`)
}

const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined)

/**
 * A reply's `usage` in routecheck's terms. `cache_creation` splits the cache writes by lifetime;
 * the 1-hour ones are kept apart, as they are priced apart.
 */
export function readUsage(u: unknown): Usage {
  const raw = (typeof u === 'object' && u !== null ? u : {}) as Record<string, unknown>
  const usage: Usage = {
    inputTokens: count(raw.input_tokens) ?? 0,
    outputTokens: count(raw.output_tokens) ?? 0,
    cacheReadTokens: count(raw.cache_read_input_tokens) ?? 0,
    cacheWriteTokens: count(raw.cache_creation_input_tokens) ?? 0,
  }
  const byTtl = raw.cache_creation as Record<string, unknown> | null | undefined
  const write1h = count(byTtl?.ephemeral_1h_input_tokens)
  if (write1h) usage.cacheWrite1hTokens = write1h
  return usage
}

const agentToolInput = z.object({ subagent_type: z.string().min(1) })
const routeToolInput = z.object({ agent: z.string().min(1), runnerUp: z.string().optional(), confidence: z.number().min(0).max(1).optional() })

/** Reads a reply into a decision. A malformed tool call is a retryable `bad_output`. */
export function readReply(style: MessagesStyle, message: Pick<Anthropic.Message, 'content' | 'usage'>, latencyMs: number): Decision {
  const usage = readUsage(message.usage)
  const toolName = style === 'template' ? 'Agent' : 'route'
  const call = message.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use' && b.name === toolName)
  if (style === 'template') {
    if (!call) return { agent: NONE, usage, latencyMs } // no delegation: the main assistant answers
    const input = agentToolInput.safeParse(call.input)
    if (!input.success) throw new RouterError('bad_output', `the model called the Agent tool without a subagent_type: ${JSON.stringify(call.input).slice(0, 200)}`)
    return { agent: input.data.subagent_type, usage, latencyMs }
  }
  if (!call) throw new RouterError('bad_output', 'the model did not call the route tool')
  const input = routeToolInput.safeParse(call.input)
  if (!input.success) throw new RouterError('bad_output', `the route tool call is malformed: ${JSON.stringify(call.input).slice(0, 200)}`)
  const { agent, runnerUp, confidence } = input.data
  return {
    agent,
    ...(runnerUp !== undefined && runnerUp !== agent ? { runnerUp } : {}),
    ...(confidence !== undefined ? { confidence } : {}),
    usage,
    latencyMs,
  }
}
