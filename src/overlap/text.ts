import { nameWords, termTokens, type TermToken } from '../text/terms.js'

/**
 * The text signal: TF-IDF cosine of agent descriptions and names, on sparse
 * vectors, with pairs found through an inverted index so a catalogue of
 * thousands never needs an N×N matrix.
 */

/** How a description is read into a vector. */
export type TextModelOptions = {
  /** weight of the words before the first `<example>` / "Examples:" (the trigger: what the router reads first) */
  triggerWeight: number
  /** weight of the words inside the examples (illustrations, mostly transcript scaffolding) */
  exampleWeight: number
  /** weight of the name's words */
  nameWeight: number
  /** weight of a two-word phrase (adjacent terms in one clause) against a single word */
  bigramWeight: number
  /** drop XML tags and the agent's own name from the description before reading it */
  stripScaffolding: boolean
  /** drop role words ("pro", "expert", "specialist", "master"…: ROLE_WORDS): they say how good an agent claims to be, never its domain */
  dropRoleWords?: boolean
  /** document frequencies over a large corpus of real agent descriptions, counted with the catalogue's own (see `idf`) */
  background?: BackgroundDf | undefined
  /** weigh each term by how much it names a domain rather than a style of writing (the background's `domain`, see `domainWeight`) */
  domainWeights?: boolean
}

/**
 * Document frequencies of the model's terms over public collections of agent
 * descriptions (src/overlap/background-df.json, built by
 * scripts/build-term-df.ts), with the reading they were counted under.
 */
export type BackgroundDf = {
  $comment?: string
  reading: TextReading
  /** distinct descriptions counted */
  documents: number
  /** terms in fewer documents were left out (a missing term counts as 0) */
  minDf: number
  sources: Array<{ repo: string; commit: string; agentFiles: number; documents: number }>
  /** term (a stem, or two stems joined by a space) → documents holding it */
  df: Record<string, number>
  /** the rule the domain weights were worked out under */
  domainRule?: DomainRule
  /** word (a stem) → its domain weight (`domainWeight`), for words in `domainRule.minFiles` agent files or more whose weight is under 1; any other word weighs 1 */
  domain?: Record<string, number>
}

/**
 * How a word's domain weight is worked out from the background (see
 * `domainWeight`): the constants, written into background-df.json so a
 * background built under another rule can be told apart.
 */
export type DomainRule = {
  /** a name share (agents whose name holds the word, over agent files that hold it) at or above this is a domain word */
  nameShare: number
  /** a residual idf in the agents' bodies at or above this is a domain word */
  burstiness: number
  /** the least a word's sign can be (before the power) */
  floor: number
  /** the sign is raised to this power: 3, so a word half as domain-like as the constants ask weighs an eighth */
  power: number
  /** words in fewer agent files (name, description or body) keep weight 1: too little evidence */
  minFiles: number
}

/**
 * The domain rule. A word names a domain ("postgresql", "incident",
 * "kubernetes") when agents are named after it or when the agents that use
 * it use it again and again; it describes a style of writing ("detailed",
 * "explanations", "idiomatic", "robust", "long-term", "best practices") when
 * no agent is named after it and it turns up about once wherever it turns up.
 * Fold A of bench/overlap-eval.ts's judged pairs chose the constants, fold B
 * checks them (mean of average precision on all 471 agents and on the 20- and
 * 40-agent draws, A/B): nameShare 0.05 0.906/0.919, 0.1 0.902/0.912, 0.03
 * 0.913/0.922 but drops the community fixture's devops-engineer ~ sre-engineer
 * under the line (0.249); burstiness 1 against 0.75 0.902/0.914 and 1.5
 * 0.909/0.906; power 3 against 1 0.907/0.924 and 2 0.905/0.921, which rank
 * alike but leave lst97's golang-pro ~ typescript-pro, one author's template
 * around two languages, at 0.251 (power 1) instead of 0.133. `minFiles` 5:
 * a word in fewer agent files is too rare to call a style (2,832 words are
 * listed, 112 KB with the document frequencies).
 */
