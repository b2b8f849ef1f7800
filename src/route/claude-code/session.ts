import { spawn, type ChildProcess } from 'node:child_process'
import { z } from 'zod'
import { RouterError } from '../router.js'
import type { AgentSdk } from './engine.js'
import type { Workspace } from './workspace.js'

/**
 * One case = one fresh Claude Code session, stopped right after its first model reply.
 *
 * Nothing the model asks for runs, by two independent layers, neither of which changes the
 * request the model sees (checked against a capture: permissions.deny rules and
 * disallowedTools would, because Claude Code drops denied tools from the tool list):
 * - a PreToolUse hook denies every call before it runs (Agent included, so no subagent
 *   starts), and a failing hook blocks rather than lets the call through;
 * - permission mode "dontAsk" with no one to ask denies whatever needs permission.
 * Plus: maxTurns 1 (no second model turn), disableAllHooks (no project or user command hook
 * runs), strictMcpConfig (no MCP server starts), a private HOME, and an environment that
 * carries only what the engine needs.
 */

/** Variables passed through from the caller's environment: credentials, endpoint, proxies, locale. */
const PASSED_ENV = [
  'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_BASE_URL',
  'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY', 'https_proxy', 'http_proxy', 'no_proxy',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'TZ', 'LANG', 'LC_ALL', 'TMPDIR', 'SYSTEMROOT',
] as const

export type SessionSettings = {
  sdk: AgentSdk
  bin: string
  model: string
  /** where credentials and the base URL come from */
  env: NodeJS.ProcessEnv
  /** Claude Code's own retries (CLAUDE_CODE_MAX_RETRIES); undefined keeps the engine's default */
  maxRetries?: number
  timeoutMs: number
  /** this router's engines still running, so close() can end them before removing their folders */
  live: Set<ChildProcess>
}

export function engineEnv(ws: Workspace, s: Pick<SessionSettings, 'env' | 'maxRetries'>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: s.env.PATH ?? '',
    HOME: ws.home,
    USERPROFILE: ws.home,
    CLAUDE_CONFIG_DIR: ws.configDir,
    // The routing request is then the only request: no title, no connectivity check, no telemetry.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  }
  for (const key of PASSED_ENV) {
    const value = s.env[key]
    if (value !== undefined && value !== '') env[key] = value
  }
  if (s.maxRetries !== undefined) env.CLAUDE_CODE_MAX_RETRIES = String(s.maxRetries)
  return env
}

const DENY = {
  hookSpecificOutput: {
    hookEventName: 'PreToolUse',
    permissionDecision: 'deny',
    permissionDecisionReason: 'routecheck measures routing only: no tool runs',
  },
} as const

export type ToolCall = { name: string; input: unknown }

/**
 * Engines still running. The SDK stops an engine gently (SIGTERM after 2 s, on unref'd timers),
 * and an engine retrying against a dead server outlives its parent that way; a routing session
 * has nothing to save, so it is killed outright, and on exit whatever is left is too.
 */
const engines = new Set<ChildProcess>()
let exitHookInstalled = false

function spawnEngine(o: { command: string; args: string[]; cwd?: string; env: Record<string, string | undefined>; signal: AbortSignal }): ChildProcess {
  const child = spawn(o.command, o.args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'ignore'] })
  engines.add(child)
  child.once('exit', () => engines.delete(child))
  child.once('error', () => engines.delete(child))
  // The SDK may spawn after the case was already given up: then the engine has nothing to do.
  if (o.signal.aborted) child.kill('SIGKILL')
  else o.signal.addEventListener('abort', () => child.kill('SIGKILL'), { once: true })
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const engine of engines) engine.kill('SIGKILL')
    })
  }
  return child
}

export function engineOptions(ws: Workspace, s: SessionSettings, abortController: AbortController, onToolCall: (call: ToolCall) => void, onSpawn: (child: ChildProcess) => void = () => undefined): Record<string, unknown> {
  return {
    spawnClaudeCodeProcess: (o: Parameters<typeof spawnEngine>[0]) => {
      const child = spawnEngine(o)
      s.live.add(child)
      child.once('exit', () => s.live.delete(child))
      onSpawn(child)
      return child
    },
    cwd: ws.project,
    pathToClaudeCodeExecutable: s.bin,
    model: s.model,
    env: engineEnv(ws, s),
    abortController,
    settingSources: ws.userAgents ? ['user', 'project'] : ['project'],
    systemPrompt: { type: 'preset', preset: 'claude_code' },
    maxTurns: 1,
    permissionMode: 'dontAsk',
    permissionPrompts: 'none',
    strictMcpConfig: true,
    persistSession: false,
    settings: { disableAllHooks: true },
    hooks: {
      PreToolUse: [
        {
          onFailure: 'block',
          hooks: [
            async (input: { tool_name?: unknown; tool_input?: unknown }) => {
              onToolCall({ name: String(input.tool_name), input: input.tool_input })
              return DENY
            },
          ],
        },
      ],
    },
  }
}

