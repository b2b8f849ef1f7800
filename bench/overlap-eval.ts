/**
 * How well the overlap text signal finds the same role written by different
 * people, on real agents: a catalogue of several public collections put
 * together, every pair of agents from two different collections ranked by
 * text score, and judged against bench/overlap-eval-truth.json (pairs judged
 * by hand to be one role: typescript-pro ~ typescript-expert).
 *
 *   node --import tsx bench/overlap-eval.ts [SNAPSHOTS]     (or ROUTECHECK_SNAPSHOTS=SNAPSHOTS)
 *
 * SNAPSHOTS is a folder holding the collections' git directories as
 * owner+name/repo (or owner+name, or name); they are not in this repository
 * and nothing is downloaded: without them the bench says so and exits 0.
 * Figures go to bench/results.json under "overlapEval", other keys kept.
 *
 * Models compared: plain TF-IDF (PLAIN_TEXT_MODEL), the text model fitted on
 * the catalogue alone (TEXT_MODEL_CATALOGUE_ONLY, the default before the
 * background), and TEXT_MODEL, each as average precision and R-precision of
 * the pair ranking; then each change alone, TEXT_MODEL with a background
 * counted only over collections outside the evaluation (so the figure owes
 * nothing to having counted the evaluated descriptions), and the same models
 * on small catalogues drawn from the big one (20 and 40 agents, the size of
 * a real .claude/agents folder, where a catalogue alone knows least about
 * which words are common). Last, the pairs the change was made for, scored in
 * the small catalogues where they were seen.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildBackgroundDf, descriptionKey, readSnapshot, type Snapshot } from '../scripts/build-term-df.js'
import { analyseOverlap, MERGE_TEXT, NEAR_DUPLICATE_SCORE, PLAIN_TEXT_MODEL, TEXT_MODEL, TEXT_MODEL_CATALOGUE_ONLY, type TextModelOptions } from '../src/overlap/index.js'
import { seededRandom } from '../src/score/stats.js'
import { buildTextIndex, cosine, TEXT_READING, type BackgroundDf } from '../src/overlap/text.js'

const here = path.dirname(fileURLToPath(import.meta.url))
export const TRUTH_FILE = path.join(here, 'overlap-eval-truth.json')

export type Truth = {
  $comment: string
  /** prefix → the collection and the commit judged */
  collections: Record<string, { repo: string; commit: string }>
  /** one role written twice, as "prefix:name" */
  same: Array<[string, string]>
  /** judged too close to call: left out of the ranking, neither right nor wrong */
  unsure: Array<[string, string]>
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

/** Every pair of agents from two different collections, scored by `score`, best first (ties broken by id, so the ranking is stable). */
export function rankCrossPairs(agents: readonly EvalAgent[], score: (i: number, j: number) => number): Array<{ a: string; b: string; score: number }> {
  const out: Array<{ a: string; b: string; score: number }> = []
  for (let i = 0; i < agents.length; i++) for (let j = i + 1; j < agents.length; j++) if (agents[i]!.collection !== agents[j]!.collection) out.push({ a: agents[i]!.id, b: agents[j]!.id, score: score(i, j) })
  out.sort((x, y) => y.score - x.score || (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0))
  return out
}