export const DOMAIN_RULE: DomainRule = { nameShare: 0.05, burstiness: 1, floor: 0.05, power: 3, minFiles: 5 }

/** What the background counts of one word for its domain weight. */
export type WordStats = {
  /** distinct agents (name, description or body) holding it */
  files: number
  /** agents whose name holds it */
  names: number
  /** agents whose body holds it */
  bodyDocs: number
  /** times it occurs in all bodies */
  bodyCount: number
}

/**
 * How much a word names a domain, from 0.05³ (pure style) to 1, over
 * `documents` background agents; undefined when it is in too few of them to
 * tell (it then weighs 1). The larger of two signs, each scaled to reach 1 at
 * the rule's constant, raised to the rule's power:
 * - its name share, (names + 0.1) / (files + 2): "python" names 36 of the 260
 *   agents holding it (0.14), "incident" 12 of 129; "detailed" names none of 444;
 * - its residual idf in the bodies, the idf it has over the idf a word spread
 *   at random (Poisson) with the same count would have: a domain word comes in
 *   bursts ("kubernetes" 1.33, "pydantic" 1.70), a style word does not
 *   ("explanations" 0.61, "best practices" 0.14).
 */
export function domainWeight(stats: WordStats, documents: number, rule: DomainRule = DOMAIN_RULE): number | undefined {
  if (stats.files < rule.minFiles) return undefined
  const share = (stats.names + 0.1) / (stats.files + 2)
  const residualIdf = stats.bodyDocs > 0 ? Math.log2(documents / stats.bodyDocs) + Math.log2(1 - Math.exp(-stats.bodyCount / documents)) : 0
  return Math.min(1, Math.max(rule.floor, share / rule.nameShare, residualIdf / rule.burstiness)) ** rule.power
}

/** What decides which terms a description yields, so a background counted under another reading can be told apart. */
export type TextReading = { stripScaffolding: boolean; bigrams: boolean; roleWords: string[] }

/**
 * Words that say how good or how senior an agent claims to be, never what it
 * does: collections name agents "<domain>-pro", "-expert", "-specialist",
 * "-master" by the author's habit, so typescript-pro and python-pro share
 * "pro" and a 30-agent catalogue reads it as a rare, telling word. Matched on
 * the written word ("masters" goes, "mastery" stays), and dropped only by the
 * overlap text model.
 *
 * "engineer", "developer" and "architect" stay: they name the kind of work
 * (data-engineer, data-scientist and data-analyst are three jobs; so are
 * backend-architect and backend-developer), and dropping them too cost the
 * evaluation (bench/overlap-eval.ts) 0.016 of average precision on the
 * 471-agent catalogue and 0.012 on 40-agent ones.
 *
 * The lexical router does not drop them: it matches a prompt's words, and a
 * prompt that names "the Go expert" or "a pro" is pointing at an agent by its
 * name; its BM25 idf, fitted on the catalogue, already discounts a word every
 * agent has.
 */
export const ROLE_WORDS: readonly string[] = `pro pros professional professionals expert experts specialist specialists master masters
guru gurus ninja ninjas wizard wizards virtuoso maestro rockstar whisperer senior seasoned veteran elite`
  .split(/\s+/)
  .filter(Boolean)

const ROLE: ReadonlySet<string> = new Set(ROLE_WORDS)

/** The reading TEXT_MODEL uses and the background was counted under: scaffolding stripped, phrases formed, role words dropped. */
export const TEXT_READING: TextReading = { stripScaffolding: true, bigrams: true, roleWords: [...ROLE_WORDS] }

/** Background terms kept: a term in one description of a thousand says nothing the catalogue cannot. */
export const BACKGROUND_MIN_DF = 2

/** Textbook TF-IDF over description and name words, the baseline the tuned model is compared with. */
export const PLAIN_TEXT_MODEL: TextModelOptions = { triggerWeight: 1, exampleWeight: 1, nameWeight: 1, bigramWeight: 0, stripScaffolding: false }

export type SparseVector = {
  /** term ids, ascending */
  ids: Int32Array
  /** unit-length weights, aligned with ids */
  weights: Float64Array
}

