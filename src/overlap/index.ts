/**
 * ## Overlap: weights and thresholds
 *
 * Every pair of agents gets a **text** score: the TF-IDF cosine of their
 * names and descriptions, where the trigger (the words before the first
 * `<example>` or "Examples:") counts in full, example blocks count 0.3,
 * two-word phrases count 0.5 of a word, the name counts twice, and tags, the
 * agent's own name and role words ("pro", "expert", "specialist"…) are
 * dropped. A word's idf is counted over the catalogue and a background of
 * 1,302 public agent descriptions together, and multiplied by its domain
 * weight: how much the background says the word names a domain
 * ("postgresql", "incident": 1) rather than a style of writing ("detailed",
 * "idiomatic", "best practices": 0.002–0.11). A run adds **confusion**
 * (cases routed across the pair on primary labels, over the pair's decided
 * cases), **co-acceptance** (cases accepting both, over cases accepting
 * either), and the shares of the pair's cases with **split votes** or a
 * **low margin** (a gap between the top two in the run's lowest quarter).
 * The combined score is a noisy-OR,
 * `1 − (1 − text)(1 − 0.5·confusion)(1 − 0.3·coAcceptance)(1 − 0.15·split)(1 − 0.15·lowMargin)`:
 * each signal is a separate chance to see the overlap, so a run can confirm
 * overlap but never clear it (a router that happens to separate two
 * look-alike descriptions today may not tomorrow). Run signals join once the
 * pair has 5 decided cases; with no run the score is the text score. A pair
 * is a **near-duplicate** at a score of 0.25 or more, or when its two
 * descriptions alone (names left out) score 0.5 or more, whatever the run
 * says. On the bundled agents the ten pairs of
 * Python agents score 0.29–0.51 on text and every other pair 0.07 or less;
 * 0.25 flags all ten and joins the five into one cluster. With the lexical
 * router's runs on the bundled datasets the Python pairs score 0.31–0.56 and
 * other pairs at most 0.16. Copies and paraphrases planted among the bundled
 * agents score 0.55–0.98 on their descriptions alone and the Python pairs
 * 0.25–0.45, so from 0.5 two descriptions are one written twice: "merge",
 * not "reword". A coin-toss confusion (0.5) or a labeller who always accepts
 * both is enough on its own to flag a pair (0.25 and 0.3). Lint flags
 * descriptions under 40 characters (too little to route on) or over 1,500
 * (≈375 tokens, paid on every routing call), and descriptions whose text
 * score, names left out, is 0.95 or more as near-exact copies. Where each
 * figure comes from: bench/overlap-eval.ts, and the README's "Weights and
 * thresholds, and why".
 */
import { isFromDescription } from '../load/dataset.js'
import { adviseCluster, adviceString, type AdviceInput } from './advice.js'
import { lintAgents } from './lint.js'
import { probeEvidence, type ProbeSpec } from './probes.js'
import { collectRunSignals, pairKey, type RunSignals } from './run.js'
import type { InvalidFile, OverlapAgent, OverlapCase, OverlapCluster, OverlapPair, OverlapReport, SignalName } from './schema.js'
import backgroundJson from './background-df.json' with { type: 'json' }
import { buildTextIndex, commonTerms, cosine, distinctiveTerms, pufferyIn, sharedTerms, similarPairs, type BackgroundDf, type TextIndex, type TextModelOptions } from './text.js'

export type { InvalidFile, LintFinding, OverlapAgent, OverlapCase, OverlapCluster, OverlapPair, OverlapReport, ProbePair, ProbeReport, RoutingEvidence, SignalName } from './schema.js'
export type { ProbeSpec } from './probes.js'
export { overlapAgentSchema, overlapCaseSchema, overlapReportSchema } from './schema.js'
export { PLAIN_TEXT_MODEL, ROLE_WORDS, type BackgroundDf, type TextModelOptions } from './text.js'
export { byProbes, leftOutText, probeSourceText, probeVerdictText, renderOverlapText, routedText, VERDICT_WORDS } from './render.js'
export { adviceString, clusterAdviceSchema, COIN_TOSS, CONFUSED_BELOW, judgePair, MIN_PAIR_PROMPTS, type ClusterAdvice, type PairAdvice, type PairVerdict } from './advice.js'
export { pairKey } from './run.js'

