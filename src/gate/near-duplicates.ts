import { analyseOverlap, NEAR_DUPLICATE_SCORE, pairTextScores } from '../overlap/index.js'

type Described = { name: string; description: string; fingerprint: string }

/**
 * A text score must clear the near-duplicate line by this much before the
 * gate calls a pair new: one edit elsewhere moved an untouched pair from
 * 0.197 to 0.203 under a catalogue-fitted model, and a pair hovering at the
 * line must not flip the verdict back and forth.
 */
export const NEAR_DUPLICATE_MARGIN = 0.025

/** A pair the change made into near-duplicates, with what it shares. */
export type NewNearDuplicate = {
  a: string
  b: string
  /** the text score before the change, when both agents existed then */
  before: number | undefined
  after: number
  /** the agents the change added or edited, of the two */
  edited: string[]
  sharedTerms: string[]
}

/**
 * The gate's fourth rule, where the change is: only a pair with an agent the
 * change added or whose routing fields it edited can become new. Its before
 * and after scores come from one text model fitted on every description, old
 * and new, so untouched pairs cannot move; the after score must clear the
 * line by the margin, and the before score must have been under it.
 */
export function newNearDuplicates(baseline: readonly Described[], current: readonly Described[], line = NEAR_DUPLICATE_SCORE, margin = NEAR_DUPLICATE_MARGIN): NewNearDuplicate[] {
  const old = new Map(baseline.map((a) => [a.name, a]))
  const editedAgents = current.filter((a) => old.get(a.name)?.fingerprint !== a.fingerprint)
  const edited = new Set(editedAgents.map((a) => a.name))
  if (edited.size === 0) return []
  // One corpus: the baseline's descriptions, then the new versions of the edited agents.
  const docs = [...baseline, ...editedAgents]
  const beforeAt = new Map(baseline.map((a, i) => [a.name, i]))
  const afterAt = new Map([...current.map((a) => [a.name, beforeAt.get(a.name)!] as const), ...editedAgents.map((a, i) => [a.name, baseline.length + i] as const)])
  const candidates: Array<{ a: string; b: string }> = []
  for (const x of current) {
    for (const y of current) if (x.name < y.name && (edited.has(x.name) || edited.has(y.name))) candidates.push({ a: x.name, b: y.name })
  }
  const after = pairTextScores(docs, candidates.map(({ a, b }) => [afterAt.get(a)!, afterAt.get(b)!] as const))
  const existed = candidates.map(({ a, b }) => beforeAt.has(a) && beforeAt.has(b))
  const before = pairTextScores(docs, candidates.filter((_, k) => existed[k]).map(({ a, b }) => [beforeAt.get(a)!, beforeAt.get(b)!] as const))
  let k = 0
  return candidates.flatMap(({ a, b }, i) => {
    const was = existed[i] ? before[k++]!.text : undefined
    const now = after[i]!
    if (now.text < line + margin || (was !== undefined && was >= line)) return []
    return [{ a, b, before: was, after: now.text, edited: [a, b].filter((n) => edited.has(n)), sharedTerms: now.sharedTerms }]
  })
}

/** Pairs the text signal alone calls near-duplicates in a catalogue: what a baseline records. */
export function nearDuplicatePairs(agents: ReadonlyArray<{ name: string; description: string; file: string }>): Array<[string, string]> {
  const report = analyseOverlap({ agents: agents.map(({ name, description, file }) => ({ name, description, file })) })
  return report.pairs.filter((p) => p.nearDuplicate).map((p) => [p.a, p.b] as [string, string])
}

/**
 * An agent's neighbours by description, for the coverage fix: the agents whose text score with it
 * reaches the near-duplicate line, else the one nearest (a new role rarely copies another, yet its
 * prompts still sit beside the closest agent's); none when it shares no word with any.
 */
export function descriptionNeighbours(agents: ReadonlyArray<{ name: string; description: string }>, agent: string, line = NEAR_DUPLICATE_SCORE): string[] {
  const i = agents.findIndex((a) => a.name === agent)
  if (i < 0) return []
  const others = agents.flatMap((_, j) => (j === i ? [] : [j]))
  const scores = pairTextScores(agents, others.map((j) => [i, j] as const))
  const ranked = others.map((j, k) => ({ name: agents[j]!.name, text: scores[k]!.text })).sort((a, b) => b.text - a.text)
  const near = ranked.filter((o) => o.text >= line)
  if (near.length > 0) return near.map((o) => o.name)
  return ranked[0] && ranked[0].text > 0 ? [ranked[0].name] : []
}