export type TextIndex = {
  names: string[]
  vectors: SparseVector[]
  /** term id → the term (a stem, or two stems joined by a space) */
  terms: string[]
  /** the term → its id */
  termId: Map<string, number>
  /** term id → number of agents whose vector holds it */
  df: Int32Array
  /** per agent: the ids of the terms its name gives (words and phrases) */
  nameTerms: Array<Set<number>>
  /** term → how to show it: a stem's most frequent word, a phrase's first-seen words */
  surface: Map<string, string>
}

const EXAMPLES_START = /<example>|(?:^|[\n.!?]\s*)Examples?\s*:/
const TAG = /<\/?[a-z][^<>]*>/gi

/** Splits a description into its trigger part and its examples part. */
export function splitDescription(description: string): { trigger: string; examples: string } {
  const m = EXAMPLES_START.exec(description)
  if (!m) return { trigger: description, examples: '' }
  return { trigger: description.slice(0, m.index), examples: description.slice(m.index) }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** One agent read into weighted token runs: phrases form inside a run, never across runs. */
type Reading = { runs: Array<{ tokens: TermToken[]; weight: number }>; nameTokens: TermToken[] }

function readAgent(agent: { name: string; description: string }, model: Pick<TextModelOptions, 'stripScaffolding' | 'triggerWeight' | 'exampleWeight' | 'nameWeight' | 'dropRoleWords'>): Reading {
  const parts = model.stripScaffolding || model.triggerWeight !== model.exampleWeight ? splitDescription(agent.description) : { trigger: agent.description, examples: '' }
  const ownName = new RegExp(`\\b${escapeRegExp(agent.name)}\\b`, 'gi')
  // Tags end a clause (no phrase spans them); the agent's own name is said by the name words already.
  const clean = (text: string) => (model.stripScaffolding ? text.replace(TAG, ' . ').replace(ownName, ' ') : text)
  // A dropped role word is skipped like a stop word: the words either side of it still make a phrase.
  const read = (text: string) => (model.dropRoleWords ? termTokens(text).filter((t) => !ROLE.has(t.word)) : termTokens(text))
  const nameTokens = read(nameWords(agent.name))
  return {
    runs: [
      { tokens: read(clean(parts.trigger)), weight: model.triggerWeight },
      { tokens: read(clean(parts.examples)), weight: model.exampleWeight },
      // Name words are one phrase each ("python backend"), never joined to the description's words.
      { tokens: nameTokens, weight: model.nameWeight },
    ],
    nameTokens,
  }
}

/** Calls `emit` for every term of a run: each word, then the phrase it makes with the next word of its clause. */
function forEachTerm(tokens: readonly TermToken[], bigrams: boolean, emit: (term: string, isPhrase: boolean, tok: TermToken, next: TermToken | undefined) => void): void {
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!
    emit(tok.term, false, tok, undefined)
    const next = tokens[i + 1]
    if (bigrams && next && next.clause === tok.clause && next.term !== tok.term) emit(`${tok.term} ${next.term}`, true, tok, next)
  }
}

/**
 * The distinct terms an agent yields under a reading (the background's
 * document frequencies are counted with this, so they match the terms the
 * model weighs).
 */
export function termsOfAgent(agent: { name: string; description: string }, reading: TextReading = TEXT_READING): Set<string> {
  const role = new Set(reading.roleWords)
  const model = { stripScaffolding: reading.stripScaffolding, triggerWeight: 1, exampleWeight: 1, nameWeight: 1, dropRoleWords: false }
  const out = new Set<string>()
  for (const run of readAgent(agent, model).runs) forEachTerm(run.tokens.filter((t) => !role.has(t.word)), reading.bigrams, (term) => out.add(term))
  return out
}

/** A background's df as a map, built once per background object. */
const backgroundMaps = new WeakMap<BackgroundDf, Map<string, number>>()
function backgroundMap(bg: BackgroundDf): Map<string, number> {
  let m = backgroundMaps.get(bg)
  if (!m) backgroundMaps.set(bg, (m = new Map(Object.entries(bg.df))))
  return m
}