/** Document frequencies over public collections of agent descriptions (scripts/build-term-df.ts writes it; its `sources` say which repositories and commits). */
export const BACKGROUND_DF = backgroundJson as BackgroundDf

/** The text model fitted on the catalogue alone, the default before the background: kept to compare with (bench/overlap-eval.ts, test/overlap.test.ts). */
export const TEXT_MODEL_CATALOGUE_ONLY: TextModelOptions = { triggerWeight: 1, exampleWeight: 0.3, nameWeight: 1, bigramWeight: 0.5, stripScaffolding: true }

/** The text model before names counted twice and words were weighed by domain: the background and role words alone (bench/overlap-eval.ts compares with it). */
export const TEXT_MODEL_GENRE_ONLY: TextModelOptions = { ...TEXT_MODEL_CATALOGUE_ONLY, dropRoleWords: true, background: BACKGROUND_DF }

/**
 * How descriptions become vectors. Measured by bench/overlap-eval.ts (figures
 * in the README, "Weights and thresholds, and why"); each constant below was
 * chosen on fold A of its judged pairs and checked on fold B.
 */
export const TEXT_MODEL: TextModelOptions = { ...TEXT_MODEL_GENRE_ONLY, nameWeight: 2, domainWeights: true }
// Figures: mean of average precision on all 471 agents and mean AP on the 20- and 40-agent draws, fold A / fold B (bench/overlap-eval.ts "sensitivity").
// domainWeights (DOMAIN_RULE in text.ts): lst97's golang-pro ~ typescript-pro, which share only their author's template, scores 0.133 with it and 0.386 without; without it the model ranks all 471 agents about as well (AP 0.904 against 0.912), but at the line finds 64 of the 123 overlaps judged inside collections instead of 94.
// nameWeight 2: the name is the author's one-line statement of the role, and a router reads it first. 1.5 is worse on both folds (0.881/0.905 against 0.906/0.919); 2.5 is better (0.923/0.927) but ranks a Python pair above a planted paraphrase of security-auditor (test/overlap.test.ts), so a copy would no longer outrank one role written twice.
// bigramWeight 0.5: shared phrases mark copying more than shared topic words; 0.25 and 1 are both worse on both folds.
// exampleWeight 0.3: examples are transcripts whose scaffolding every agent shares; a copied trigger with new examples rises from 0.57 to 0.80.
// background, dropRoleWords: see BACKGROUND_DF and ROLE_WORDS; alone (TEXT_MODEL_GENRE_ONLY) they helped the 20- and 40-agent draws (0.904 → 0.926, 0.863 → 0.876) but not all 471 agents (0.833 → 0.813).

/**
 * Text scores of chosen pairs among `docs`, all under one model fitted on
 * `docs`: the gate scores a pair's old and new descriptions side by side in
 * it, so a pair's score moves only when its own words do.
 */
export function pairTextScores(docs: ReadonlyArray<{ name: string; description: string }>, pairs: ReadonlyArray<readonly [number, number]>): Array<{ text: number; sharedTerms: string[] }> {
  const index = buildTextIndex(docs, TEXT_MODEL)
  return pairs.map(([i, j]) => ({ text: cosine(index.vectors[i]!, index.vectors[j]!), sharedTerms: sharedTerms(index, i, j, SHARED_TERMS) }))
}

/** Noisy-OR weights (what a signal at full strength says alone): text is the cause and needs no run; confusion is the symptom users feel (a coin toss, 0.5, flags alone); co-acceptance is the labeller saying "either will do"; split votes and low margins are noisy hints that only add to others. */
export const SIGNAL_WEIGHTS: Readonly<Record<SignalName, number>> = { text: 1, confusion: 0.5, coAcceptance: 0.3, splitVotes: 0.15, lowMargins: 0.15 }

/**
 * Combined score from which a pair is a near-duplicate. On the draws of
 * bench/overlap-eval.ts, F2 of the flag (recall counted twice: a flag asks a
 * person to look, a miss hides a duplicate) peaks at 0.25 on fold A, for
 * catalogues of 20 and of 40 agents (fold B: 0.25 and 0.3). There the text
 * model flags more precisely and finds more than the model before did at its
 * 0.2: on the 40-agent draws precision 0.84 and recall 0.90 against 0.69 and
 * 0.85; inside one collection 94 of 123 judged overlaps and 13 of 30 pairs
 * judged different, against 92 and 19 (and 72 flags nobody judged).
 */
