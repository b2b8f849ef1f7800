import { z } from 'zod'

/**
 * improve.json: every round of `routecheck improve`, what was proposed, how
 * it routed on each half, what the gate said, and the winner. Written to the
 * improve folder next to the patch.
 */

const halfSchema = z.strictObject({
  /** decided cases of the half */
  cases: z.number().int(),
  accuracy: z.number(),
})

const gateSchema = z.strictObject({
  passed: z.boolean(),
  /** the gate's failures, as `routecheck gate` would print them */
  failures: z.array(z.strictObject({ rule: z.string(), message: z.string() })),
})

export const roundSchema = z.strictObject({
  /** 0: the descriptions as they are */
  round: z.number().int(),
  /** the round whose descriptions and train results the rewriter started from */
  from: z.number().int().optional(),
  /** the group's descriptions this round routed with */
  descriptions: z.record(z.string(), z.string()),
  notes: z.string().optional(),
  train: halfSchema.optional(),
  test: halfSchema.optional(),
  /** the test half against round 0: cases that went right → wrong, wrong → right, and the exact McNemar p-value */
  heldOut: z.strictObject({ broke: z.number().int(), fixed: z.number().int(), mcnemarP: z.number() }).optional(),
  gate: gateSchema.optional(),
  /**
   * The gate's noise check (model routers only): the stable flips against round 0 routed
   * `repeats` more times with this round's descriptions, and how many the re-test did not
   * reproduce (noise: held at round 0's decision by the gate's rules)
   */
  retest: z.strictObject({ flips: z.number().int(), noise: z.number().int(), repeats: z.number().int() }).optional(),
  /** kept as a candidate: held-out accuracy rose and the gate passed */
  accepted: z.boolean(),
  /** why it was not kept (or not evaluated) */
  reason: z.string().optional(),
})
export type ImproveRound = z.infer<typeof roundSchema>

export const improveReportSchema = z.strictObject({
  kind: z.literal('routecheck-improve'),
  tool: z.strictObject({ name: z.literal('routecheck'), version: z.string() }),
  createdAt: z.string(),
  router: z.strictObject({ id: z.string() }),
  rewriter: z.strictObject({ model: z.string() }),
  /** the agents rewritten, and the overlap cluster they came from when chosen by cluster */
  agents: z.array(z.string()),
  cluster: z.number().int().optional(),
  datasets: z.array(z.string()),
  split: z.strictObject({ train: z.number().int(), test: z.number().int(), testShare: z.number(), stratifiedBy: z.literal('first expected label') }),
  repeats: z.number().int(),
  rounds: z.array(roundSchema),
  /** the round kept: the best held-out accuracy among the accepted */
  winner: z.number().int().optional(),
  /** the patch's file name in the improve folder, when a round was kept */
  patch: z.string().optional(),
  /** what was paid: `routingUsd` is every routing request, the re-tests of flips included (`retestUsd` of it) */
  cost: z.strictObject({ rewriterUsd: z.number(), routingUsd: z.number(), retestUsd: z.number().optional() }).optional(),
})
export type ImproveReport = z.infer<typeof improveReportSchema>