const domainMaps = new WeakMap<BackgroundDf, Map<string, number>>()
function domainMap(bg: BackgroundDf): Map<string, number> {
  let m = domainMaps.get(bg)
  if (!m) domainMaps.set(bg, (m = new Map(Object.entries(bg.domain ?? {}))))
  return m
}

/** A word's domain weight (1 when the background lists none); a phrase weighs as its most domain-like word ("postgres query" as "postgres"). */
export function termDomainWeight(domain: ReadonlyMap<string, number>, term: string): number {
  const space = term.indexOf(' ')
  if (space < 0) return domain.get(term) ?? 1
  return Math.max(domain.get(term.slice(0, space)) ?? 1, domain.get(term.slice(space + 1)) ?? 1)
}

/**
 * Inverse document frequency of a term held by `df` of the catalogue's `n`
 * agents, and by `bgDf` of the background's `bgN` descriptions.
 *
 * Without a background: log(1 + n/df), the smoothed idf the model always
 * used, positive even for a term every agent has. In a catalogue of thirty
 * agents nearly every word is in one to three of them, so "comprehensive",
 * "modern" or "type" weigh as much as "postgres".
 *
 * With a background: log((bgN + n + 1) / (bgDf + df + 1)) + 1, one smoothed
 * idf over the background and the catalogue pooled, as if the catalogue's
 * agents had been added to a large collection of real ones. A word of the
 * genre is common there and weighs little whatever the catalogue holds; a
 * word the background never saw (a product name, a team's own jargon) weighs
 * as a word in one description of the pool; and a catalogue that repeats a
 * word many times still lowers its weight through `df`. The + 1 keeps a
 * word every description has from vanishing, as the old idf did.
 */
export function idf(df: number, n: number, bgDf = 0, bgN = 0): number {
  if (bgN <= 0) return Math.log(1 + n / df)
  return Math.log((bgN + n + 1) / (bgDf + df + 1)) + 1
}

/** Builds the index: every description is tokenised exactly once. */
export function buildTextIndex(agents: ReadonlyArray<{ name: string; description: string }>, model: TextModelOptions): TextIndex {
  const dictionary = new Map<string, number>()
  const terms: string[] = []
  const idOf = (t: string): number => {
    let id = dictionary.get(t)
    if (id === undefined) {
      id = terms.length
      dictionary.set(t, id)
      terms.push(t)
    }
    return id
  }
  const surfaceCounts = new Map<string, Map<string, number>>()
  // A phrase is shown as the words it was first seen as; a single stem as its most frequent word.
  const phraseSurface = new Map<string, string>()

  const rawDocs: Array<Map<number, number>> = []
  const nameTerms: Array<Set<number>> = []
  for (const agent of agents) {
    const tf = new Map<number, number>()
    const { runs, nameTokens } = readAgent(agent, model)
    for (const { tokens, weight } of runs) {
      for (const { term, word } of tokens) {
        let m = surfaceCounts.get(term)
        if (!m) surfaceCounts.set(term, (m = new Map()))
        m.set(word, (m.get(word) ?? 0) + 1)
      }
      if (weight <= 0) continue
      forEachTerm(tokens, model.bigramWeight > 0, (term, isPhrase, tok, next) => {
        const id = idOf(term)
        if (isPhrase && !phraseSurface.has(term)) phraseSurface.set(term, `${tok.word} ${next!.word}`)
        tf.set(id, (tf.get(id) ?? 0) + (isPhrase ? weight * model.bigramWeight : weight))
      })
    }
    // The name's words and its phrases ("python backend"): what the name already says is never news.
    const ofName = new Set<number>()
    forEachTerm(nameTokens, true, (term) => {
      const id = dictionary.get(term)
      if (id !== undefined) ofName.add(id)
    })
    nameTerms.push(ofName)
    rawDocs.push(tf)
  }

  const n = agents.length
  const df = new Int32Array(terms.length)
  for (const d of rawDocs) for (const id of d.keys()) df[id]!++
  const bg = model.background
  const bgDf = bg ? backgroundMap(bg) : undefined
  const domain = model.domainWeights && bg?.domain ? domainMap(bg) : undefined
  const idfs = Float64Array.from(terms, (t, id) => idf(df[id]!, n, bgDf?.get(t) ?? 0, bg?.documents ?? 0) * (domain ? termDomainWeight(domain, t) : 1))
  const vectors = rawDocs.map((d) => {
    const ids = Int32Array.from([...d.keys()].sort((a, b) => a - b))
    const weights = new Float64Array(ids.length)
    let norm = 0
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!
      // Sublinear term weight (log1p of the weighted count) times the idf.
      const w = Math.log1p(d.get(id)!) * idfs[id]!
      weights[k] = w
      norm += w * w
    }
    norm = Math.sqrt(norm) || 1
    for (let k = 0; k < weights.length; k++) weights[k]! /= norm
    return { ids, weights }
  })


  const surface = phraseSurface
  for (const [stem, words] of surfaceCounts) {
    let best = ''
    let bestCount = -1
    for (const [w, c] of words) if (c > bestCount || (c === bestCount && w < best)) [best, bestCount] = [w, c]
    surface.set(stem, best)
  }
  return { names: agents.map((a) => a.name), vectors, terms, termId: dictionary, df, nameTerms, surface }
}