export const NEAR_DUPLICATE_SCORE = 0.25

/**
 * Text score of two descriptions alone (names left out) from which they are
 * one agent written twice: merge, don't reword; a near-duplicate whatever a
 * run says. On the 20- and 40-agent draws of bench/overlap-eval.ts, 97% and
 * 98% of the pairs from 0.5 are one role written twice; copies and
 * paraphrases planted among the bundled agents score 0.55–0.98, the Python
 * agents, five people's takes on one role, 0.25–0.45.
 */
export const MERGE_TEXT = 0.5

/** Text score of two descriptions (names left out) from which lint calls them near-exact copies. */
export const NEAR_EXACT_TEXT = 0.95

/** Decided cases a pair needs (primary among the two) before run signals join its score: one misrouted case is not a pattern. */
export const MIN_PAIR_SUPPORT = 5

/** A margin in the run's lowest quarter is a low margin: scale-free, so it works for any router's scores. */
export const LOW_MARGIN_QUANTILE = 0.25

/** Under 40 characters a description cannot say both what an agent does and when to use it. */
export const MIN_DESCRIPTION_CHARS = 40

/** Over 1,500 characters (≈375 tokens) a description is mostly examples, and every description is sent on every routing call. */
export const MAX_DESCRIPTION_CHARS = 1500

/** Text pairs kept per agent while scanning, so each agent's nearest neighbours are always known. */
export const TEXT_PAIRS_PER_AGENT = 10

/** Pairs listed per agent of the catalogue (at least; every near-duplicate is listed). */
export const LISTED_PAIRS_PER_AGENT = 5

/** Terms common to more than half the agents do not generate candidate pairs in large catalogues (their weight still counts). */
export const CANDIDATE_MAX_DF_SHARE = 0.5

/** Catalogues up to this size compare every pair. */
export const EXHAUSTIVE_UP_TO = 200

/** Shared and distinctive terms shown per pair and per member. */
export const SHARED_TERMS = 8
export const DISTINCTIVE_TERMS = 6

/** Ids kept per evidence list (the counts are always complete). */
export const EVIDENCE_LIMIT = 25

export type OverlapThresholds = {
  nearDuplicate: number
  mergeText: number
  nearExactText: number
  minPairSupport: number
  lowMarginQuantile: number
  /** an absolute low-margin line in the router's score units, instead of the quantile */
  lowMargin: number | undefined
  minDescriptionChars: number
  maxDescriptionChars: number
  weights: Readonly<Record<SignalName, number>>
  textModel: TextModelOptions
}

export const OVERLAP_DEFAULTS: OverlapThresholds = {
  nearDuplicate: NEAR_DUPLICATE_SCORE,
  mergeText: MERGE_TEXT,
  nearExactText: NEAR_EXACT_TEXT,
  minPairSupport: MIN_PAIR_SUPPORT,
  lowMarginQuantile: LOW_MARGIN_QUANTILE,
  lowMargin: undefined,
  minDescriptionChars: MIN_DESCRIPTION_CHARS,
  maxDescriptionChars: MAX_DESCRIPTION_CHARS,
  weights: SIGNAL_WEIGHTS,
  textModel: TEXT_MODEL,
}

export type OverlapInput = {
  agents: readonly OverlapAgent[]
  /** a run's cases (summary.json `cases`); without them only the text signal is computed */
  cases?: readonly OverlapCase[]
  /** files the loader could not read as agents, passed through */
  invalid?: readonly InvalidFile[]
  /** where `cases` came from, for the advice: a labelled dataset (the default) or probe prompts, and their files */
  evidence?: { source: 'dataset' | 'probes'; of: readonly string[] }
  /** `overlap --probe`: the pairs probed (`cases` are their prompts), for the per-pair evidence */
  probes?: ProbeSpec
}

type Scored = OverlapPair & { i: number; j: number }

type AgentsText = { index: TextIndex; copies: TextIndex; textPairs: ReturnType<typeof similarPairs> }

/**
 * What the descriptions alone give (the text index, the descriptions-only
 * index, the text pairs), kept for the last few catalogues by their text:
 * a run works it out while its requests are out (prepareOverlapText), and
 * the overlap it records after the run finds it ready.
 */
