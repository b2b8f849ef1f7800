/**
 * ## Overlap: weights and thresholds
 *
 * Every pair of agents gets a **text** score: the TF-IDF cosine of their
 * names and descriptions, where the trigger (the words before the first
 * `<example>` or "Examples:") counts in full, example blocks count 0.3,
 * two-word phrases count 0.5 of a word, and tags, the agent's own name and
 * role words ("pro", "expert", "specialist"…) are dropped. A word's idf is
 * counted over the catalogue and a background of 1,302 public agent
 * descriptions together, so a word common to the genre weighs little however
 * few of the catalogue's agents use it. A run adds **confusion** (cases routed across the pair on primary
 * labels, over the pair's decided cases), **co-acceptance** (cases accepting
 * both, over cases accepting either), and the shares of the pair's cases with
 * **split votes** or a **low margin** (a gap between the top two in the run's
 * lowest quarter). The combined score is a noisy-OR,
 * `1 − (1 − text)(1 − 0.4·confusion)(1 − 0.3·coAcceptance)(1 − 0.15·split)(1 − 0.15·lowMargin)`:
 * each signal is a separate chance to see the overlap, so a run can confirm
 * overlap but never clear it (a router that happens to separate two
 * look-alike descriptions today may not tomorrow). Run signals join once the
 * pair has 5 decided cases; with no run the score is the text score. A pair
 * is a **near-duplicate** at a score of 0.2 or more, or a text score of 0.45
 * or more whatever the run says. On the bundled agents the ten pairs of
 * Python agents score 0.21–0.42 on text and every other pair 0.07 or less;
 * 0.2 flags all ten Python pairs and joins the five into one cluster. With
 * the lexical router's runs on the bundled datasets the Python pairs score
 * 0.23–0.48 and other pairs at most 0.17. Copies and paraphrases planted
 * among the bundled agents score 0.54–0.97 on text, so from 0.45 the advice
 * is "merge", not "reword". A
 * coin-toss confusion (0.5) or a labeller who always accepts both is enough
 * on its own to flag a pair (0.2 and 0.3). Lint flags descriptions under 40
 * characters (too little to route on) or over 1,500 (≈375 tokens, paid on
 * every routing call), and text scores of 0.95 or more as near-exact copies.
 */
import { adviseCluster, adviceString } from './advice.js'
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
export { byProbes, probeSourceText, probeVerdictText, renderOverlapText, routedText, VERDICT_WORDS } from './render.js'
export { adviceString, clusterAdviceSchema, COIN_TOSS, CONFUSED_BELOW, judgePair, MIN_PAIR_PROMPTS, type ClusterAdvice, type PairAdvice, type PairVerdict } from './advice.js'
export { pairKey } from './run.js'

/** Document frequencies over public collections of agent descriptions (scripts/build-term-df.ts writes it; its `sources` say which repositories and commits). */
export const BACKGROUND_DF = backgroundJson as BackgroundDf

/** The text model fitted on the catalogue alone, the default before the background: kept to compare with (bench/overlap-eval.ts, test/overlap.test.ts). */
export const TEXT_MODEL_CATALOGUE_ONLY: TextModelOptions = { triggerWeight: 1, exampleWeight: 0.3, nameWeight: 1, bigramWeight: 0.5, stripScaffolding: true }

/**
 * How descriptions become vectors. On the planted-duplicate test the weakest
 * planted pair scores 1.29× the best Python pair, against 1.00× for plain
 * TF-IDF with the same background and role words.
 */
export const TEXT_MODEL: TextModelOptions = { ...TEXT_MODEL_CATALOGUE_ONLY, dropRoleWords: true, background: BACKGROUND_DF }
// background: on catalogues of 20 and 40 agents drawn from four public collections, mean average precision of finding the same role written twice rises from 0.904 to 0.926 and from 0.863 to 0.876 (0.922 and 0.870 with a background that excludes those collections); on all 471 agents at once, where the catalogue is a corpus of its own, it falls from 0.833 to 0.813 (bench/overlap-eval.ts).
// dropRoleWords: no change in those figures (±0.003), but without it the background lifts python-pro ~ typescript-pro, which share "type" and "pro", to 0.207 among VoltAgent's 30 language agents; with it, 0.188 (0.167 before).
// exampleWeight 0.3: examples are transcripts whose scaffolding every agent shares; a copied trigger with new examples rises from 0.57 to 0.80.
// nameWeight 1: weighting names 2–3× raised the Python pairs (which share "python backend") more than the planted copies, narrowing the gap.
// bigramWeight 0.5: shared phrases mark copying more than shared topic words; at 1 paraphrases lose more than copies gain.

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
export const SIGNAL_WEIGHTS: Readonly<Record<SignalName, number>> = { text: 1, confusion: 0.4, coAcceptance: 0.3, splitVotes: 0.15, lowMargins: 0.15 }