/** Cosine of two unit vectors: a merge of their sorted ids. */
export function cosine(a: SparseVector, b: SparseVector): number {
  let i = 0
  let j = 0
  let dot = 0
  while (i < a.ids.length && j < b.ids.length) {
    const x = a.ids[i]!
    const y = b.ids[j]!
    if (x === y) dot += a.weights[i++]! * b.weights[j++]!
    else if (x < y) i++
    else j++
  }
  return Math.min(1, dot)
}

export type ScoredPair = { i: number; j: number; score: number }

/** Keeps the `size` highest-scoring pairs: a min-heap on score. */
export class TopPairs {
  private readonly heap: ScoredPair[] = []
  constructor(private readonly size: number) {}
  get floor(): number {
    return this.heap.length < this.size ? -Infinity : this.heap[0]!.score
  }
  offer(p: ScoredPair): void {
    if (this.size <= 0) return
    const h = this.heap
    if (h.length < this.size) {
      h.push(p)
      let k = h.length - 1
      while (k > 0) {
        const parent = (k - 1) >> 1
        if (!worse(h[k]!, h[parent]!)) break
        ;[h[k], h[parent]] = [h[parent]!, h[k]!]
        k = parent
      }
      return
    }
    if (!worse(h[0]!, p)) return
    h[0] = p
    let k = 0
    for (;;) {
      const l = 2 * k + 1
      const r = l + 1
      let m = k
      if (l < h.length && worse(h[l]!, h[m]!)) m = l
      if (r < h.length && worse(h[r]!, h[m]!)) m = r
      if (m === k) break
      ;[h[k], h[m]] = [h[m]!, h[k]!]
      k = m
    }
  }
  items(): ScoredPair[] {
    return [...this.heap]
  }
}

/** Lower score first; on a tie the later pair is the worse one, so results never depend on visiting order. */
function worse(a: ScoredPair, b: ScoredPair): boolean {
  if (a.score !== b.score) return a.score < b.score
  return a.i !== b.i ? a.i > b.i : a.j > b.j
}

export type SimilarityOptions = {
  /** pairs kept for each agent */
  perAgent: number
  /** pairs kept over the whole catalogue */
  overall: number
  /** a term in more than this share of agents is not used to find candidate pairs (its weight still counts once a pair is found) */
  maxDfShare: number
  /** catalogues this small use every term to find candidates, and list pairs that share nothing */
  exhaustiveUpTo: number
}

/**
 * Text similarity of the pairs worth listing: each agent's `perAgent` best
 * and the `overall` best, with exact cosines. Candidates come from an inverted
 * index over terms in at most `maxDfShare` of the agents; the contribution of
 * the skipped common terms is added back exactly for every candidate, so a
 * listed score is always the true cosine. Memory: the postings, one row of
 * accumulators, and the kept pairs.
 */