const agentsTexts = new WeakMap<TextModelOptions, Map<string, AgentsText>>()
const AGENTS_TEXTS_KEPT = 4

function textModelOf(sortedAgents: readonly OverlapAgent[], textModel: TextModelOptions): AgentsText {
  const key = JSON.stringify(sortedAgents.map((a) => [a.name, a.description]))
  let kept = agentsTexts.get(textModel)
  if (!kept) agentsTexts.set(textModel, (kept = new Map()))
  let found = kept.get(key)
  if (!found) {
    const index = buildTextIndex(sortedAgents, textModel)
    found = {
      index,
      // The descriptions alone, names left out: whether one description is another written twice (merge, lint's copies) is a question about the descriptions.
      copies: buildTextIndex(sortedAgents, { ...textModel, nameWeight: 0 }),
      textPairs: similarPairs(index, {
        perAgent: TEXT_PAIRS_PER_AGENT,
        overall: LISTED_PAIRS_PER_AGENT * sortedAgents.length,
        maxDfShare: CANDIDATE_MAX_DF_SHARE,
        exhaustiveUpTo: EXHAUSTIVE_UP_TO,
      }),
    }
    if (kept.size >= AGENTS_TEXTS_KEPT) kept.delete(kept.keys().next().value!)
    kept.set(key, found)
  }
  return found
}

/**
 * Works out ahead what analyseOverlap will need from these agents' text
 * alone (and warms the code that scores them): for a run to call while its
 * requests are out and the CPU waits on the network.
 */
export function prepareOverlapText(agents: readonly OverlapAgent[], opts: Partial<OverlapThresholds> = {}): void {
  analyseOverlap({ agents }, opts)
}

const codeUnitOrder = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0)

/**
 * Scores pairs of agents on every signal the input allows, flags
 * near-duplicates, groups them into clusters with what sets each member
 * apart, and lints the agents. Pure: same input, same report.
 */
export function analyseOverlap(input: OverlapInput, opts: Partial<OverlapThresholds> = {}): OverlapReport {
  const t: OverlapThresholds = { ...OVERLAP_DEFAULTS, ...opts }
  // Sorted by name (code-unit order), so the report never depends on the order agents came in and every pair reads a < b.
  const agents = [...input.agents].sort((x, y) => codeUnitOrder(x.name, y.name))
  const n = agents.length
  const names = agents.map((a) => a.name)
  const { index, copies, textPairs } = textModelOf(agents, t.textModel)
  const copyText = (i: number, j: number) => cosine(copies.vectors[i]!, copies.vectors[j]!)
  const given = input.cases ?? []
  // A dataset's from-description cases are the descriptions' own <example> prompts: routed right, they show the router matching a
  // sentence it was shown, not telling two agents apart, so they are no routing evidence. Probes from the examples stay: their
  // report says what they are (ProbeReport.from) wherever it is shown.
  const leftOut = input.evidence?.source === 'probes' ? [] : given.filter(isFromDescription)
  const cases = leftOut.length > 0 ? given.filter((c) => !isFromDescription(c)) : given
  const leftOutBy = new Map<string, number>()
  for (const c of leftOut) leftOutBy.set(c.expected[0]!, (leftOutBy.get(c.expected[0]!) ?? 0) + 1)
  const fromDescription = leftOut.length > 0 ? { count: (m: string) => leftOutBy.get(m) ?? 0, of: [...(input.evidence?.of ?? [])] } : undefined
  const run = cases.length > 0 ? collectRunSignals(cases, new Set(names), { lowMarginQuantile: t.lowMarginQuantile, lowMargin: t.lowMargin }) : undefined
  const signals: SignalName[] = ['text', ...(['confusion', 'coAcceptance', 'splitVotes', 'lowMargins'] as const).filter((s) => run?.available.has(s))]

  // Candidates: the text pairs worth listing, and every pair the run has anything to say about.
  const position = new Map(names.map((name, i) => [name, i]))
  const candidates = new Map<string, { i: number; j: number; text: number | undefined }>()
  for (const p of textPairs.values()) candidates.set(pairKey(names[p.i]!, names[p.j]!), { i: p.i, j: p.j, text: p.score })
  for (const key of run?.pairs.keys() ?? []) {
    if (candidates.has(key)) continue
    const [x, y] = key.split('\u0000') as [string, string]
    const i = position.get(x)
    const j = position.get(y)
    if (i === undefined || j === undefined) continue
    candidates.set(key, { i: Math.min(i, j), j: Math.max(i, j), text: undefined })
  }

  const scored: Scored[] = []
  for (const [key, c] of candidates) {
    const text = c.text ?? cosine(index.vectors[c.i]!, index.vectors[c.j]!)
    scored.push(scorePair(names[c.i]!, names[c.j]!, c.i, c.j, text, copyText(c.i, c.j), run?.pairs.get(key), run, t))
  }
  scored.sort((x, y) => y.score - x.score || x.i - y.i || x.j - y.j)

  const nearCount = scored.filter((p) => p.nearDuplicate).length
  const listed = scored.slice(0, Math.max(LISTED_PAIRS_PER_AGENT * n, nearCount))
  const pairs: OverlapPair[] = listed.map(({ i, j, ...p }) => ({ ...p, sharedTerms: sharedTerms(index, i, j, SHARED_TERMS) }))

  const evidence = run ? { source: input.evidence?.source ?? 'dataset', of: [...(input.evidence?.of ?? [])] } : undefined
  // The advice also says who wrote probe prompts; the report's `evidence` keeps its two fields.
  const adviceEvidence = evidence && input.probes ? { ...evidence, from: input.probes.from } : evidence
  const clusters = buildClusters(index, copyText, agents, scored.filter((p) => p.nearDuplicate), run, adviceEvidence, fromDescription, t)
  const scoresOf = (a: string, b: string) => {
    const [i, j] = [position.get(a), position.get(b)]
    return i === undefined || j === undefined ? { text: 0, copyText: 0 } : { text: cosine(index.vectors[i]!, index.vectors[j]!), copyText: copyText(i, j) }
  }
  const probes = input.probes ? probeEvidence(input.probes, cases, scoresOf, t.mergeText) : undefined
  const { lint, tokens } = lintAgents(
    agents,
    scored.map((p) => ({ a: p.a, b: p.b, text: copyText(p.i, p.j) })),
    { minDescriptionChars: t.minDescriptionChars, maxDescriptionChars: t.maxDescriptionChars, nearExactText: t.nearExactText },
  )
  const invalid = (input.invalid ?? []).map(({ file, line, reason }) => ({ file, line, reason }))
  return { signals, ...(evidence ? { evidence } : {}), pairs, clusters, invalid, lint, tokens, ...(probes ? { probes } : {}), ...(leftOut.length > 0 ? { leftOut: { fromDescription: leftOut.length } } : {}) }
}

