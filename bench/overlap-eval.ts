/**
 * How well the overlap text signal finds the same role written by different
 * people, on real agents: a catalogue of several public collections put
 * together, every pair of agents from two different collections ranked by
 * text score, and judged against bench/overlap-eval-truth.json (pairs judged
 * by hand to be one role: typescript-pro ~ typescript-expert). A second,
 * smaller truth judges pairs inside one collection (one author's template:
 * lst97's golang-pro ~ typescript-pro share whole sentences), the case of a
 * real `.claude/agents` folder, which pairs across collections never show.
 *
 *   node --import tsx bench/overlap-eval.ts [SNAPSHOTS]     (or ROUTECHECK_SNAPSHOTS=SNAPSHOTS)
 *
 * SNAPSHOTS is a folder holding the collections' git directories as
 * owner+name/repo (or owner+name, or name); they are not in this repository
 * and nothing is downloaded: without them the bench says so and exits 0.
 * Figures go to bench/results.json under "overlapEval", other keys kept.
 *
 * Honest figures: the same-role pairs are split in two folds (whole groups of
 * one role on one side, by a hash of the group); every constant of the text
 * model and the near-duplicate line were chosen on fold A, and fold B shows
 * whether the choice holds. TEXT_MODEL is also measured with a background
 * counted only over collections outside the evaluation, so its figures owe
 * nothing to having counted the evaluated descriptions.
 *
 * Measured: average precision and R-precision of the ranking of all 471
 * agents' cross-collection pairs; mean average precision over catalogues of 20
 * and 40 agents drawn from them (the size of a real .claude/agents folder);
 * precision and recall of the near-duplicate flag on those draws and inside
 * each collection; the pairs behind the change, scored in the catalogues
 * where they were seen; the top 20 pairs; and how the figures move when each
 * constant moves.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildBackgroundDf, descriptionKey, readSnapshot, type Snapshot } from '../scripts/build-term-df.js'
import { loadCatalogue } from '../src/load/catalogue.js'
import { MERGE_TEXT, NEAR_DUPLICATE_SCORE, PLAIN_TEXT_MODEL, TEXT_MODEL, TEXT_MODEL_CATALOGUE_ONLY, TEXT_MODEL_GENRE_ONLY, type TextModelOptions } from '../src/overlap/index.js'
import { buildTextIndex, cosine, DOMAIN_RULE, sharedTerms, termsOfAgent, TEXT_READING, type BackgroundDf } from '../src/overlap/text.js'
import { seededRandom } from '../src/score/stats.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const TRUTH_FILE = path.join(here, 'overlap-eval-truth.json')
const COMMUNITY_FIXTURE = path.join(here, '..', 'test', 'fixtures', 'community-agents')

export type Truth = {
  $comment: string
  /** prefix → the collection and the commit judged */
  collections: Record<string, { repo: string; commit: string }>
  /** one role written twice, as "prefix:name" */
  same: Array<[string, string]>
  /** judged too close to call: left out of the ranking, neither right nor wrong */
  unsure: Array<[string, string]>
  /** pairs inside one collection: roles a router would mix up (overlap) or not (different) */
  within?: { $comment?: string; overlap: Array<[string, string]>; different: Array<[string, string]> }
}

export type EvalAgent = { id: string; collection: string; name: string; description: string; file: string }

/** Where a collection's git directory sits under the snapshots folder. */
export function locateSnapshot(root: string, repo: string): string | undefined {
  const [owner, name] = repo.split('/') as [string, string]
  return [path.join(root, `${owner}+${name}`, 'repo'), path.join(root, `${owner}+${name}`), path.join(root, name)].find((p) => existsSync(p))
}

/**
 * The evaluation catalogue: every agent of every collection, named
 * "prefix:name". A plugin copy under a prefixed name ("api-scaffolding-
 * backend-architect" for plugins/api-scaffolding/agents/backend-architect.md)
 * takes its file's name, and a collection keeps one agent per name, as a
 * user installing it would. A description already taken from another
 * collection word for word is left out: a verbatim copy is found by any
 * model and says nothing about telling roles apart.
 */