export function similarPairs(index: TextIndex, opts: SimilarityOptions): Map<string, ScoredPair> {
  const n = index.vectors.length
  const exhaustive = n <= opts.exhaustiveUpTo
  const maxDf = exhaustive ? n : Math.max(2, Math.floor(n * opts.maxDfShare))
  const termCount = index.terms.length

  // Postings (CSR) over the terms used for candidates; the rest, per agent, in a small side vector.
  const start = new Int32Array(termCount + 1)
  for (const v of index.vectors) for (const id of v.ids) if (index.df[id]! <= maxDf && index.df[id]! >= 2) start[id + 1]!++
  for (let t = 0; t < termCount; t++) start[t + 1]! += start[t]!
  const postDoc = new Int32Array(start[termCount]!)
  const postWeight = new Float64Array(start[termCount]!)
  const fill = start.slice(0, termCount)
  const common: SparseVector[] = []
  index.vectors.forEach((v, doc) => {
    const cIds: number[] = []
    const cWeights: number[] = []
    for (let k = 0; k < v.ids.length; k++) {
      const id = v.ids[k]!
      const d = index.df[id]!
      if (d > maxDf) {
        cIds.push(id)
        cWeights.push(v.weights[k]!)
      } else if (d >= 2) {
        postDoc[fill[id]!] = doc
        postWeight[fill[id]!++] = v.weights[k]!
      }
    }
    common.push({ ids: Int32Array.from(cIds), weights: Float64Array.from(cWeights) })
  })

  const perAgent = index.vectors.map(() => new TopPairs(opts.perAgent))
  const overall = new TopPairs(opts.overall)
  const acc = new Float64Array(n)
  const seen = new Uint8Array(n)
  const touched = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    let count = 0
    const v = index.vectors[i]!
    for (let k = 0; k < v.ids.length; k++) {
      const id = v.ids[k]!
      const end = start[id + 1]!
      const w = v.weights[k]!
      for (let p = start[id]!; p < end; p++) {
        const j = postDoc[p]!
        if (j <= i) continue
        if (!seen[j]) {
          seen[j] = 1
          touched[count++] = j
        }
        acc[j]! += w * postWeight[p]!
      }
    }
    if (exhaustive) {
      for (let j = i + 1; j < n; j++) {
        if (!seen[j]) {
          seen[j] = 1
          touched[count++] = j
        }
      }
    }
    const ci = common[i]!
    for (let c = 0; c < count; c++) {
      const j = touched[c]!
      const score = Math.min(1, acc[j]! + (ci.ids.length > 0 ? cosine(ci, common[j]!) : 0))
      acc[j] = 0
      seen[j] = 0
      const pair = { i, j, score }
      if (score > perAgent[i]!.floor) perAgent[i]!.offer(pair)
      if (score > perAgent[j]!.floor) perAgent[j]!.offer(pair)
      if (score > overall.floor) overall.offer(pair)
    }
  }

  const kept = new Map<string, ScoredPair>()
  for (const p of [...overall.items(), ...perAgent.flatMap((t) => t.items())]) kept.set(`${p.i} ${p.j}`, p)
  return kept
}

/** A stem or stem pair as words: "process pipelin" → "processing pipelines". */
export function readable(index: TextIndex, term: string): string {
  return (
    index.surface.get(term) ??
    term
      .split(' ')
      .map((s) => index.surface.get(s) ?? s)
      .join(' ')
  )
}

/**
 * Terms as words, best first. A phrase replaces the single words it already
 * shows, and phrases that chain ("machine learning" + "learning models") are
 * joined into one ("machine learning models").
 */
