import { z } from 'zod'
import type { ToolRequest, ToolSpec } from '../route/tool-call.js'
import { MAX_DESCRIPTION_CHARS, MIN_DESCRIPTION_CHARS } from '../overlap/index.js'
import { oneLine, truncate } from '../text/fit.js'

/**
 * What Claude is asked for in each round of `improve`, and how its answer
 * is checked: a description for every chosen agent, leading with what only
 * that agent does, keeping its job. The rewriter sees the train half's
 * results only; the test half, which picks the winner, never reaches it.
 */

export const rewriteTool: ToolSpec<Rewrite> = {
  name: 'propose_descriptions',
  description: 'Propose a new description for every agent of the group, by its exact name.',
  input: z.object({
    agents: z
      .array(
        z.object({
          name: z.string().min(1),
          description: z.string().min(MIN_DESCRIPTION_CHARS).max(MAX_DESCRIPTION_CHARS),
        }),
      )
      .min(1),
    /** one or two sentences: what changed and why */
    notes: z.string().optional(),
  }),
}
export type Rewrite = { agents: Array<{ name: string; description: string }>; notes?: string | undefined }

/** Misrouted train prompts shown to the rewriter per round: enough to see the patterns, small enough to stay cheap. */
export const MISSES_SHOWN = 40
/** Train prompts the group gets right, shown so a rewrite keeps them: fewer, since they only warn. */
export const HITS_SHOWN = 15
/** A prompt is shown cut to this many characters. */
const PROMPT_CHARS = 240

export type TrainCase = { id: string; prompt: string; expected: readonly string[]; decision: string | null }

export type RewriteInput = {
  /** the whole catalogue as the router sees it: the group's current descriptions and every other agent's */
  agents: ReadonlyArray<{ name: string; description: string }>
  /** the agents to rewrite */
  group: readonly string[]
  /** the train half, routed with the current descriptions */
  train: readonly TrainCase[]
  /** earlier rounds: train accuracy of each proposal (the test half's figures are never shown) */
  history: ReadonlyArray<{ round: number; trainAccuracy: number; from: number }>
}

const SYSTEM = `You rewrite the \`description\` fields of Claude Code subagents. Claude reads every subagent's name and description and decides which one to delegate a user's request to; when descriptions say the same things, requests go to the wrong agent.

Rules for every description you propose:
- Keep the agent's job: the same scope of work. Do not move work from one agent to another, do not invent capabilities, do not drop a responsibility the agent has.
- Open with what only this agent does, in the words users use when they ask for it (tools, file types, symptoms, tasks), so the first sentence alone tells it apart from the others in its group.
- Say later, briefly, or not at all, what the whole group shares.
- Drop praise that says nothing about the work ("expert", "elite", "comprehensive", "world-class").
- If it helps, say in one short clause which neighbouring agent to use instead for nearby requests.
- A rewrite is kept only if requests routed right today still are: do not widen an agent into its neighbours' work.
- Plain text, at most ${MAX_DESCRIPTION_CHARS} characters. No "---" anywhere. Keep a short <example> only if it shows something the text cannot.
Return a description for every agent of the group, under its exact name.`

/** The request for one round. The catalogue goes in the system text, the same every round, so it is cached once. */
export function rewriteRequest(input: RewriteInput): ToolRequest {
  const inGroup = new Set(input.group)
  const others = input.agents.filter((a) => !inGroup.has(a.name))
  const system = `${SYSTEM}

The other agents of the catalogue, which your rewrites must not take requests from:
${others.map((a) => `<agent name="${a.name}">\n${a.description}\n</agent>`).join('\n')}`

  const current = input.agents.filter((a) => inGroup.has(a.name))
  const touches = (c: TrainCase) => c.expected.some((e) => inGroup.has(e)) || (c.decision !== null && inGroup.has(c.decision))
  const relevant = input.train.filter((c) => c.decision !== null && touches(c))
  const misses = relevant.filter((c) => !c.expected.includes(c.decision!))
  const tally = input.group.map((m) => {
    const mine = relevant.filter((c) => c.expected[0] === m)
    const right = mine.filter((c) => c.decision === m).length
    const went = new Map<string, number>()
    for (const c of mine) if (c.decision !== m) went.set(c.decision!, (went.get(c.decision!) ?? 0) + 1)
    const elsewhere = [...went].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([to, n]) => `${n} to ${to}`)
    return `- ${m}: ${right} of ${mine.length} training requests labelled for it reached it${elsewhere.length > 0 ? `; ${elsewhere.join(', ')}` : ''}`
  })
  const line = (c: TrainCase) => `- [${c.id}] wanted ${c.expected.join(' or ')} · got ${c.decision} · "${truncate(oneLine(c.prompt), PROMPT_CHARS)}"`
  const missLines = misses.slice(0, MISSES_SHOWN).map(line)
  const hits = relevant.filter((c) => c.expected.includes(c.decision!) && inGroup.has(c.decision!))
  const history =
    input.history.length > 0
      ? `\n\n## Earlier rounds (accuracy on the training requests)\n${input.history.map((h) => `- round ${h.round}: ${h.trainAccuracy.toFixed(3)} (the descriptions it started from: ${h.from.toFixed(3)})`).join('\n')}`
      : ''
  const prompt = `## The group to rewrite (${current.length} agents), as they are now
${current.map((a) => `<agent name="${a.name}">\n${a.description}\n</agent>`).join('\n')}

## How the router did on the training requests, with these descriptions
${tally.join('\n')}

## Training requests it got wrong (${misses.length}${misses.length > MISSES_SHOWN ? `, the first ${MISSES_SHOWN}` : ''})
${missLines.length > 0 ? missLines.join('\n') : '(none)'}

## Training requests it gets right, which must stay right (${hits.length}${hits.length > HITS_SHOWN ? `, the first ${HITS_SHOWN}` : ''})
${hits.length > 0 ? hits.slice(0, HITS_SHOWN).map(line).join('\n') : '(none)'}${history}

Propose new descriptions for: ${input.group.join(', ')}.`
  return { system, prompt, maxTokens: 8000, expectedOutputTokens: 350 * input.group.length }
}

/**
 * The proposal's descriptions by agent, checked against the group: every
 * name must be one of the group's (an agent left out keeps its
 * description); a name given twice, or outside the group, is refused.
 */
export function proposalOf(rewrite: Rewrite, group: readonly string[]): { descriptions: Map<string, string> } | { error: string } {
  const inGroup = new Set(group)
  const descriptions = new Map<string, string>()
  for (const a of rewrite.agents) {
    if (!inGroup.has(a.name)) return { error: `the proposal names "${a.name}", which is not one of ${group.join(', ')}` }
    if (descriptions.has(a.name)) return { error: `the proposal gives "${a.name}" twice` }
    descriptions.set(a.name, a.description.trim())
  }
  return { descriptions }
}
