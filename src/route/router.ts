import { z } from 'zod'
import type { Catalogue } from '../load/catalogue.js'

export const usageSchema = z.object({
  inputTokens: z.number().nonnegative(),
  outputTokens: z.number().nonnegative(),
  cacheReadTokens: z.number().nonnegative(),
  cacheWriteTokens: z.number().nonnegative(),
})
export type Usage = z.infer<typeof usageSchema>

/** What a router answers for one prompt (DESIGN "Routers"). Validated, since custom routers are user code. */
export const decisionSchema = z.object({
  /** an agent name, or "none" */
  agent: z.string().min(1),
  /** the router named an agent that does not exist (scored as wrong) */
  invalid: z.string().optional(),
  scores: z.record(z.string(), z.number()).optional(),
  runnerUp: z.string().optional(),
  usage: usageSchema.optional(),
  latencyMs: z.number().nonnegative(),
})
export type Decision = z.infer<typeof decisionSchema>

/** The one interface every router implements. */
export interface Router {
  /** stable identity of the router and its settings, e.g. "lexical" or "anthropic:claude-haiku-4-5:claude-code" */
  id: string
  /** whether the same prompt always gets the same decision (sets the default repeats) */
  deterministic?: boolean
  route(prompt: string, catalogue: Catalogue, signal: AbortSignal): Promise<Decision>
}