export function textRanking(agents: readonly EvalAgent[], model: TextModelOptions) {
  const index = buildTextIndex(agents, model)
  return rankCrossPairs(agents, (i, j) => cosine(index.vectors[i]!, index.vectors[j]!))
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

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d

/** The false pairs behind the change, and the true one it must keep, in the small catalogues they were seen in. */
const CHECKS = [
  { catalogue: 'voltagent language specialists', prefix: 'voltagent', under: 'categories/02-language-specialists/', a: 'python-pro', b: 'typescript-pro', overlap: false },
  { catalogue: 'lst97', prefix: 'lst97', under: '', a: 'golang-pro', b: 'typescript-pro', overlap: false },
  { catalogue: 'lst97', prefix: 'lst97', under: '', a: 'devops-incident-responder', b: 'incident-responder', overlap: true },
] as const

function checkPairs(snapshots: ReadonlyMap<string, Snapshot>, models: Record<string, TextModelOptions>) {
  return CHECKS.flatMap((c) => {
    const s = snapshots.get(c.prefix)
    if (!s) return []
    const agents = s.agents.filter((a) => a.path.startsWith(c.under)).map((a) => ({ name: a.name, description: a.description, file: a.path }))
    const scores = Object.fromEntries(
      Object.entries(models).map(([m, model]) => {
        const report = analyseOverlap({ agents }, { textModel: model })
        const p = report.pairs.find((q) => (q.a === c.a && q.b === c.b) || (q.a === c.b && q.b === c.a))
        const text = p?.text ?? 0
        const flaggedPairs = report.pairs.filter((q) => q.nearDuplicate).length
        return [m, { text: round(text), flagged: text >= NEAR_DUPLICATE_SCORE, shared: p?.sharedTerms.slice(0, 5) ?? [], flaggedPairsInCatalogue: flaggedPairs }]
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

export async function runOverlapEval(root: string | undefined, extraModels: Record<string, (agents: readonly EvalAgent[]) => Array<{ a: string; b: string; score: number }>> = {}) {
  const truth = JSON.parse(readFileSync(TRUTH_FILE, 'utf8')) as Truth
  if (!root) return { skipped: 'no snapshots folder given (argument or ROUTECHECK_SNAPSHOTS)' }
  const located = Object.entries(truth.collections).map(([prefix, c]) => ({ prefix, ...c, at: locateSnapshot(root, c.repo) }))
  const missing = located.filter((c) => !c.at)
  if (missing.length > 0) return { skipped: `snapshots missing under ${root}: ${missing.map((c) => c.repo).join(', ')}` }
  const snapshots = located.map((c) => ({ prefix: c.prefix, snapshot: readSnapshot(`${c.repo}=${c.at}`) }))
  const moved = located.filter((c, k) => snapshots[k]!.snapshot.commit !== c.commit).map((c, k) => `${c.repo} is at ${snapshots[k]!.snapshot.commit.slice(0, 12)}, judged at ${c.commit.slice(0, 12)}`)
  const { agents, droppedCopies } = evalCatalogue(snapshots)
  const ids = new Set(agents.map((a) => a.id))
  const unknown = [...truth.same, ...truth.unsure].flat().filter((id) => !ids.has(id))
  if (unknown.length > 0) throw new Error(`the truth names agents the catalogue lacks: ${[...new Set(unknown)].join(', ')}`)
  const same = new Set(truth.same.map(([a, b]) => pairId(a, b)))
  const unsure = new Set(truth.unsure.map(([a, b]) => pairId(a, b)))

  // The background counted over collections outside the evaluation only; and over all of them with role words kept, for the background alone.
  const outside = BACKGROUND_COLLECTIONS_OUTSIDE_EVAL.map((repo) => locateSnapshot(root, repo) && readSnapshot(`${repo}=${locateSnapshot(root, repo)}`)).filter((s): s is Snapshot => !!s)
  const heldOut: BackgroundDf | undefined = outside.length > 0 ? buildBackgroundDf(outside) : undefined
  const withRoleWords = buildBackgroundDf([...snapshots.map((s) => s.snapshot), ...outside], undefined, { ...TEXT_READING, roleWords: [] })

  const MAIN = 'TEXT_MODEL (background + role words)'
  const models: Record<string, TextModelOptions> = {
    'plain TF-IDF (PLAIN_TEXT_MODEL)': PLAIN_TEXT_MODEL,
    'catalogue only (TEXT_MODEL_CATALOGUE_ONLY, the model before)': TEXT_MODEL_CATALOGUE_ONLY,
    [MAIN]: TEXT_MODEL,
    '  role words alone': { ...TEXT_MODEL_CATALOGUE_ONLY, dropRoleWords: true },
    [`  background alone (${withRoleWords.documents} descriptions, role words kept)`]: { ...TEXT_MODEL_CATALOGUE_ONLY, background: withRoleWords },
    ...(heldOut ? { [`  TEXT_MODEL, background held out (${heldOut.documents} descriptions outside the evaluation)`]: { ...TEXT_MODEL, background: heldOut } } : {}),
  }
  const rankings: Record<string, Array<{ a: string; b: string; score: number }>> = {}
  for (const [m, model] of Object.entries(models)) rankings[m] = textRanking(agents, model)
  for (const [m, rank] of Object.entries(extraModels)) rankings[m] = rank(agents)
  const quality = Object.fromEntries(Object.entries(rankings).map(([m, r]) => [m, Object.fromEntries(Object.entries(rankingQuality(r, same, unsure)).map(([k, v]) => [k, round(v)]))]))
  const small = Object.fromEntries(SMALL_CATALOGUES.map((size) => [`${size} agents`, smallCatalogues(agents, same, unsure, models, size)]))

  const label = (a: string, b: string) => (same.has(pairId(a, b)) ? 'same' : unsure.has(pairId(a, b)) ? 'unsure' : 'different')
  const top = rankings[MAIN]!.slice(0, 20).map((p) => ({ pair: `${p.a} ~ ${p.b}`, text: round(p.score), truth: label(p.a, p.b) }))
  const checks = checkPairs(new Map(snapshots.map((s) => [s.prefix, s.snapshot])), { plain: PLAIN_TEXT_MODEL, before: TEXT_MODEL_CATALOGUE_ONLY, after: TEXT_MODEL })
  return {
    catalogue: {
      agents: agents.length,
      perCollection: Object.fromEntries(snapshots.map((s) => [`${s.prefix} (${s.snapshot.repo}@${s.snapshot.commit.slice(0, 12)})`, agents.filter((a) => a.collection === s.prefix).length])),
      crossCollectionPairs: rankings[Object.keys(rankings)[0]!]!.length,
      samePairs: same.size,
      unsurePairs: unsure.size,
      droppedVerbatimCopies: droppedCopies.length,
      ...(moved.length > 0 ? { movedSinceJudged: moved } : {}),
    },
    thresholds: { nearDuplicate: NEAR_DUPLICATE_SCORE, mergeText: MERGE_TEXT },
    quality,
    smallCatalogues: small,
    top20: top,
    checks,
  }
}

/** Sizes of the small catalogues drawn, and how many of each. */
export const SMALL_CATALOGUES = [20, 40] as const
export const SMALL_SAMPLES = 300

/**
 * Mean average precision over small catalogues drawn from the big one (seeded,
 * the same draws for every model): each takes size/4 agents from each
 * collection, six in ten of them among the agents that have a same-role pair,
 * so most draws hold pairs to find; draws holding none are skipped.
 */
export function smallCatalogues(agents: readonly EvalAgent[], same: ReadonlySet<string>, unsure: ReadonlySet<string>, models: Record<string, TextModelOptions>, size: number): Record<string, number> {
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
  const out: Record<string, number> = { draws: draws.length }
  for (const [m, model] of Object.entries(models)) out[m] = round(draws.reduce((sum, d) => sum + rankingQuality(textRanking(d.agents, model), d.same, unsure).averagePrecision, 0) / draws.length)
  return out
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

async function main(): Promise<void> {
  const root = process.argv[2] ?? process.env.ROUTECHECK_SNAPSHOTS
  const result = await runOverlapEval(root)
  if ('skipped' in result) {
    console.log(`overlap-eval skipped: ${result.skipped}. Fetch the collections named in bench/overlap-eval-truth.json and pass the folder holding them.`)
    return
  }
  const { catalogue, quality, top20, checks } = result
  console.log(`catalogue: ${catalogue.agents} agents (${Object.entries(catalogue.perCollection).map(([k, v]) => `${k}: ${v}`).join(', ')}), ${catalogue.crossCollectionPairs} cross-collection pairs, ${catalogue.samePairs} judged one role, ${catalogue.unsurePairs} unsure (left out)`)
  if (catalogue.movedSinceJudged) console.log(`warning: ${catalogue.movedSinceJudged.join('; ')}`)
  const width = Math.max(...Object.keys(quality).map((k) => k.length))
  console.log(`\n${'model'.padEnd(width)}   AP     R-prec  P@20   P@50   P@100`)
  for (const [m, q] of Object.entries(quality)) console.log(`${m.padEnd(width)}   ${[q.averagePrecision, q.rPrecision, q.precisionAt20, q.precisionAt50, q.precisionAt100].map((x) => x!.toFixed(3)).join('  ')}`)
  for (const [size, row] of Object.entries(result.smallCatalogues)) {
    console.log(`\nmean AP over ${row.draws} catalogues of ${size}:`)
    for (const [m, ap] of Object.entries(row)) if (m !== 'draws') console.log(`  ${m.padEnd(width)}   ${ap.toFixed(3)}`)
  }
  console.log('\ntop 20 pairs under TEXT_MODEL:')
  for (const p of top20) console.log(`  ${p.text.toFixed(3)}  ${p.pair}  (${p.truth})`)
  console.log('\nthe pairs behind the change, in their own catalogues (flagged at text ≥ 0.2):')
  for (const c of checks) {
    const cell = (m: 'plain' | 'before' | 'after') => {
      const s = c.scores[m]!
      return `${m} ${s.text.toFixed(3)}${s.flagged ? ' FLAGGED' : ''}`
    }
    console.log(`  ${c.pair} in ${c.catalogue}, ${c.shouldFlag ? 'should be flagged' : 'should not'}: ${cell('plain')} · ${cell('before')} · ${cell('after')}`)
  }
  const file = writeResultsKey('overlapEval', { date: new Date().toISOString(), ...result })
  console.log(`\nwrote ${path.relative(process.cwd(), file)} (key overlapEval)`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
