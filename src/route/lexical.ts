import type { Catalogue } from '../load/catalogue.js'
import { NONE } from '../load/dataset.js'
import { isNumber, nameWords, termCounts, termOf, terms, words } from '../text/terms.js'
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
  /** term → the agents that have it, with the term's weighted count there (the inverted index), and the term's idf */
  byTerm: Map<string, TermPostings>
  lengths: number[]
  avgLength: number
  /** each agent's BM25 length normalisation, k1 × (1 − b + b × length / average), for the k1 and b it was built with */
  norms?: { k1: number; b: number; of: Float64Array }
  /** each word seen in a prompt: its term's postings, or null when the term is in no agent (or the word has no term) */
  byWord: Map<string, TermPostings | null>
  /** prompts scored so far: each term keeps the number of the last prompt that counted it, so a term counts once a prompt */
  prompts: number
}

type TermPostings = { list: Array<[agent: number, tf: number]>; idf: number; countedFor: number }

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
  const byTerm = new Map([...postings].map(([t, list]) => [t, { list, idf: Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5)), countedFor: 0 }]))
  return { names, byTerm, lengths, avgLength, byWord: new Map(), prompts: 0 }
}

/** BM25 of the prompt against every agent, in catalogue order. Only the agents sharing a term are visited. */
export function lexicalScores(prompt: string, index: Index, opts: Pick<LexicalOptions, 'k1' | 'b'>): number[] {
  const scores = new Array<number>(index.names.length).fill(0)
  const norms = normsOf(index, opts)
  // Each distinct term once, in the order the prompt first has it (the order its scores are summed in):
  // the word's entry says whether this prompt has counted the term already, with no set of terms a prompt.
  const thisPrompt = ++index.prompts
  for (const word of words(prompt)) {
    const term = postingsOf(index, word)
    if (term === null || term.countedFor === thisPrompt) continue
    term.countedFor = thisPrompt
    for (const [i, tf] of term.list) scores[i]! += term.idf * ((tf * (opts.k1 + 1)) / (tf + norms[i]!))
  }
  return scores
}

/** The word's term's postings, remembered for the word (numbers aside: a run's ids and counts would fill the map). */
function postingsOf(index: Index, word: string): TermPostings | null {
  let entry = index.byWord.get(word)
  if (entry !== undefined) return entry
  const term = termOf(word)
  // One record per term, shared by the words with that stem, so "counted" is kept per term.
  entry = (term === null ? undefined : index.byTerm.get(term)) ?? null
  if (!isNumber(word)) {
    if (index.byWord.size >= 100_000) index.byWord.clear()
    index.byWord.set(word, entry)
  }
  return entry
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
      // Two literals rather than a spread of an optional key: in Node 20 the spread is a runtime call per prompt.
      const latencyMs = performance.now() - started
      return runnerUp !== undefined ? { agent, scores, runnerUp, latencyMs } : { agent, scores, latencyMs }
    },
  }
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4
}
