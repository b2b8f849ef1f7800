import type { Catalogue } from '../load/catalogue.js'
import { NONE } from '../load/dataset.js'
import { nameWords, termCounts, terms } from '../text/terms.js'
import type { Decision, Router } from './router.js'

/**
 * The offline router: Okapi BM25 of the prompt against each agent's name and
 * description. No key, no network, same answer every time — the baseline every
 * model router is compared with.
 */
export type LexicalOptions = {
  /** best BM25 score under which the prompt is left to the main assistant ("none") */
  noneThreshold: number
  /** how many times an agent's name words count, against once for description words */
  nameWeight: number
  k1: number
  b: number
}

/**
 * Defaults, with reasons (README "The lexical router"):
 * - noneThreshold 3.0: swept from 0 to 8 in steps of 0.5 on the bundled datasets;
 *   the highest accuracy at which `none` recall on datasets/routing.csv is at
 *   least 2/3 (2.5 scores 0.02 higher but leaves 44% of out-of-scope prompts
 *   delegated; README "The lexical router" has the sweep).
 * - nameWeight 2: a name is the most deliberate words in the file; counting them
 *   twice lets "golang" in a prompt find golang-pro over a long description that
 *   mentions Go once.
 * - k1 1.2, b 0.75: the textbook values; b matters here because description
 *   lengths differ by 10x between a one-line agent and one with <example> blocks.
 */
export const LEXICAL_DEFAULTS: LexicalOptions = { noneThreshold: 3.0, nameWeight: 2, k1: 1.2, b: 0.75 }

type Index = {
  names: string[]
  /** term → the agents that have it, with the term's weighted count there: the inverted index */
  postings: Map<string, Array<[agent: number, tf: number]>>
  lengths: number[]
  avgLength: number
  idf: Map<string, number>
  /** each agent's BM25 length normalisation, k1 × (1 − b + b × length / average), for the k1 and b it was built with */
  norms?: { k1: number; b: number; of: Float64Array }
}

export function buildLexicalIndex(catalogue: Catalogue, nameWeight: number): Index {
  const names = catalogue.agents.map((a) => a.name)
  const docs = catalogue.agents.map((a) => {
    const counts = termCounts(terms(a.description))
    for (const t of terms(nameWords(a.name))) counts.set(t, (counts.get(t) ?? 0) + nameWeight)
    return counts
  })
  const lengths = docs.map((d) => [...d.values()].reduce((s, n) => s + n, 0))
  const avgLength = lengths.reduce((s, n) => s + n, 0) / Math.max(1, lengths.length)
  const postings = new Map<string, Array<[number, number]>>()
  docs.forEach((d, i) => {
    for (const [t, tf] of d) {
      const list = postings.get(t)
      if (list) list.push([i, tf])
      else postings.set(t, [[i, tf]])
    }
  })
  const n = docs.length
  // BM25's idf with the +1 inside the log, so a term in every document still counts a little, never negatively.
  const idf = new Map([...postings].map(([t, list]) => [t, Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5))]))
  return { names, postings, lengths, avgLength, idf }
}

/** BM25 of the prompt against every agent, in catalogue order. Only the agents sharing a term are visited. */
export function lexicalScores(prompt: string, index: Index, opts: Pick<LexicalOptions, 'k1' | 'b'>): number[] {
  const scores = new Array<number>(index.names.length).fill(0)
  const norms = normsOf(index, opts)
  for (const t of new Set(terms(prompt))) {
    const list = index.postings.get(t)
    if (!list) continue
    const idf = index.idf.get(t)!
    for (const [i, tf] of list) scores[i]! += idf * ((tf * (opts.k1 + 1)) / (tf + norms[i]!))
  }
  return scores
}

/** The agents' length normalisations, worked out once per index and settings instead of once per matching term of every prompt. */
function normsOf(index: Index, { k1, b }: Pick<LexicalOptions, 'k1' | 'b'>): Float64Array {
  if (index.norms?.k1 !== k1 || index.norms.b !== b) index.norms = { k1, b, of: Float64Array.from(index.lengths, (length) => k1 * (1 - b + (b * length) / index.avgLength)) }
  return index.norms.of
}

export function createLexicalRouter(options: Partial<LexicalOptions> = {}): Router {
  const opts = { ...LEXICAL_DEFAULTS, ...options }
  const indexes = new WeakMap<Catalogue, Index>()
  return {
    id: 'lexical',
    deterministic: true,
    local: true,
    async route(prompt, catalogue): Promise<Decision> {
      const started = performance.now()
      let index = indexes.get(catalogue)
      if (!index) {
        index = buildLexicalIndex(catalogue, opts.nameWeight)
        indexes.set(catalogue, index)
      }
      const raw = lexicalScores(prompt, index, opts)
      // The best two in one pass; ties go to the earlier name, so the decision depends on nothing but the input.
      let best = -1
      let second = -1
      for (let i = 0; i < raw.length; i++) {
        const score = raw[i]!
        if (best === -1 || score > raw[best]!) {
          second = best
          best = i
        } else if (second === -1 || score > raw[second]!) second = i
      }
      const agent = best !== -1 && raw[best]! >= opts.noneThreshold ? index.names[best]! : NONE
      const runnerUp = agent === NONE ? index.names[best] : index.names[second]
      const scores: Record<string, number> = {}
      for (let i = 0; i < raw.length; i++) scores[index.names[i]!] = round(raw[i]!)
      return { agent, scores, ...(runnerUp !== undefined ? { runnerUp } : {}), latencyMs: performance.now() - started }
    },
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4
}