function scorePair(a: string, b: string, i: number, j: number, text: number, copyText: number, stats: ReturnType<RunSignals['pairs']['get']>, run: RunSignals | undefined, t: OverlapThresholds): Scored {
  const pair: Scored = { a, b, i, j, score: text, text, nearDuplicate: false, sharedTerms: [], evidence: {} }
  // Noisy-OR: each signal is a separate chance to see the overlap; 1 − Π(1 − weight × value).
  let miss = 1 - t.weights.text * text
  let joined = false
  if (run) {
    const support = (run.support.get(a) ?? 0) + (run.support.get(b) ?? 0)
    const routed = stats?.routedAcross ?? []
    const co = stats?.coAccepted ?? []
    const either = (run.accepted.get(a) ?? 0) + (run.accepted.get(b) ?? 0) - co.length
    const counts = support > 0 && support >= t.minPairSupport
    const add = (signal: SignalName, value: number) => {
      if (!counts) return
      miss *= 1 - t.weights[signal] * Math.min(1, value)
      joined = true
    }
    if (support > 0) {
      pair.confusion = routed.length / support
      add('confusion', pair.confusion)
    }
    pair.evidence.routedAcross = routed.slice(0, EVIDENCE_LIMIT)
    if (either > 0) {
      pair.coAcceptance = co.length / either
      add('coAcceptance', pair.coAcceptance)
      pair.evidence.coAccepted = co.slice(0, EVIDENCE_LIMIT)
    }
    if (run.available.has('splitVotes')) {
      const split = stats?.splitVotes ?? []
      pair.splitVotes = split.length
      add('splitVotes', split.length / support)
      pair.evidence.splitVotes = split.slice(0, EVIDENCE_LIMIT)
    }
    if (run.available.has('lowMargins')) {
      const low = stats?.lowMargins ?? []
      pair.lowMargins = low.length
      add('lowMargins', low.length / support)
      pair.evidence.lowMargins = low.slice(0, EVIDENCE_LIMIT)
    }
  }
  // With no run signal joined, the score is the text score itself.
  pair.score = joined ? 1 - miss : text
  pair.nearDuplicate = pair.score >= t.nearDuplicate || copyText >= t.mergeText
  return pair
}

