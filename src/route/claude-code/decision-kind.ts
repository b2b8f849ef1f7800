import { BUILTIN_AGENTS } from '../../load/builtin-agents.js'
import { NONE } from '../../load/dataset.js'
import type { DecisionKind } from '../router.js'

/**
 * What Claude Code's main assistant did with a prompt, read from its reply. Pure, so the
 * engine router and a replay of the engine's request (the anthropic router) classify alike.
 */
export type Classified = { agent: string; kind: DecisionKind; tool?: string }
export type { DecisionKind }

/** The delegation tool; 'Task' is its older name, still what the SDK's init message lists. */
const AGENT_TOOLS = new Set(['Agent', 'Task'])
/** Claude Code starts this one when subagent_type is left out. */
const DEFAULT_AGENT = 'general-purpose'

/** The reply blocks that matter here; thinking and other blocks are ignored. */
export type ReplyBlock = { type: string; name?: unknown; input?: unknown; [field: string]: unknown }

/**
 * custom: the Agent tool with a catalogue agent; builtin: the Agent tool with one of Claude
 * Code's own agents (left out = general-purpose; 'fork' counts too); tool: another tool, which
 * the main assistant would run itself (agent "none"); answer: text only (agent "none").
 * Only the first tool call counts: it is the one Claude Code would start first. A name that is
 * neither a catalogue agent nor a built-in is kept as `custom`, so the run scores it as an
 * agent that does not exist.
 */
export function classifyReply(blocks: readonly ReplyBlock[], catalogue: ReadonlySet<string>, builtins: Iterable<string> = BUILTIN_AGENTS): Classified {
  const call = blocks.find((b) => b.type === 'tool_use' && typeof b.name === 'string')
  if (!call) return { agent: NONE, kind: 'answer' }
  return classifyToolCall(call.name as string, call.input, catalogue, builtins)
}

export function classifyToolCall(name: string, input: unknown, catalogue: ReadonlySet<string>, builtins: Iterable<string> = BUILTIN_AGENTS): Classified {
  if (!AGENT_TOOLS.has(name)) return { agent: NONE, kind: 'tool', tool: name }
  const requested = typeof input === 'object' && input !== null ? (input as { subagent_type?: unknown }).subagent_type : undefined
  const agent = typeof requested === 'string' && requested.trim() !== '' ? requested.trim() : DEFAULT_AGENT
  if (catalogue.has(agent)) return { agent, kind: 'custom' }
  // 'fork' (a copy of the main assistant) is never listed but is Claude Code's own too.
  if (agent === 'fork' || new Set(builtins).has(agent)) return { agent, kind: 'builtin' }
  return { agent, kind: 'custom' }
}