/** Combined score from which a pair is a near-duplicate: above every pair of distinct roles on the bundled agents (≤ 0.07 on text, ≤ 0.17 with a lexical run), below every Python pair (≥ 0.21 on text) and the community fixture's three deliberate overlaps (≥ 0.25). Unchanged by the background: it moved no pair of distinct roles within 0.1 of it. */
export const NEAR_DUPLICATE_SCORE = 0.2

/** Text score from which two descriptions are one agent written twice: merge, don't reword; a near-duplicate whatever a run says. Above every Python pair (≤ 0.42), below every planted copy or paraphrase (≥ 0.54). */
export const MERGE_TEXT = 0.45

/** Text score from which lint calls two descriptions near-exact copies. */
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
  const index = buildTextIndex(agents, t.textModel)
  const textPairs = similarPairs(index, {
    perAgent: TEXT_PAIRS_PER_AGENT,
    overall: LISTED_PAIRS_PER_AGENT * n,
    maxDfShare: CANDIDATE_MAX_DF_SHARE,
    exhaustiveUpTo: EXHAUSTIVE_UP_TO,
  })
  const cases = input.cases ?? []
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
    scored.push(scorePair(names[c.i]!, names[c.j]!, c.i, c.j, text, run?.pairs.get(key), run, t))
  }
  scored.sort((x, y) => y.score - x.score || x.i - y.i || x.j - y.j)

  const nearCount = scored.filter((p) => p.nearDuplicate).length
  const listed = scored.slice(0, Math.max(LISTED_PAIRS_PER_AGENT * n, nearCount))
  const pairs: OverlapPair[] = listed.map(({ i, j, ...p }) => ({ ...p, sharedTerms: sharedTerms(index, i, j, SHARED_TERMS) }))

  const evidence = run ? { source: input.evidence?.source ?? 'dataset', of: [...(input.evidence?.of ?? [])] } : undefined
  const clusters = buildClusters(index, agents, scored.filter((p) => p.nearDuplicate), run, evidence, t)
  const textOf = (a: string, b: string) => {
    const [i, j] = [position.get(a), position.get(b)]
    return i === undefined || j === undefined ? 0 : cosine(index.vectors[i]!, index.vectors[j]!)
  }
  const probes = input.probes ? probeEvidence(input.probes, cases, textOf, t.mergeText) : undefined
  const { lint, tokens } = lintAgents(
    agents,
    scored.map((p) => ({ a: p.a, b: p.b, text: p.text })),
    { minDescriptionChars: t.minDescriptionChars, maxDescriptionChars: t.maxDescriptionChars, nearExactText: t.nearExactText },
  )
  const invalid = (input.invalid ?? []).map(({ file, line, reason }) => ({ file, line, reason }))
  return { signals, ...(evidence ? { evidence } : {}), pairs, clusters, invalid, lint, tokens, ...(probes ? { probes } : {}) }
}

function scorePair(a: string, b: string, i: number, j: number, text: number, stats: ReturnType<RunSignals['pairs']['get']>, run: RunSignals | undefined, t: OverlapThresholds): Scored {
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
  pair.nearDuplicate = pair.score >= t.nearDuplicate || text >= t.mergeText
  return pair
}

/** Own terms, shared terms and praise listed per member in the advice. */
const ADVICE_TERMS = 4

function buildClusters(
  index: TextIndex,
  agents: readonly OverlapAgent[],
  near: readonly Scored[],
  run: RunSignals | undefined,
  evidence: { source: 'dataset' | 'probes'; of: readonly string[] } | undefined,
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
    const winsAlone = run ? Object.fromEntries(memberNames.map((m) => [m, run.wins.get(m) ?? []])) : undefined
    const links = pairsOf.get(root) ?? []
    const common = commonTerms(index, members, members.map((m) => agents[m]!.description), ADVICE_TERMS)
    const at = new Map(members.map((m) => [index.names[m]!, m]))
    const advice = adviseCluster({
      members: memberNames,
      text: (a, b) => cosine(index.vectors[at.get(a)!]!, index.vectors[at.get(b)!]!),
      terms: Object.fromEntries(members.map((m) => [index.names[m]!, { lead: (distinct.get(m) ?? []).slice(0, ADVICE_TERMS), later: common.get(m) ?? [], drop: pufferyIn(agents[m]!.description, ADVICE_TERMS) }])),
      routing:
        run && evidence
          ? { ...evidence, wins: (m) => run.wins.get(m)?.length ?? 0, across: (a, b) => run.pairs.get(pairKey(a, b))?.routedAcross.length ?? 0 }
          : undefined,
      mergeText: t.mergeText,
      nearDuplicate: t.nearDuplicate,
    })
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