/** Own terms, shared terms and praise listed per member in the advice. */
const ADVICE_TERMS = 4

function buildClusters(
  index: TextIndex,
  /** the text score of two members' descriptions alone */
  copyText: (i: number, j: number) => number,
  agents: readonly OverlapAgent[],
  near: readonly Scored[],
  run: RunSignals | undefined,
  evidence: { source: 'dataset' | 'probes'; of: readonly string[]; from?: ProbeSpec['from'] | undefined } | undefined,
  fromDescription: AdviceInput['fromDescription'],
  t: OverlapThresholds,
): OverlapCluster[] {
  // Union-find over the near-duplicate pairs.
  const parent = new Map<number, number>()
  const find = (x: number): number => {
    let r = x
    while (parent.get(r) !== r) r = parent.get(r)!
    while (parent.get(x) !== r) {
      const next = parent.get(x)!
      parent.set(x, r)
      x = next
    }
    return r
  }
  for (const p of near) {
    for (const x of [p.i, p.j]) if (!parent.has(x)) parent.set(x, x)
    const [ri, rj] = [find(p.i), find(p.j)]
    if (ri !== rj) parent.set(Math.max(ri, rj), Math.min(ri, rj))
  }
  const groups = new Map<number, number[]>()
  for (const x of parent.keys()) {
    const r = find(x)
    const g = groups.get(r)
    if (g) g.push(x)
    else groups.set(r, [x])
  }
  const pairsOf = new Map<number, Scored[]>()
  for (const p of near) {
    const r = find(p.i)
    const list = pairsOf.get(r)
    if (list) list.push(p)
    else pairsOf.set(r, [p])
  }

  const clusters: Array<OverlapCluster & { top: number }> = []
  for (const [root, members] of groups) {
    members.sort((x, y) => x - y)
    const memberNames = members.map((m) => index.names[m]!)
    const distinct = distinctiveTerms(index, members, DISTINCTIVE_TERMS, t.textModel.bigramWeight > 0 ? 1 / t.textModel.bigramWeight : 1)
    const distinctive = Object.fromEntries(members.map((m) => [index.names[m]!, distinct.get(m) ?? []]))
    const links = pairsOf.get(root) ?? []
    const common = commonTerms(index, members, members.map((m) => agents[m]!.description), ADVICE_TERMS)
    const at = new Map(members.map((m) => [index.names[m]!, m]))
    const advice = adviseCluster({
      members: memberNames,
      text: (a, b) => cosine(index.vectors[at.get(a)!]!, index.vectors[at.get(b)!]!),
      copyText: (a, b) => copyText(at.get(a)!, at.get(b)!),
      terms: Object.fromEntries(members.map((m) => [index.names[m]!, { lead: (distinct.get(m) ?? []).slice(0, ADVICE_TERMS), later: common.get(m) ?? [], drop: pufferyIn(agents[m]!.description, ADVICE_TERMS) }])),
      routing:
        run && evidence
          ? { ...evidence, wins: (m) => run.wins.get(m)?.length ?? 0, across: (a, b) => run.pairs.get(pairKey(a, b))?.routedAcross.length ?? 0 }
          : undefined,
      fromDescription,
      mergeText: t.mergeText,
      nearDuplicate: t.nearDuplicate,
    })
    // Wins alone are routing evidence: none to show when the advice has none (every prompt for the members left out).
    const winsAlone = run && advice.evidence !== 'descriptions' ? Object.fromEntries(memberNames.map((m) => [m, run.wins.get(m) ?? []])) : undefined
    clusters.push({
      members: memberNames,
      distinctive,
      ...(winsAlone ? { winsAlone } : {}),
      suggestion: adviceString(advice),
      advice,
      top: Math.max(...links.map((p) => p.score)),
    })
  }
  clusters.sort((x, y) => y.members.length - x.members.length || y.top - x.top || codeUnitOrder(x.members[0]!, y.members[0]!))
  return clusters.map(({ top: _top, ...c }) => c)
}