function preferPhrases(index: TextIndex, ids: readonly number[], limit: number): string[] {
  type Item = { stems: string[]; words: string[] }
  const out: Item[] = []
  const covers = (item: Item, stem: string) => item.stems.length > 1 && item.stems.includes(stem)
  for (const id of ids) {
    const term = index.terms[id]!
    const stems = term.split(' ')
    const words = readable(index, term).split(' ')
    if (stems.length === 1) {
      if (out.some((o) => covers(o, term))) continue
      out.push({ stems, words })
    } else {
      const item: Item = { stems, words }
      // Join with a phrase it chains onto, either way round.
      const before = out.find((o) => o.stems.length > 1 && o.stems[o.stems.length - 1] === stems[0] && !o.stems.includes(stems[1]!))
      const after = out.find((o) => o.stems.length > 1 && o.stems[0] === stems[1] && !o.stems.includes(stems[0]!))
      if (before) {
        before.stems.push(stems[1]!)
        before.words.push(words[1]!)
      } else if (after) {
        after.stems.unshift(stems[0]!)
        after.words.unshift(words[0]!)
      }
      const joined = before ?? after
      const replacing = out.findIndex((o) => o.stems.length === 1 && stems.includes(o.stems[0]!))
      const kept = out.filter((o) => !(o.stems.length === 1 && stems.includes(o.stems[0]!)))
      if (!joined) {
        if (replacing >= 0) kept.splice(Math.min(replacing, kept.length), 0, item)
        else kept.push(item)
      }
      out.splice(0, out.length, ...kept)
    }
    if (out.length >= limit) break
  }
  const shown = new Set<string>()
  return out
    .map((o) => o.words.join(' '))
    .filter((w) => !shown.has(w) && (shown.add(w), true))
    .slice(0, limit)
}

/** The shared terms that drive a pair's cosine, biggest contribution first, as words. */
export function sharedTerms(index: TextIndex, i: number, j: number, limit: number): string[] {
  const a = index.vectors[i]!
  const b = index.vectors[j]!
  const shared: Array<{ id: number; c: number }> = []
  let x = 0
  let y = 0
  while (x < a.ids.length && y < b.ids.length) {
    const p = a.ids[x]!
    const q = b.ids[y]!
    if (p === q) {
      shared.push({ id: p, c: a.weights[x]! * b.weights[y]! })
      x++
      y++
    } else if (p < q) x++
    else y++
  }
  shared.sort((u, v) => v.c - u.c || u.id - v.id)
  return preferPhrases(
    index,
    shared.slice(0, limit * 3).map((s) => s.id),
    limit,
  )
}

/**
 * Words that describe how an agent talks about itself rather than what it
 * does ("comprehensive", "elite", "encountering", "best practices"). They are
 * real evidence of copied boilerplate, so they stay in the vectors, but they
 * make poor advice: a description should never lead with them.
 */
const FILLER_WORDS = `absolute advanced authority battle best class comprehensive cutting deep edge effective efficient elite
better encountering ensure excel excels excellent expertise following include includes including involve involves knowledge
master masters mastery mention mentions modern power powerful practice practices production proper related robust
scalable seamless solution solutions specialize specializes specializing specialty structure thorough trigger triggers
various well world`

const FILLER: ReadonlySet<string> = new Set(termTokens(FILLER_WORDS).map((t) => t.term))

/**
 * What each member of a group has that the others lack: its description's
 * terms (name words and filler left out: the name already says them, filler
 * says nothing), weighted by how much they count in its vector and by how
 * few of the other members have them. A phrase is ranked as if it were one
 * word, so "type hints" can replace "hints".
 */
