import { z } from 'zod'
import type { Agent, Catalogue } from '../load/catalogue.js'
import { NONE } from '../load/dataset.js'
import type { ToolRequest, ToolSpec } from '../route/tool-call.js'

/**
 * What routecheck asks Claude when it drafts prompts: one tool, which Claude
 * is asked to call, that records labelled prompts, a system text holding the catalogue and the
 * labelling rules (the same for every request of a run, so the prompt cache
 * pays for it once), and one request per thing to draft: prompts aimed
 * squarely at an agent, prompts on the boundary of two near-duplicates,
 * out-of-scope prompts, and searches for Claude Code's Explore agent. Each
 * builder is usable alone (`overlap --probe` drafts aimed and boundary prompts).
 */

/** How users write to Claude Code, each a different test of a description. */
export const AGENT_REGISTERS = ['terse', 'vague', 'stack-trace', 'diff', 'long-context', 'typos'] as const
/** What no subagent should take: chat, questions the model answers from its own knowledge, and fixes too small to delegate. */
export const NONE_REGISTERS = ['small-talk', 'general-knowledge', 'one-line-fix'] as const
export const EXPLORE_REGISTER = 'codebase-search'
export const REGISTERS = [...AGENT_REGISTERS, ...NONE_REGISTERS, EXPLORE_REGISTER] as const
export type Register = (typeof REGISTERS)[number]

const REGISTER_HELP: Record<Register, string> = {
  terse: 'a few words, no context, as typed in a hurry',
  vague: 'the symptom or wish without naming the technology or the kind of work',
  'stack-trace': 'a pasted error message or stack trace with a line or two of ask',
  diff: 'a pasted diff or code snippet with a question about it',
  'long-context': 'a paragraph or more of background (the project, what was tried) before the ask',
  typos: 'written quickly with typos, lower case, missing words',
  'small-talk': 'greetings, thanks, chat about the session',
  'general-knowledge': 'a question the model answers from what it knows, about nothing in this repository',
  'one-line-fix': 'a change so small the main assistant makes it at once (rename a variable, fix a typo, one import)',
  'codebase-search': 'find or explain something in this repository: where a thing is defined, which files call it, how a flow works',
}

export const draftedPromptSchema = z.object({
  prompt: z.string().min(1).describe('exactly what the user types, as they would type it'),
  register: z.enum(REGISTERS).describe('which of the asked-for registers this prompt is written in'),
  expected: z.array(z.string().min(1)).min(1).describe(`every agent that would be an acceptable choice, the best first; ["${NONE}"] alone when no subagent should take it`),
  note: z.string().min(1).describe('one sentence for the reviewer: why these labels, and why not the nearest other agent'),
})
export type DraftedPrompt = z.infer<typeof draftedPromptSchema>

export const DRAFT_TOOL: ToolSpec<{ prompts: DraftedPrompt[] }> = {
  name: 'record_prompts',
  description: 'Record the labelled test prompts you wrote, all of them in one call.',
  input: z.object({ prompts: z.array(draftedPromptSchema).min(1) }),
}

/**
 * Output tokens per drafted prompt, for estimates: a prompt with its labels,
 * register and one-sentence note. The bundled datasets' rows written so
 * average 55 (routing.csv) and 104 (python-backend.csv, long pasted traces)
 * tokens, 90% under 206.
 */
export const TOKENS_PER_PROMPT = 120
/** max_tokens per prompt asked for: above the longest bundled row (420 tokens), so no reply is cut off mid-prompt. */
const MAX_TOKENS_PER_PROMPT = 450
const MAX_TOKENS = 16000

export function catalogueText(catalogue: Catalogue): string {
  return catalogue.agents.map((a) => `<agent name="${a.name}">\n${a.description}\n</agent>`).join('\n')
}

/** The system text every drafting request shares: the task, the labelling rules, the catalogue. */
export function draftSystem(catalogue: Catalogue): string {
  return `You write test prompts for routecheck, which measures how well Claude Code picks the right subagent for what a user types. Claude Code reads each subagent's description (below) and delegates a prompt to the one that fits, or to its own Explore agent for searching the codebase, or to none, answering itself.

Write prompts as real developers type them into Claude Code in their own repository: their own words, their own project's details (file names, errors, versions, numbers), never the descriptions' wording and never their <example> prompts. Users have not read the descriptions. Vary length, tone and detail.

Label every prompt honestly, as a careful reviewer would:
- "expected" lists every subagent that would be an acceptable choice, the best first. List a second agent only if handing the prompt to it would be as good a result.
- ["${NONE}"] alone when no subagent should take it: the main assistant should answer or act itself.
- ["Explore"] for a search or explanation of the codebase that Claude Code's built-in read-only Explore agent should take.
- Only names from this catalogue, "Explore" or "${NONE}".
- If a prompt you meant for one agent really belongs to another, label it as it belongs; do not bend the label.
- "note" says in one sentence why, naming the deciding detail of the prompt.

The catalogue (${catalogue.agents.length} subagents):
${catalogueText(catalogue)}`
}

