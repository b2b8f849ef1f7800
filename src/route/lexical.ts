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
  docs: Array<Map<string, number>>
  lengths: number[]
  avgLength: number
  idf: Map<string, number>
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
  const df = new Map<string, number>()
  for (const d of docs) for (const t of d.keys()) df.set(t, (df.get(t) ?? 0) + 1)
  const n = docs.length
  // BM25's idf with the +1 inside the log, so a term in every document still counts a little, never negatively.
  const idf = new Map([...df].map(([t, f]) => [t, Math.log(1 + (n - f + 0.5) / (f + 0.5))]))
  return { names, docs, lengths, avgLength, idf }
}

/** BM25 of the prompt against every agent, in catalogue order. */
export function lexicalScores(prompt: string, index: Index, opts: Pick<LexicalOptions, 'k1' | 'b'>): number[] {
  const query = new Set(terms(prompt))
  return index.docs.map((doc, i) => {
    const norm = opts.k1 * (1 - opts.b + (opts.b * index.lengths[i]!) / index.avgLength)
    let score = 0
    for (const t of query) {
      const tf = doc.get(t)
      if (tf === undefined) continue
      score += (index.idf.get(t) ?? 0) * ((tf * (opts.k1 + 1)) / (tf + norm))
    }
    return score
  })
}

export function createLexicalRouter(options: Partial<LexicalOptions> = {}): Router {
  const opts = { ...LEXICAL_DEFAULTS, ...options }
  const indexes = new WeakMap<Catalogue, Index>()
  return {
    id: 'lexical',
    deterministic: true,
    async route(prompt, catalogue): Promise<Decision> {
      const started = performance.now()
      let index = indexes.get(catalogue)
      if (!index) {
        index = buildLexicalIndex(catalogue, opts.nameWeight)
        indexes.set(catalogue, index)
      }
      const raw = lexicalScores(prompt, index, opts)
      // Ties go to the earlier name, so the decision never depends on anything but the input.
      const ranked = raw.map((score, i) => ({ name: index.names[i]!, score })).sort((a, b) => b.score - a.score)
      const best = ranked[0]
      const agent = best && best.score >= opts.noneThreshold ? best.name : NONE
      const runnerUp = agent === NONE ? best?.name : ranked[1]?.name
      return {
        agent,
        scores: Object.fromEntries(ranked.map((r) => [r.name, round(r.score)])),
        ...(runnerUp !== undefined ? { runnerUp } : {}),
        latencyMs: performance.now() - started,
      }
    },
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4
}