export function evalCatalogue(snapshots: ReadonlyArray<{ prefix: string; snapshot: Snapshot }>): { agents: EvalAgent[]; droppedCopies: string[] } {
  const agents: EvalAgent[] = []
  const droppedCopies: string[] = []
  const seen = new Map<string, string>()
  for (const { prefix, snapshot } of snapshots) {
    const names = new Set<string>()
    for (const a of snapshot.agents) {
      const base = path.basename(a.path, '.md')
      const name = a.name.endsWith(`-${base}`) ? base : a.name
      if (names.has(name)) continue
      names.add(name)
      const id = `${prefix}:${name}`
      const k = descriptionKey(a.description)
      const earlier = seen.get(k)
      if (earlier !== undefined) {
        if (!earlier.startsWith(`${prefix}:`)) droppedCopies.push(`${id} = ${earlier}`)
        continue
      }
      seen.set(k, id)
      agents.push({ id, collection: prefix, name, description: a.description, file: a.path })
    }
  }
  return { agents, droppedCopies }
}

const pairId = (a: string, b: string) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`)

/** Scores pairs of a catalogue by their indexes: a text model fitted on it, or any other similarity (bench/overlap-embedding.ts). */
export type PairScorer = (agents: ReadonlyArray<{ name: string; description: string }>) => (i: number, j: number) => number

export function textScorer(model: TextModelOptions): PairScorer {
  return (agents) => {
    const index = buildTextIndex(agents, model)
    return (i, j) => cosine(index.vectors[i]!, index.vectors[j]!)
  }
}

/** Every pair of agents from two different collections, scored by `score`, best first (ties broken by id, so the ranking is stable). */
export function rankCrossPairs(agents: readonly EvalAgent[], score: (i: number, j: number) => number): Array<{ a: string; b: string; score: number }> {
  const out: Array<{ a: string; b: string; score: number }> = []
  for (let i = 0; i < agents.length; i++) for (let j = i + 1; j < agents.length; j++) if (agents[i]!.collection !== agents[j]!.collection) out.push({ a: agents[i]!.id, b: agents[j]!.id, score: score(i, j) })
  out.sort((x, y) => y.score - x.score || (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0))
  return out
}

export function textRanking(agents: readonly EvalAgent[], model: TextModelOptions) {
  return rankCrossPairs(agents, textScorer(model)(agents))
}

/** Average precision and R-precision of a ranking against the same-role pairs, unsure pairs left out. */
export function rankingQuality(ranking: ReadonlyArray<{ a: string; b: string }>, same: ReadonlySet<string>, unsure: ReadonlySet<string>) {
  let hits = 0
  let sumPrecision = 0
  let seen = 0
  let rPrecision = 0
  const r = same.size
  const at: Record<number, number> = {}
  for (const p of ranking) {
    const k = pairId(p.a, p.b)
    if (unsure.has(k)) continue
    seen++
    if (same.has(k)) {
      hits++
      sumPrecision += hits / seen
    }
    if (seen === r) rPrecision = hits / r
    if (seen === 20 || seen === 50 || seen === 100) at[seen] = hits / seen
  }
  return { averagePrecision: sumPrecision / r, rPrecision, precisionAt20: at[20]!, precisionAt50: at[50]!, precisionAt100: at[100]! }
}

/**
 * The same-role pairs in two folds. Pairs that share an agent stay together
 * (a role written three times is one group), and a group's fold is a hash of
 * its first id, so the split never depends on the order of the file.
 */
export function truthFolds(same: ReadonlyArray<[string, string]>): [Set<string>, Set<string>] {
  const parent = new Map<string, string>()
  const find = (x: string): string => {
    while (parent.get(x) !== x) x = parent.get(x)!
    return x
  }
  for (const [a, b] of same) {
    for (const x of [a, b]) if (!parent.has(x)) parent.set(x, x)
    const [ra, rb] = [find(a), find(b)]
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb)
  }
  const fnv = (s: string) => {
    let h = 2166136261
    for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 16777619) >>> 0
    return h
  }
  const folds: [Set<string>, Set<string>] = [new Set(), new Set()]
  for (const [a, b] of same) folds[fnv(find(a)) % 2]!.add(pairId(a, b))
  return folds
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d

/** Sizes of the small catalogues drawn, and how many of each. */
export const SMALL_CATALOGUES = [20, 40] as const
export const SMALL_SAMPLES = 300

/**
 * Small catalogues drawn from the big one (seeded, the same draws for every
 * model): each takes size/4 agents from each collection, six in ten of them
 * among the agents that have a same-role pair, so most draws hold pairs to
 * find; draws holding none are left out.
 */
export function smallDraws(agents: readonly EvalAgent[], same: ReadonlySet<string>, size: number): Array<{ agents: EvalAgent[]; same: Set<string> }> {
  const random = seededRandom(size)
  const paired = new Set([...same].flatMap((k) => k.split('\u0000')))
  const byCollection = new Map<string, EvalAgent[]>()
  for (const a of agents) byCollection.set(a.collection, [...(byCollection.get(a.collection) ?? []), a])
  const per = Math.max(1, Math.floor(size / byCollection.size))
  const draws: Array<{ agents: EvalAgent[]; same: Set<string> }> = []
  for (let s = 0; s < SMALL_SAMPLES; s++) {
    const pick: EvalAgent[] = []
    for (const list of byCollection.values()) {
      const pool = [...list]
      for (let k = 0; k < per && pool.length > 0; k++) {
        const preferred = pool.filter((a) => paired.has(a.id))
        const from = random() < 0.6 && preferred.length > 0 ? preferred : pool
        const x = from[Math.floor(random() * from.length)]!
        pick.push(x)
        pool.splice(pool.indexOf(x), 1)
      }
    }
    const ids = new Set(pick.map((a) => a.id))
    const inside = new Set([...same].filter((k) => k.split('\u0000').every((id) => ids.has(id))))
    if (inside.size > 0) draws.push({ agents: pick, same: inside })
  }
  return draws
}

type Folds = { all: ReadonlySet<string>; A: ReadonlySet<string>; B: ReadonlySet<string> }
const FOLD_NAMES = ['all', 'A', 'B'] as const

/** Mean AP over the draws, over all same-role pairs and each fold (a pair of the other fold counts as unsure), and the flag's precision and recall at `line`. */
function drawFigures(draws: ReturnType<typeof smallDraws>, scorer: PairScorer, folds: Folds, unsure: ReadonlySet<string>, line: number) {
  const sum = { all: 0, A: 0, B: 0 }
  const count = { all: 0, A: 0, B: 0 }
  let flagged = 0
  let flaggedSame = 0
  for (const d of draws) {
    const ranking = rankCrossPairs(d.agents, scorer(d.agents))
    for (const f of FOLD_NAMES) {
      const inFold = new Set([...d.same].filter((k) => folds[f].has(k)))
      if (inFold.size === 0) continue
      const other = f === 'all' ? unsure : new Set([...unsure, ...[...d.same].filter((k) => !folds[f].has(k))])
      sum[f] += rankingQuality(ranking, inFold, other).averagePrecision
      count[f]++
    }
    for (const p of ranking) {
      const k = pairId(p.a, p.b)
      if (p.score < line || unsure.has(k)) continue
      flagged++
      if (d.same.has(k)) flaggedSame++
    }
  }
  const positives = draws.reduce((n, d) => n + d.same.size, 0)
  return {
    meanAP: round(sum.all / count.all),
    meanAPFoldA: round(sum.A / count.A),
    meanAPFoldB: round(sum.B / count.B),
    flag: { line, precision: round(flaggedSame / Math.max(1, flagged)), recall: round(flaggedSame / positives) },
  }
}

/** Inside each collection, as a catalogue of its own: the judged overlaps flagged at `line`, the pairs judged different flagged, and flagged pairs nobody judged. */
function withinFigures(agents: readonly EvalAgent[], within: NonNullable<Truth['within']>, scorer: PairScorer, line: number) {
  const overlap = new Set(within.overlap.map(([a, b]) => pairId(a, b)))
  const different = new Set(within.different.map(([a, b]) => pairId(a, b)))
  let found = 0
  let wrong = 0
  let unjudged = 0
  for (const c of new Set(agents.map((a) => a.collection))) {
    const inside = agents.filter((a) => a.collection === c)
    const score = scorer(inside)
    for (let i = 0; i < inside.length; i++)
      for (let j = i + 1; j < inside.length; j++) {
        if (score(i, j) < line) continue
        const k = pairId(inside[i]!.id, inside[j]!.id)
        if (overlap.has(k)) found++
        else if (different.has(k)) wrong++
        else unjudged++
      }
  }
  return { line, overlapsFound: found, overlaps: overlap.size, differentFlagged: wrong, different: different.size, unjudgedFlagged: unjudged }
}

/** The line each model shipped with: the old models flagged at 0.2. */
export const PREVIOUS_LINE = 0.2

/** The pairs the change was made for, in the small catalogues where they were seen, and the community fixture's deliberate overlaps. */
const CHECKS = [
  { catalogue: 'voltagent language specialists', prefix: 'voltagent', under: 'categories/02-language-specialists/', a: 'python-pro', b: 'typescript-pro', overlap: false },
  { catalogue: 'lst97', prefix: 'lst97', under: '', a: 'golang-pro', b: 'typescript-pro', overlap: false },
  { catalogue: 'lst97', prefix: 'lst97', under: '', a: 'devops-incident-responder', b: 'incident-responder', overlap: true },
  { catalogue: 'community fixture', prefix: '', under: '', a: 'python-pro', b: 'typescript-pro', overlap: false },
  { catalogue: 'community fixture', prefix: '', under: '', a: 'postgres-pro', b: 'sql-pro', overlap: true },
  { catalogue: 'community fixture', prefix: '', under: '', a: 'devops-engineer', b: 'sre-engineer', overlap: true },
  { catalogue: 'community fixture', prefix: '', under: '', a: 'debugger', b: 'incident-responder', overlap: true },
] as const

async function checkPairs(snapshots: ReadonlyMap<string, Snapshot>, models: Record<string, { model: TextModelOptions; line: number }>) {
  const community = (await loadCatalogue(COMMUNITY_FIXTURE)).catalogue.agents.map((a) => ({ name: a.name, description: a.description }))
  return CHECKS.flatMap((c) => {
    const agents = c.prefix === '' ? community : (snapshots.get(c.prefix)?.agents.filter((a) => a.path.startsWith(c.under)) ?? [])
    if (agents.length === 0) return []
    const i = agents.findIndex((a) => a.name === c.a)
    const j = agents.findIndex((a) => a.name === c.b)
    const scores = Object.fromEntries(
      Object.entries(models).map(([m, { model, line }]) => {
        const index = buildTextIndex(agents, model)
        const text = cosine(index.vectors[i]!, index.vectors[j]!)
        let flaggedInCatalogue = 0
        for (let x = 0; x < agents.length; x++) for (let y = x + 1; y < agents.length; y++) if (cosine(index.vectors[x]!, index.vectors[y]!) >= line) flaggedInCatalogue++
        return [m, { text: round(text), flagged: text >= line, shared: sharedTerms(index, i, j, 5), flaggedInCatalogue }]
      }),
    )
    return [{ catalogue: `${c.catalogue} (${agents.length} agents)`, pair: `${c.a} ~ ${c.b}`, shouldFlag: c.overlap, scores }]
  })
}

export const BACKGROUND_COLLECTIONS_OUTSIDE_EVAL = [
  'davepoon/claude-code-subagents-collection',
  'rshah515/claude-code-subagents',
  'osbornesec/claude-agents',
  'vijaythecoder/awesome-claude-agents',
  'webdevtodayjason/sub-agents',
  'ubehera/claude-agents-pro',
  'contains-studio/agents',
  'dl-ezo/claude-code-sub-agents',
  'hesreallyhim/awesome-claude-code-agents',
]

/** The models compared, with the line each flags at. */
const PLAIN = 'plain TF-IDF (PLAIN_TEXT_MODEL)'
const BEFORE = 'before: background + role words (TEXT_MODEL_GENRE_ONLY)'
const AFTER = 'TEXT_MODEL'

export async function runOverlapEval(root: string | undefined, extra: Record<string, PairScorer> = {}, opts: { sensitivity?: boolean } = {}) {
  const truth = JSON.parse(readFileSync(TRUTH_FILE, 'utf8')) as Truth
  if (!root) return { skipped: 'no snapshots folder given (argument or ROUTECHECK_SNAPSHOTS)' }
  const located = Object.entries(truth.collections).map(([prefix, c]) => ({ prefix, ...c, at: locateSnapshot(root, c.repo) }))
  const missing = located.filter((c) => !c.at)
  if (missing.length > 0) return { skipped: `snapshots missing under ${root}: ${missing.map((c) => c.repo).join(', ')}` }
  const snapshots = located.map((c) => ({ prefix: c.prefix, snapshot: readSnapshot(`${c.repo}=${c.at}`) }))
  const moved = located.filter((c, k) => snapshots[k]!.snapshot.commit !== c.commit).map((c, k) => `${c.repo} is at ${snapshots[k]!.snapshot.commit.slice(0, 12)}, judged at ${c.commit.slice(0, 12)}`)
  const { agents, droppedCopies } = evalCatalogue(snapshots)
  const ids = new Set(agents.map((a) => a.id))
  const within = truth.within ?? { overlap: [], different: [] }
  const unknown = [...truth.same, ...truth.unsure, ...within.overlap, ...within.different].flat().filter((id) => !ids.has(id))
  if (unknown.length > 0) throw new Error(`the truth names agents the catalogue lacks: ${[...new Set(unknown)].join(', ')}`)
  const same = new Set(truth.same.map(([a, b]) => pairId(a, b)))
  const unsure = new Set(truth.unsure.map(([a, b]) => pairId(a, b)))
  const [foldA, foldB] = truthFolds(truth.same)
  const folds: Folds = { all: same, A: foldA, B: foldB }
  // Same-role pairs whose names share no word once role words go (go-expert ~ golang-pro): what the names cannot find.
  const nameTerms = (id: string) => new Set([...termsOfAgent({ name: id.slice(id.indexOf(':') + 1), description: '' })].filter((t) => !t.includes(' ')))
  const nameDisjoint = new Set(
    [...same].filter((k) => {
      const [a, b] = k.split('\u0000') as [string, string]
      const inA = nameTerms(a)
      return ![...nameTerms(b)].some((t) => inA.has(t))
    }),
  )

  // The background counted over collections outside the evaluation only.
  const outside = BACKGROUND_COLLECTIONS_OUTSIDE_EVAL.map((repo) => locateSnapshot(root, repo) && readSnapshot(`${repo}=${locateSnapshot(root, repo)}`)).filter((s): s is Snapshot => !!s)
  const heldOut: BackgroundDf | undefined = outside.length > 0 ? buildBackgroundDf(outside) : undefined

  const models: Record<string, { model: TextModelOptions; line: number }> = {
    [PLAIN]: { model: PLAIN_TEXT_MODEL, line: PREVIOUS_LINE },
    'catalogue only (TEXT_MODEL_CATALOGUE_ONLY)': { model: TEXT_MODEL_CATALOGUE_ONLY, line: PREVIOUS_LINE },
    [BEFORE]: { model: TEXT_MODEL_GENRE_ONLY, line: PREVIOUS_LINE },
    [AFTER]: { model: TEXT_MODEL, line: NEAR_DUPLICATE_SCORE },
    '  without domain weights': { model: { ...TEXT_MODEL, domainWeights: false }, line: NEAR_DUPLICATE_SCORE },
    '  names counted once': { model: { ...TEXT_MODEL, nameWeight: 1 }, line: NEAR_DUPLICATE_SCORE },
    ...(heldOut ? { [`  background held out (${heldOut.documents} descriptions outside the evaluation)`]: { model: { ...TEXT_MODEL, background: heldOut }, line: NEAR_DUPLICATE_SCORE } } : {}),
  }
  const scorers: Record<string, { scorer: PairScorer; line: number }> = {
    ...Object.fromEntries(Object.entries(models).map(([m, { model, line }]) => [m, { scorer: textScorer(model), line }])),
    ...Object.fromEntries(Object.entries(extra).map(([m, scorer]) => [m, { scorer, line: NEAR_DUPLICATE_SCORE }])),
  }
  const draws = Object.fromEntries(SMALL_CATALOGUES.map((size) => [size, smallDraws(agents, same, size)]))

  const evaluate = (scorer: PairScorer, line: number) => {
    const ranking = rankCrossPairs(agents, scorer(agents))
    const q = rankingQuality(ranking, same, unsure)
    const onFold = (f: ReadonlySet<string>) => rankingQuality(ranking, f, new Set([...unsure, ...[...same].filter((k) => !f.has(k))])).averagePrecision
    return {
      ranking,
      figures: {
        averagePrecision: round(q.averagePrecision),
        rPrecision: round(q.rPrecision),
        precisionAt20: round(q.precisionAt20),
        precisionAt50: round(q.precisionAt50),
        precisionAt100: round(q.precisionAt100),
        averagePrecisionFoldA: round(onFold(foldA)),
        averagePrecisionFoldB: round(onFold(foldB)),
        averagePrecisionNamesApart: round(onFold(nameDisjoint)),
        draws20: drawFigures(draws[20]!, scorer, folds, unsure, line),
        draws40: drawFigures(draws[40]!, scorer, folds, unsure, line),
        within: withinFigures(agents, within, scorer, line),
      },
    }
  }
  const results = Object.fromEntries(Object.entries(scorers).map(([m, { scorer, line }]) => [m, evaluate(scorer, line)]))
  const quality = Object.fromEntries(Object.entries(results).map(([m, r]) => [m, r.figures]))

  // How the figures move when one constant moves (fold A chose, fold B checks).
  const sensitivity: Record<string, { foldA: number; foldB: number; all: number; within: ReturnType<typeof withinFigures>; checksRight: string }> = {}
  const snapshotMap = new Map(snapshots.map((s) => [s.prefix, s.snapshot]))
  if (opts.sensitivity !== false) {
    const all = [...snapshots.map((s) => s.snapshot), ...outside]
    const rebuilt = (change: Partial<typeof DOMAIN_RULE>) => buildBackgroundDf(all, undefined, TEXT_READING, { ...DOMAIN_RULE, ...change })
    const variants: Record<string, TextModelOptions> = {
      [`TEXT_MODEL (nameWeight ${TEXT_MODEL.nameWeight}, bigramWeight ${TEXT_MODEL.bigramWeight}, nameShare ${DOMAIN_RULE.nameShare}, burstiness ${DOMAIN_RULE.burstiness}, power ${DOMAIN_RULE.power})`]: TEXT_MODEL,
      'nameWeight 1.5': { ...TEXT_MODEL, nameWeight: 1.5 },
      'nameWeight 2.5': { ...TEXT_MODEL, nameWeight: 2.5 },
      'bigramWeight 0.25': { ...TEXT_MODEL, bigramWeight: 0.25 },
      'bigramWeight 1': { ...TEXT_MODEL, bigramWeight: 1 },
      'nameShare 0.03': { ...TEXT_MODEL, background: rebuilt({ nameShare: 0.03 }) },
      'nameShare 0.1': { ...TEXT_MODEL, background: rebuilt({ nameShare: 0.1 }) },
      'burstiness 0.75': { ...TEXT_MODEL, background: rebuilt({ burstiness: 0.75 }) },
      'burstiness 1.5': { ...TEXT_MODEL, background: rebuilt({ burstiness: 1.5 }) },
      'power 1': { ...TEXT_MODEL, background: rebuilt({ power: 1 }) },
      'power 2': { ...TEXT_MODEL, background: rebuilt({ power: 2 }) },
    }
    for (const [m, model] of Object.entries(variants)) {
      const f = evaluate(textScorer(model), NEAR_DUPLICATE_SCORE).figures
      const [d20, d40] = [f.draws20, f.draws40]
      // One number per fold: the mean of average precision on all agents and mean AP on the 20- and 40-agent draws.
      const right = (await checkPairs(snapshotMap, { m: { model, line: NEAR_DUPLICATE_SCORE } })).filter((c) => c.scores.m!.flagged === c.shouldFlag).length
      sensitivity[m] = {
        foldA: round((f.averagePrecisionFoldA + d20.meanAPFoldA + d40.meanAPFoldA) / 3),
        foldB: round((f.averagePrecisionFoldB + d20.meanAPFoldB + d40.meanAPFoldB) / 3),
        all: round((f.averagePrecision + d20.meanAP + d40.meanAP) / 3),
        within: f.within,
        checksRight: `${right}/${CHECKS.length}`,
      }
    }
  }

  const label = (a: string, b: string) => (same.has(pairId(a, b)) ? 'same' : unsure.has(pairId(a, b)) ? 'unsure' : 'different')
  const top = results[AFTER]!.ranking.slice(0, 20).map((p) => ({ pair: `${p.a} ~ ${p.b}`, text: round(p.score), truth: label(p.a, p.b) }))
  const checks = await checkPairs(new Map(snapshots.map((s) => [s.prefix, s.snapshot])), {
    plain: models[PLAIN]!,
    before: models[BEFORE]!,
    after: models[AFTER]!,
    ...(heldOut ? { 'after, background held out': { model: { ...TEXT_MODEL, background: heldOut }, line: NEAR_DUPLICATE_SCORE } } : {}),
  })
  return {
    catalogue: {
      agents: agents.length,
      perCollection: Object.fromEntries(snapshots.map((s) => [`${s.prefix} (${s.snapshot.repo}@${s.snapshot.commit.slice(0, 12)})`, agents.filter((a) => a.collection === s.prefix).length])),
      crossCollectionPairs: results[PLAIN]!.ranking.length,
      samePairs: same.size,
      samePairsFoldA: foldA.size,
      samePairsFoldB: foldB.size,
      samePairsNamesApart: nameDisjoint.size,
      unsurePairs: unsure.size,
      withinJudged: { overlap: within.overlap.length, different: within.different.length },
      draws: Object.fromEntries(SMALL_CATALOGUES.map((size) => [`${size} agents`, draws[size]!.length])),
      droppedVerbatimCopies: droppedCopies.length,
      ...(moved.length > 0 ? { movedSinceJudged: moved } : {}),
    },
    thresholds: { nearDuplicate: NEAR_DUPLICATE_SCORE, previousNearDuplicate: PREVIOUS_LINE, mergeText: MERGE_TEXT },
    quality,
    sensitivity,
    top20: top,
    checks,
  }
}

/** Writes one key of bench/results.json, keeping every other key. */
export function writeResultsKey(key: string, value: unknown): string {
  const file = path.join(here, 'results.json')
  let all: Record<string, unknown> = {}
  try {
    all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  } catch {
    // no earlier results
  }
  all[key] = value
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`)
  return file
}

