import type { Catalogue } from '../load/catalogue.js'
import type { DatasetRow } from '../load/dataset.js'
import type { OverlapPair } from '../overlap/index.js'
import { rowsFromExamples } from './examples.js'
import { planAimed, type GenerationPlan } from './generate.js'

/**
 * `overlap --probe`: routing evidence without a labelled dataset. The pairs
 * worth probing are the near-duplicates the descriptions flag and the few
 * just under the line; for each of their agents, prompts aimed squarely at
 * it are drafted (Claude, through generate's own requests) or taken from
 * the descriptions' <example> turns. How often they cross over is the
 * pair's confusion signal. Pure: the use case sends and routes.
 */

/** Tagged on every probe prompt, so a probe set reused as a dataset says what it is. */
export const PROBE_TAG = 'probe'

/**
 * Prompts per agent: 8, the fewest at which a pair's 16 prompts can tell
 * both ends apart: a router at a coin toss is shown confused (8 of 16
 * right: 95% up to 0.72, under 0.75) and one right on 3 prompts in 4 is
 * shown to tell them apart (12 of 16: from 0.51, over 0.5). At 6 a coin
 * toss is caught (6 of 12: up to 0.746) but 9 of 12 right is "not yet clear".
 */
export const PROBE_PROMPTS = 8

/**
 * Pairs probed at most: 16, which holds the bundled agents' 10 flagged
 * pairs and the 3 below the line, and bounds drafting at 32 agents, one
 * request each ($0.023 a request on the bundled 15-agent catalogue at
 * claude-sonnet-5-5, more as the catalogue in every request grows).
 */
export const PROBE_PAIRS = 16

/** Pairs just under the near-duplicate line probed as well: where the text signal is least sure, routing may show a confusion it missed. */
export const PROBE_BELOW_LINE = 3

export type ProbePairChoice = { a: string; b: string; text: number; flagged: boolean; sharedTerms: string[] }

/**
 * The pairs to probe, from an overlap of the descriptions alone (pairs
 * ranked by score): every near-duplicate, strongest first, then the next
 * `belowLine` under the line, at most `cap` in all.
 */
export function chooseProbePairs(pairs: readonly OverlapPair[], cap: number, belowLine = PROBE_BELOW_LINE): { pairs: ProbePairChoice[]; flaggedLeftOut: number } {
  const pick = (p: OverlapPair): ProbePairChoice => ({ a: p.a, b: p.b, text: p.text, flagged: p.nearDuplicate, sharedTerms: p.sharedTerms })
  const flagged = pairs.filter((p) => p.nearDuplicate)
  const below = pairs.filter((p) => !p.nearDuplicate).slice(0, belowLine)
  return { pairs: [...flagged, ...below].slice(0, cap).map(pick), flaggedLeftOut: Math.max(0, flagged.length - cap) }
}

/** The agents of the chosen pairs, in catalogue order: the ones prompts are aimed at. */
export function probedAgents(catalogue: Catalogue, pairs: readonly ProbePairChoice[]): string[] {
  const named = new Set(pairs.flatMap((p) => [p.a, p.b]))
  return catalogue.agents.filter((a) => named.has(a.name)).map((a) => a.name)
}

/** generate's requests for prompts aimed at each agent, and nothing else (no boundary, none or Explore prompts: a probe measures where clear requests go). */
export function planProbes(catalogue: Catalogue, agents: readonly string[], perAgent: number): GenerationPlan {
  return { perAgent, agents: catalogue.agents.map((a) => a.name).filter((n) => agents.includes(n)), pairs: [], ...planAimed(catalogue, agents, perAgent) }
}

/** Drafted or example rows as probe prompts: tagged, so they say what they are wherever they go next. */
export function asProbeRows(rows: readonly DatasetRow[]): DatasetRow[] {
  return rows.map((r) => ({ ...r, tags: [PROBE_TAG, ...r.tags.filter((t) => t !== PROBE_TAG)] }))
}

/** Offline probes: each agent's <example> user turns (the first `perAgent`), labelled as `init` labels them. */
export function probeRowsFromExamples(catalogue: Catalogue, agents: readonly string[], perAgent: number): DatasetRow[] {
  const taken = new Map<string, number>()
  const rows = rowsFromExamples(catalogue).filter((r) => {
    const label = r.expected[0]!
    if (!agents.includes(label)) return false
    const n = (taken.get(label) ?? 0) + 1
    taken.set(label, n)
    return n <= perAgent
  })
  return asProbeRows(rows)
}