export function distinctiveTerms(index: TextIndex, members: readonly number[], limit: number, phraseBoost = 1): Map<number, string[]> {
  const holders = new Map<number, number>()
  for (const m of members) for (const id of index.vectors[m]!.ids) holders.set(id, (holders.get(id) ?? 0) + 1)
  const others = Math.max(1, members.length - 1)
  const out = new Map<number, string[]>()
  for (const m of members) {
    const v = index.vectors[m]!
    const rarityOf = (id: number | undefined) => (id === undefined ? 0 : 1 - ((holders.get(id) ?? 1) - 1) / others)
    const scored: Array<{ id: number; s: number }> = []
    for (let k = 0; k < v.ids.length; k++) {
      const id = v.ids[k]!
      if (index.nameTerms[m]!.has(id)) continue
      const parts = index.terms[id]!.split(' ')
      // A phrase holding a word of the member's own name ("python frameworks" for python-engineer) is no news either.
      if (parts.length > 1 && parts.some((p) => index.nameTerms[m]!.has(index.termId.get(p) ?? -1))) continue
      if (parts.some((p) => FILLER.has(p))) continue
      const rarity = rarityOf(id)
      if (rarity <= 0) continue
      // A phrase is worth showing for its own words: "machine learning" yes, "fastapi django" (two shared words side by side) no.
      const own = parts.length === 1 ? 1 : (phraseBoost * parts.reduce((sum, p) => sum + rarityOf(index.termId.get(p)), 0)) / parts.length
      if (own <= 0) continue
      scored.push({ id, s: v.weights[k]! * rarity * rarity * own })
    }
    out.set(m, bestTerms(index, scored, limit))
  }
  return out
}

/** The `limit` heaviest terms, phrases preferred over their own words (ties by term id, so the order is stable). */
function bestTerms(index: TextIndex, scored: Array<{ id: number; s: number }>, limit: number): string[] {
  scored.sort((a, b) => b.s - a.s || a.id - b.id)
  return preferPhrases(
    index,
    scored.slice(0, limit * 3).map((s) => s.id),
    limit,
  )
}

/** The terms of a description's trigger (the words before the examples), under the model's reading: what a router reads first. */
export function triggerTerms(description: string, bigrams = true): Set<string> {
  const out = new Set<string>()
  forEachTerm(termTokens(splitDescription(description).trigger.replace(TAG, ' . ')), bigrams, (term) => out.add(term))
  return out
}

/**
 * What each member of a group says that most of the others say too: terms of
 * its trigger held by at least half the group's members (two at least),
 * heaviest in its own vector first, filler left out. They are why a router
 * mixes the members up, and what a description should not lead with.
 */
export function commonTerms(index: TextIndex, members: readonly number[], descriptions: readonly string[], limit: number): Map<number, string[]> {
  const holders = new Map<number, number>()
  for (const m of members) for (const id of index.vectors[m]!.ids) holders.set(id, (holders.get(id) ?? 0) + 1)
  const enough = Math.max(2, Math.ceil(members.length / 2))
  const out = new Map<number, string[]>()
  members.forEach((m, k) => {
    const v = index.vectors[m]!
    const trigger = triggerTerms(descriptions[k] ?? '')
    const scored: Array<{ id: number; s: number }> = []
    for (let x = 0; x < v.ids.length; x++) {
      const id = v.ids[x]!
      const held = holders.get(id) ?? 0
      const term = index.terms[id]!
      if (held < enough || !trigger.has(term) || term.split(' ').some((p) => FILLER.has(p))) continue
      scored.push({ id, s: v.weights[x]! * (held / members.length) })
    }
    out.set(m, bestTerms(index, scored, limit))
  })
  return out
}

/**
 * Words that praise an agent rather than say what it does ("expert",
 * "elite", "comprehensive", "cutting-edge"): every collection's descriptions
 * are full of them, so they tell a router nothing, and a rewrite can drop them.
 */
export const PUFFERY_WORDS: readonly string[] = `${ROLE_WORDS.join(' ')} absolute authority battle-tested best-in-class comprehensive cutting-edge
elite excellent exceptional expertise extensive mastery masters modern powerful robust seamless state-of-the-art
thorough top-tier world-class`
  .split(/\s+/)
  .filter(Boolean)

const PUFFERY: ReadonlySet<string> = new Set(PUFFERY_WORDS)

/** The puffery words of a description's trigger, in the order they first appear, as written (lower case). */
export function pufferyIn(description: string, limit: number): string[] {
  const seen: string[] = []
  for (const m of splitDescription(description).trigger.toLowerCase().matchAll(/[a-z]+(?:-[a-z]+)*/g)) {
    if (PUFFERY.has(m[0]) && !seen.includes(m[0])) seen.push(m[0])
    if (seen.length >= limit) break
  }
  return seen
}