// The SDK messages read here: checked, since they come from another process.
const blockSchema = z.looseObject({ type: z.string(), name: z.unknown().optional(), input: z.unknown().optional(), text: z.unknown().optional() })
const initSchema = z.looseObject({ type: z.literal('system'), subtype: z.literal('init'), agents: z.array(z.string()).optional(), claude_code_version: z.string().optional() })
const assistantSchema = z.looseObject({
  type: z.literal('assistant'),
  parent_tool_use_id: z.string().nullable().optional(),
  error: z.string().optional(),
  message: z.looseObject({ model: z.string().optional(), content: z.array(blockSchema) }),
})
const usageSchema = z.looseObject({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  cache_read_input_tokens: z.number().nullable().optional(),
  cache_creation_input_tokens: z.number().nullable().optional(),
})
const resultSchema = z.looseObject({
  type: z.literal('result'),
  subtype: z.string(),
  is_error: z.boolean().optional(),
  api_error_status: z.number().nullable().optional(),
  result: z.string().optional(),
  errors: z.array(z.string()).optional(),
  usage: usageSchema.optional(),
})
const messageSchema = z.union([initSchema, assistantSchema, resultSchema])

export type SessionOutcome = {
  /** every agent the engine offered (its init message), built-ins included */
  agents: string[] | undefined
  version: string | undefined
  /** the model's reply blocks, in order */
  blocks: z.infer<typeof blockSchema>[]
  /** what the deny hook saw */
  toolCalls: ToolCall[]
  usage: z.infer<typeof usageSchema> | undefined
  latencyMs: number
}

/** Runs one prompt in a fresh session. Throws a RouterError when the engine got no reply. */
export async function runSession(ws: Workspace, prompt: string, s: SessionSettings, signal: AbortSignal): Promise<SessionOutcome> {
  const started = performance.now()
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort()
  }, s.timeoutMs)
  const onAbort = () => controller.abort()
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })

  const outcome: SessionOutcome = { agents: undefined, version: undefined, blocks: [], toolCalls: [], usage: undefined, latencyMs: 0 }
  let initSeen = false
  let result: z.infer<typeof resultSchema> | undefined
  let apiError: string | undefined
  let child: ChildProcess | undefined
  let over = false
  const onSpawn = (c: ChildProcess) => {
    child = c
    if (over && !result) c.kill('SIGKILL')
  }
  const query = s.sdk.query({ prompt, options: engineOptions(ws, s, controller, (call) => outcome.toolCalls.push(call), onSpawn) })
  // An aborted engine takes seconds to shut down; the case is over at once, close() ends the process.
  const stopped = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }))
  stopped.catch(() => undefined)
  const consume = async () => {
    for await (const raw of query) {
      const parsed = messageSchema.safeParse(raw)
      if (!parsed.success) continue // other message kinds (retries, status) say nothing about the decision
      const m = parsed.data
      if (m.type === 'system') {
        initSeen = true
        outcome.agents = m.agents
        outcome.version = m.claude_code_version
      } else if (m.type === 'assistant') {
        if (m.parent_tool_use_id) continue
        // A failed request ends in a synthetic assistant message that carries the error, not a reply.
        if (m.error !== undefined || m.message.model === '<synthetic>') apiError ??= m.error ?? 'unknown'
        else outcome.blocks.push(...m.message.content)
      } else {
        result = m
        break // the reply is complete; leaving the loop ends the process
      }
    }
  }
  try {
    await Promise.race([consume(), stopped])
  } catch (e) {
    // After a denied tool call the SDK throws "maximum number of turns"; the result came first.
    if (!result) throw sessionFailure(e, { timedOut, aborted: signal.aborted, started: initSeen, timeoutMs: s.timeoutMs })
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
    query.close?.()
    // Done with a result, the engine exits by itself; otherwise nothing it does now matters.
    over = true
    if (!result) child?.kill('SIGKILL')
  }
  if (!result) throw sessionFailure(undefined, { timedOut, aborted: signal.aborted || controller.signal.aborted, started: initSeen, timeoutMs: s.timeoutMs })
  if (outcome.blocks.length === 0 && (result.is_error || apiError !== undefined)) throw apiFailure(result, apiError)
  outcome.usage = result.usage
  outcome.latencyMs = performance.now() - started
  return outcome
}

function sessionFailure(e: unknown, how: { timedOut: boolean; aborted: boolean; started: boolean; timeoutMs: number }): RouterError {
  if (how.timedOut) return new RouterError('timeout', `Claude Code gave no reply within ${how.timeoutMs / 1000}s`)
  if (how.aborted) return new RouterError('timeout', 'the request was aborted')
  const reason = e instanceof Error ? e.message.split('\n')[0] : 'it ended without a result'
  // A process that never started will not start for the next case either.
  if (!how.started) return new RouterError('bad_request', `Claude Code did not start: ${reason}`, { fatal: true })
  return new RouterError('server', `Claude Code failed: ${reason}`)
}

/** The engine's own retries are spent by now; the run engine decides whether to try the case again. */
function apiFailure(result: z.infer<typeof resultSchema>, apiError: string | undefined): RouterError {
  const status = result.api_error_status ?? undefined
  const detail = `Claude Code: ${(result.result ?? result.errors?.join('; ') ?? apiError ?? result.subtype).slice(0, 300)}`
  if (status === 401 || status === 403 || apiError === 'authentication_failed') return new RouterError('auth', `${detail}; check ANTHROPIC_API_KEY`, { fatal: true })
  if (status === 404 || apiError === 'model_not_found') return new RouterError('not_found', `${detail}; pick another with --model`, { fatal: true })
  if (status === 429 || apiError === 'rate_limit') return new RouterError('rate_limit', detail)
  if (status === 529 || apiError === 'overloaded') return new RouterError('overloaded', detail)
  if ((status !== undefined && status >= 500) || apiError === 'server_error') return new RouterError('server', detail)
  if (status === undefined) return new RouterError(apiError !== undefined ? 'connection' : 'server', detail)
  return new RouterError('bad_request', detail, { retryable: false })
}