function sizes(count: number): Pick<ToolRequest, 'maxTokens' | 'expectedOutputTokens'> {
  return { maxTokens: Math.min(MAX_TOKENS, count * MAX_TOKENS_PER_PROMPT), expectedOutputTokens: count * TOKENS_PER_PROMPT }
}

const registerLines = (registers: readonly Register[]) => registers.map((r) => `- ${r}: ${REGISTER_HELP[r]}`).join('\n')

/** The registers of the `i`-th agent's prompts: all of them when `count` allows, else a rotation, so a catalogue's agents cover them all. */
export function registersFor(i: number, count: number): Register[] {
  if (count >= AGENT_REGISTERS.length) return [...AGENT_REGISTERS]
  return Array.from({ length: count }, (_, k) => AGENT_REGISTERS[(i + k) % AGENT_REGISTERS.length]!)
}

/** Prompts aimed squarely at one agent: ones it should take, best of all the catalogue. */
export function aimedAtRequest(agent: Pick<Agent, 'name'>, catalogue: Catalogue, count: number, registers: readonly Register[] = AGENT_REGISTERS): ToolRequest {
  return {
    system: draftSystem(catalogue),
    prompt: `Write ${count} prompts that the subagent "${agent.name}" should take: requests for which it is the best choice in this catalogue. Spread them over these registers${count >= registers.length ? ', each at least once' : ''}:
${registerLines(registers)}
Cover different parts of what "${agent.name}" does, not one task reworded. Label each honestly (the best agent first), and call record_prompts once with all ${count}.`,
    ...sizes(count),
  }
}

/**
 * Prompts on the boundary of two near-duplicate agents: each holds the
 * detail that a good split of the two descriptions would use to send it one
 * way, half each way. Those are the prompts that show whether a rewording worked.
 */
export function boundaryRequest(a: Pick<Agent, 'name'>, b: Pick<Agent, 'name'>, catalogue: Catalogue, count: number, sharedTerms: readonly string[] = []): ToolRequest {
  const half = Math.ceil(count / 2)
  return {
    system: draftSystem(catalogue),
    prompt: `The subagents "${a.name}" and "${b.name}" overlap${sharedTerms.length > 0 ? ` (their descriptions share: ${sharedTerms.join(', ')})` : ''}; a router can hardly tell them apart. Write ${count} boundary prompts: requests in the ground they share, each with one detail that decides which of the two should take it. ${half} should belong to "${a.name}" and ${count - half} to "${b.name}", each labelled with that agent alone first. Use any of these registers:
${registerLines(AGENT_REGISTERS)}
In each note, name the deciding detail. Call record_prompts once with all ${count}.`,
    ...sizes(count),
  }
}

/** Out-of-scope prompts, labelled none; some near the catalogue's topics, since those test false delegation. */
export function outOfScopeRequest(catalogue: Catalogue, count: number): ToolRequest {
  return {
    system: draftSystem(catalogue),
    prompt: `Write ${count} prompts that no subagent should take, labelled ["${NONE}"], spread over:
${registerLines(NONE_REGISTERS)}
Put about half of them near the catalogue's topics (a one-line fix in a language an agent covers, a general question about a technology an agent names), since those are the ones a router wrongly delegates. Call record_prompts once with all ${count}.`,
    ...sizes(count),
  }
}

/** Searches of the codebase that Claude Code's built-in Explore agent should take, rather than a catalogue agent. */
export function exploreRequest(catalogue: Catalogue, count: number): ToolRequest {
  return {
    system: draftSystem(catalogue),
    prompt: `Write ${count} prompts asking to find or understand something in the user's own repository, which Claude Code's built-in read-only Explore agent should take, labelled ["Explore"] (register ${EXPLORE_REGISTER}: ${REGISTER_HELP[EXPLORE_REGISTER]}). Some should touch the catalogue's topics (where the database queries live, which services call the payment API) but ask only to find or explain, not to change anything. Call record_prompts once with all ${count}.`,
    ...sizes(count),
  }
}
