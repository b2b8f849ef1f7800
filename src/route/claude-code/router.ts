import path from 'node:path'
import type { AgentFolder, Catalogue } from '../../load/catalogue.js'
import { DEFAULT_MODEL, requireApiKey } from '../anthropic.js'
import type { Decision, Router } from '../router.js'
import { BUILTIN_AGENTS } from '../../load/builtin-agents.js'
import { classifyReply } from './decision-kind.js'
import { claudeVersion, loadAgentSdk, resolveClaudeBinary } from './engine.js'
import { runSession, type SessionSettings } from './session.js'
import { createWorkspace, removeWorkspace, type Workspace } from './workspace.js'

export type ClaudeCodeOptions = {
  /** the Claude Code binary; default `claude` on PATH, else the SDK's bundled one */
  claudeBin?: string
  /** a real project to route inside (its CLAUDE.md and settings apply); it is copied, never touched */
  workspace?: string
  /**
   * copy these folders, as they are, instead of the catalogue's files: project folders to the project's
   * .claude/agents, user folders to the private ~/.claude/agents; how `routecheck agents --verify` asks
   * Claude Code what it loads
   */
  agentsFolders?: readonly AgentFolder[]
  model?: string
  /** per case, spawn to reply, the engine's own retries included (default 120 s) */
  timeoutMs?: number
  /** where ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL (and proxies) come from; default process.env */
  env?: NodeJS.ProcessEnv
  /** Claude Code's own retries per case (CLAUDE_CODE_MAX_RETRIES); default: the engine's */
  maxRetries?: number
}

export type ClaudeCodeRouter = Router & {
  /** Claude Code's version, e.g. "2.1.330" */
  version: string
  bin: string
  /** ends engines still running and removes the temporary workspaces and private config dirs; call once the run is done */
  close(): Promise<void>
}

const DEFAULT_TIMEOUT_MS = 120_000

/**
 * Claude Code itself as the router: each case is a fresh Claude Code session (via the Claude
 * Agent SDK) in a throwaway project whose .claude/agents/ holds the catalogue; the first
 * reply is read and every tool call is denied before it runs (see session.ts).
 */
export async function createClaudeCodeRouter(opts: ClaudeCodeOptions = {}): Promise<ClaudeCodeRouter> {
  const env = opts.env ?? process.env
  requireApiKey(env) // the private HOME holds no login, so a key is the only way in
  const sdk = await loadAgentSdk()
  const bin = resolveClaudeBinary(opts.claudeBin, env)
  const version = await claudeVersion(bin)
  const model = opts.model ?? DEFAULT_MODEL
  const settings: SessionSettings = { sdk, bin, model, env, live: new Set(), timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}) }
  const source = opts.workspace !== undefined ? path.resolve(opts.workspace) : undefined

  const workspaces = new Map<Catalogue, Promise<Workspace>>()
  let closed = false
  const workspaceFor = (catalogue: Catalogue) => {
    if (closed) throw new Error('the claude-code router was closed')
    let ws = workspaces.get(catalogue)
    if (!ws) {
      ws = createWorkspace(catalogue, { ...(source !== undefined ? { from: source } : {}), ...(opts.agentsFolders !== undefined ? { agentsFolders: opts.agentsFolders } : {}) })
      workspaces.set(catalogue, ws)
      ws.catch(() => workspaces.delete(catalogue))
    }
    return ws
  }

  return {
    id: `claude-code:${version}:${model}`,
    version,
    bin,
    deterministic: false,
    picksBuiltins: true,
    cacheKey: `claude-code ${JSON.stringify({ version, model, workspace: source ?? null, maxRetries: opts.maxRetries ?? null })}`,
    pricedModel: model,
    preview: (prompt, catalogue) => ({
      engine: `Claude Code ${version}`,
      bin,
      model,
      workspace: source ?? '(a temporary project folder)',
      agents: catalogue.agents.map((a) => a.file),
      prompt,
    }),
    async route(prompt, catalogue, signal): Promise<Decision> {
      const ws = await workspaceFor(catalogue)
      const session = await runSession(ws, prompt, settings, signal)
      const custom = new Set(catalogue.agents.map((a) => a.name))
      const builtins = session.agents?.filter((name) => !custom.has(name)) ?? BUILTIN_AGENTS
      const { agent, kind, tool } = classifyReply(session.blocks, custom, builtins)
      const u = session.usage
      return {
        agent,
        kind,
        ...(tool !== undefined ? { tool } : {}),
        ...(u
          ? { usage: { inputTokens: u.input_tokens ?? 0, outputTokens: u.output_tokens ?? 0, cacheReadTokens: u.cache_read_input_tokens ?? 0, cacheWriteTokens: u.cache_creation_input_tokens ?? 0 } }
          : {}),
        latencyMs: session.latencyMs,
      }
    },
    async close() {
      closed = true
      // An engine still running would write into the folders being removed.
      for (const engine of settings.live) engine.kill('SIGKILL')
      const all = [...workspaces.values()]
      workspaces.clear()
      await Promise.all(all.map((ws) => ws.then(removeWorkspace, () => undefined)))
    },
  }
}
