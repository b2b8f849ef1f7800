import { z } from 'zod'
import { probeSourceSchema } from '../load/config.js'
import { clusterAdviceSchema, pairVerdicts } from './advice.js'

/**
 * The shapes that cross the overlap module's boundary: what it reads (agents,
 * a run's cases, invalid files from the loader) and the report it returns,
 * which goes into summary.json and `--json` output. Types are inferred from
 * these schemas; field names are a contract (DESIGN "Overlap").
 */

export const overlapAgentSchema = z.object({
  name: z.string(),
  description: z.string(),
  /** path as given by the user, for lint messages */
  file: z.string(),
})
export type OverlapAgent = z.infer<typeof overlapAgentSchema>

/** One case of a run, as summary.json's `cases` has it (extra fields are ignored). */
export const overlapCaseSchema = z.object({
  id: z.string(),
  /** acceptable agents, best first; `expected[0]` is the primary */
  expected: z.array(z.string()).min(1),
  /** the majority decision; null when every repeat errored */
  decision: z.string().nullable(),
  /** decisions per label over the repeats */
  votes: z.record(z.string(), z.number()).optional(),
  /** the winning repeat's second choice and the gap between its two best scores, where the router scores */
  runnerUp: z.string().optional(),
  margin: z.number().optional(),
  /** the prompt, shown as probe evidence */
  prompt: z.string().optional(),
  /** the case's tags: a dataset's case tagged from-description is no routing evidence (the router reads its prompt in the descriptions) */
  tags: z.array(z.string()).optional(),
})
export type OverlapCase = z.infer<typeof overlapCaseSchema>

export const invalidFileSchema = z.object({ file: z.string(), line: z.number(), reason: z.string() })
export type InvalidFile = z.infer<typeof invalidFileSchema>

const routedAcrossSchema = z.object({ id: z.string(), expected: z.string(), decision: z.string() })

export const overlapPairSchema = z.strictObject({
  a: z.string(),
  b: z.string(),
  /** the combined score the pairs are ranked by; with no run, the text score */
  score: z.number(),
  text: z.number(),
  confusion: z.number().optional(),
  coAcceptance: z.number().optional(),
  splitVotes: z.number().int().optional(),
  lowMargins: z.number().int().optional(),
  nearDuplicate: z.boolean(),
  sharedTerms: z.array(z.string()),
  evidence: z.strictObject({
    /** cases whose primary is one of the two and whose decision is the other */
    routedAcross: z.array(routedAcrossSchema).optional(),
    /** cases whose expected set holds both */
    coAccepted: z.array(z.string()).optional(),
    /** cases whose repeats voted for both */
    splitVotes: z.array(z.string()).optional(),
    /** cases decided between the two by a small margin */
    lowMargins: z.array(z.string()).optional(),
  }),
})
export type OverlapPair = z.infer<typeof overlapPairSchema>

export const overlapClusterSchema = z.strictObject({
  members: z.array(z.string()),
  /** per member: its own terms, rare in the rest of the cluster */
  distinctive: z.record(z.string(), z.array(z.string())),
  /** per member: the cases whose primary it is and which it was routed */
  winsAlone: z.record(z.string(), z.array(z.string())).optional(),
  /** the advice as text: its headline and lines (advice.headline, advice.lines) */
  suggestion: z.string(),
  /** what to do, with its evidence (absent in summaries written before it) */
  advice: clusterAdviceSchema.optional(),
})
export type OverlapCluster = z.infer<typeof overlapClusterSchema>

export const lintRules = [
  'description-too-short',
  'description-too-long',
  'name-file-mismatch',
  'duplicate-description',
  'near-duplicate-description',
  'missing-trigger',
] as const
export const lintFindingSchema = z.strictObject({
  agent: z.string(),
  file: z.string(),
  rule: z.enum(lintRules),
  /** `warning`: fix it; `info`: a soft rule, worth a look */
  severity: z.enum(['warning', 'info']),
  message: z.string(),
})
export type LintFinding = z.infer<typeof lintFindingSchema>

export const signalNames = ['text', 'confusion', 'coAcceptance', 'splitVotes', 'lowMargins'] as const
export type SignalName = (typeof signalNames)[number]

/** Where a report's run signals came from: a labelled dataset's routed cases, or probe prompts aimed at the agents of chosen pairs. */
export const routingEvidenceSchema = z.strictObject({
  source: z.enum(['dataset', 'probes']),
  /** the dataset files, or the probe set's file */
  of: z.array(z.string()),
})
export type RoutingEvidence = z.infer<typeof routingEvidenceSchema>

const probeCaseSchema = z.strictObject({
  id: z.string(),
  prompt: z.string(),
  /** the agent it is aimed at (its first-choice label) */
  expected: z.string(),
  /** where the router sent it (majority over the repeats); null when no request for it succeeded */
  decision: z.string().nullable(),
})

export const probePairSchema = z.strictObject({
  a: z.string(),
  b: z.string(),
  text: z.number(),
  /** a near-duplicate on the descriptions alone; false: probed from just under the line, in case routing confuses what the text misses */
  flagged: z.boolean(),
  /** the pair's verdict on its two-by-two block (the same judgement as a cluster's advice) */
  verdict: z.enum(pairVerdicts),
  /** prompts aimed at either and routed to either; right: routed to the one aimed at */
  prompts: z.number().int(),
  right: z.number().int(),
  interval: z.tuple([z.number(), z.number()]).optional(),
  /** per agent of the pair: where the prompts aimed at it went (an agent, or none), counted */
  routed: z.record(z.string(), z.record(z.string(), z.number().int())),
  /** every prompt aimed at one of the two, with where it went: the evidence itself */
  cases: z.array(probeCaseSchema),
})
export type ProbePair = z.infer<typeof probePairSchema>

export const probeReportSchema = z.strictObject({
  /** who wrote the prompts: Claude, through generate's drafting requests, or the descriptions' own <example> turns (which the router reads) */
  from: probeSourceSchema,
  /** the drafting model, when Claude wrote them */
  model: z.string().optional(),
  /** the router that routed them */
  router: z.string(),
  /** prompts asked for per agent */
  perAgent: z.number().int(),
  /** near-duplicate pairs not probed, over the cap on pairs */
  flaggedLeftOut: z.number().int(),
  pairs: z.array(probePairSchema),
})
export type ProbeReport = z.infer<typeof probeReportSchema>

export const overlapReportSchema = z.strictObject({
  /** the signals this report could compute: `text` always, the rest only from a run */
  signals: z.array(z.enum(signalNames)),
  /** where the run signals came from (absent with the descriptions alone, and in summaries written before it) */
  evidence: routingEvidenceSchema.optional(),
  pairs: z.array(overlapPairSchema),
  clusters: z.array(overlapClusterSchema),
  invalid: z.array(invalidFileSchema),
  lint: z.array(lintFindingSchema),
  /** per agent: estimated tokens its description costs on every routing call (chars / 4) */
  tokens: z.record(z.string(), z.number().int()),
  /** `overlap --probe`: the pairs probed and where their prompts went */
  probes: probeReportSchema.optional(),
  /**
   * the dataset's cases left out of the run signals and the advice's evidence, by why (absent when none):
   * `fromDescription`, cases tagged from-description, the descriptions' own <example> prompts, which the router reads
   */
  leftOut: z.strictObject({ fromDescription: z.number().int() }).optional(),
})
export type OverlapReport = z.infer<typeof overlapReportSchema>