type Figures = Exclude<Awaited<ReturnType<typeof runOverlapEval>>, { skipped: string }>

/** The bench's figures as the tables it prints. */
export function printOverlapEval(result: Figures, log: (line: string) => void = console.log): void {
  const { catalogue, quality, top20, checks, sensitivity } = result
  log(`catalogue: ${catalogue.agents} agents (${Object.entries(catalogue.perCollection).map(([k, v]) => `${k}: ${v}`).join(', ')}), ${catalogue.crossCollectionPairs} cross-collection pairs, ${catalogue.samePairs} judged one role (fold A ${catalogue.samePairsFoldA}, fold B ${catalogue.samePairsFoldB}; ${catalogue.samePairsNamesApart} whose names share no word), ${catalogue.unsurePairs} unsure (left out); inside collections ${catalogue.withinJudged.overlap} overlaps and ${catalogue.withinJudged.different} different roles judged`)
  if (catalogue.movedSinceJudged) log(`warning: ${catalogue.movedSinceJudged.join('; ')}`)
  const width = Math.max(...Object.keys(quality).map((k) => k.length))
  const f3 = (x: number) => x.toFixed(3)
  log(`\nall ${catalogue.agents} agents: average precision (AP) of the cross-collection pair ranking`)
  log(`${'model'.padEnd(width)}   AP     R-prec  P@50   P@100  AP A   AP B   AP names apart`)
  for (const [m, q] of Object.entries(quality)) log(`${m.padEnd(width)}   ${[q.averagePrecision, q.rPrecision, q.precisionAt50, q.precisionAt100, q.averagePrecisionFoldA, q.averagePrecisionFoldB, q.averagePrecisionNamesApart].map(f3).join('  ')}`)
  for (const size of SMALL_CATALOGUES) {
    log(`\n${catalogue.draws[`${size} agents`]} catalogues of ${size} agents: mean AP (all, fold A, fold B), and the near-duplicate flag's precision and recall at the model's line`)
    for (const [m, q] of Object.entries(quality)) {
      const d = size === 20 ? q.draws20 : q.draws40
      log(`  ${m.padEnd(width)}   ${f3(d.meanAP)}  ${f3(d.meanAPFoldA)}  ${f3(d.meanAPFoldB)}   at ${d.flag.line.toFixed(2)}: precision ${d.flag.precision.toFixed(2)} recall ${d.flag.recall.toFixed(2)}`)
    }
  }
  log('\ninside each collection (one catalogue each): judged overlaps flagged, pairs judged different flagged, flagged pairs nobody judged')
  for (const [m, q] of Object.entries(quality)) {
    const w = q.within
    log(`  ${m.padEnd(width)}   at ${w.line.toFixed(2)}: overlaps ${w.overlapsFound}/${w.overlaps}, different ${w.differentFlagged}/${w.different}, unjudged ${w.unjudgedFlagged}`)
  }
  if (Object.keys(sensitivity).length > 0) {
    log('\none constant moved (fold A/B/all: mean of AP on all agents and mean AP on the 20- and 40-agent draws)')
    const sw = Math.max(...Object.keys(sensitivity).map((k) => k.length))
    for (const [m, s] of Object.entries(sensitivity)) log(`  ${m.padEnd(sw)}   fold A ${f3(s.foldA)}  fold B ${f3(s.foldB)}  all ${f3(s.all)} · inside collections at ${s.within.line}: overlaps ${s.within.overlapsFound}, different ${s.within.differentFlagged}, unjudged ${s.within.unjudgedFlagged} · named pairs right ${s.checksRight}`)
  }
  log('\ntop 20 pairs under TEXT_MODEL:')
  for (const p of top20) log(`  ${p.text.toFixed(3)}  ${p.pair}  (${p.truth})`)
  log(`\nthe pairs behind the change, in their own catalogues (each model at its line: ${PREVIOUS_LINE} before, ${NEAR_DUPLICATE_SCORE} after):`)
  for (const c of checks) {
    const cells = Object.entries(c.scores).map(([m, s]) => `${m} ${s.text.toFixed(3)}${s.flagged ? ' FLAGGED' : ''}`)
    log(`  ${c.pair} in ${c.catalogue}, ${c.shouldFlag ? 'should be flagged' : 'should not'}: ${cells.join(' · ')}`)
  }
}

async function main(): Promise<void> {
  const root = process.argv[2] ?? process.env.ROUTECHECK_SNAPSHOTS
  const result = await runOverlapEval(root)
  if ('skipped' in result) {
    console.log(`overlap-eval skipped: ${result.skipped}. Fetch the collections named in bench/overlap-eval-truth.json and pass the folder holding them.`)
    return
  }
  printOverlapEval(result)
  const file = writeResultsKey('overlapEval', { date: new Date().toISOString(), ...result })
  console.log(`\nwrote ${path.relative(process.cwd(), file)} (key overlapEval)`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
