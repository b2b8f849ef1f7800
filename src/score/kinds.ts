import { z } from 'zod'
import type { DecisionKind } from '../route/router.js'

const counts = z.record(z.string(), z.number().int())

/**
 * Where the prompts went (summary.json `decisionKinds`): of the decided cases
 * whose router says what it did, how many went to a catalogue agent, to one
 * of Claude Code's own agents (by name), to another tool the main assistant
 * called itself (by tool), or got a text answer. The custom share is what a
 * team's descriptions win; the rest is what Claude Code kept or did itself.
 */
export const decisionKindsSchema = z.object({
  cases: z.number().int(),
  custom: z.number().int(),
  builtin: z.number().int(),
  tool: z.number().int(),
  answer: z.number().int(),
  builtinAgents: counts,
  tools: counts,
})
export type DecisionKinds = z.infer<typeof decisionKindsSchema>

/** null when no decision carries a kind (routers other than Claude Code's engine and its replay). */
export function decisionKinds(cases: ReadonlyArray<{ decision: string | null; decisionKind?: DecisionKind | undefined; tool?: string | undefined }>): DecisionKinds | null {
  const kinds: DecisionKinds = { cases: 0, custom: 0, builtin: 0, tool: 0, answer: 0, builtinAgents: {}, tools: {} }
  for (const c of cases) {
    if (c.decision === null || c.decisionKind === undefined) continue
    kinds.cases++
    kinds[c.decisionKind]++
    if (c.decisionKind === 'builtin') kinds.builtinAgents[c.decision] = (kinds.builtinAgents[c.decision] ?? 0) + 1
    if (c.decisionKind === 'tool' && c.tool) kinds.tools[c.tool] = (kinds.tools[c.tool] ?? 0) + 1
  }
  return kinds.cases === 0 ? null : kinds
}
