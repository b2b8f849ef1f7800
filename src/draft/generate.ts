import type { Catalogue } from '../load/catalogue.js'
import { BUILTIN_AGENTS } from '../load/builtin-agents.js'
import { isBlank, NONE, type DatasetRow } from '../load/dataset.js'
import { analyseOverlap } from '../overlap/index.js'
import type { ToolAnswer, ToolRequest } from '../route/tool-call.js'
import { aimedAtRequest, boundaryRequest, exploreRequest, outOfScopeRequest, registersFor, type DraftedPrompt, type Register } from './requests.js'
import { isLeak, leakage, nearIdentical, nearIdenticalTo } from './similar.js'

/**
 * `routecheck generate`: a labelled dataset drafted by Claude for a reviewer
 * to correct rather than write. This file plans the requests and turns the
 * answers into dataset rows (pure); sending them is the tool caller's.
 */

export const GENERATED_TAG = 'generated'
export const BOUNDARY_TAG = 'boundary'
export const EXPLORE = 'Explore'

/** Prompts kept per agent unless --per-agent says otherwise: the six registers once each, and two more. */
export const DEFAULT_PER_AGENT = 8
/** Prompts asked for per prompt kept: a third more, so the filters (a label moved to another agent, near-identical, leakage) can drop one in four without leaving an agent short. */
export const OVERDRAFT = 4 / 3
/** Boundary prompts kept per near-duplicate pair, half each way. */
export const BOUNDARY_PER_PAIR = 4
/** Out-of-scope prompts as a share of the agents' prompts: routing.csv, written by hand, has 52 of 352 (15%). */
export const NONE_SHARE = 0.15
/** Prompts asked for in one request: longer asks are split, so one reply stays well inside max_tokens and one failure loses little. */
export const MAX_PROMPTS_PER_REQUEST = 16

export type DraftTarget = { kind: 'agent'; agent: string } | { kind: 'boundary'; a: string; b: string } | { kind: 'none' } | { kind: 'explore' }

export type PlannedRequest = { target: DraftTarget; asked: number; request: ToolRequest; /** when a target's prompts are asked for in several requests */ batch?: { index: number; of: number } }

export type GenerationPlan = {
  perAgent: number
  /** the catalogue agents whose prompts are drafted: every one, or those of --agent */
  agents: string[]
  /** how many rows each quota keeps: an agent's name, a boundary pair's key, none, Explore */
  quotas: Map<string, number>
  pairs: Array<{ a: string; b: string; sharedTerms: string[] }>
  requests: PlannedRequest[]
}

export const pairQuota = (a: string, b: string): string => `${a}-vs-${b}`

export function targetLabel(t: DraftTarget): string {
  switch (t.kind) {
    case 'agent':
      return t.agent
    case 'boundary':
      return `${t.a} ↔ ${t.b}`
    case 'none':
      return NONE
    case 'explore':
      return EXPLORE
  }
}

/** The near-duplicate pairs of the overlap analysis (descriptions alone), with their shared words. */
export function nearDuplicatePairs(catalogue: Catalogue): GenerationPlan['pairs'] {
  const report = analyseOverlap({ agents: catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file })) })
  return report.pairs.filter((p) => p.nearDuplicate).map((p) => ({ a: p.a, b: p.b, sharedTerms: p.sharedTerms }))
}

/**
 * The requests for one target's prompts: `keep` of them kept, a third more
 * asked for, split into requests of at most MAX_PROMPTS_PER_REQUEST.
 */
export function planTarget(target: DraftTarget, keep: number, build: (count: number) => ToolRequest): PlannedRequest[] {
  const asked = Math.ceil(keep * OVERDRAFT)
  const batches = Math.ceil(asked / MAX_PROMPTS_PER_REQUEST)
  return Array.from({ length: batches }, (_, k) => {
    const count = Math.floor(asked / batches) + (k < asked % batches ? 1 : 0)
    const request = build(count)
    // Each batch's request differs (so none is answered from another's cache) and asks for other tasks.
    if (batches === 1) return { target, asked: count, request }
    return { target, asked: count, request: { ...request, prompt: `${request.prompt}\n(Batch ${k + 1} of ${batches}: choose other tasks than the other batches would.)` }, batch: { index: k + 1, of: batches } }
  })
}

/**
 * Prompts aimed squarely at each of `agents` (generate: every agent; `overlap
 * --probe`: the agents of the probed pairs), `perAgent` kept each. An
 * agent's request is the same whichever command asks, so their answers are
 * cached once for both.
 */
export function planAimed(catalogue: Catalogue, agents: readonly string[], perAgent: number): Pick<GenerationPlan, 'quotas' | 'requests'> {
  const quotas = new Map<string, number>()
  const requests: PlannedRequest[] = []
  catalogue.agents.forEach((agent, i) => {
    if (!agents.includes(agent.name)) return
    quotas.set(agent.name, perAgent)
    requests.push(...planTarget({ kind: 'agent', agent: agent.name }, perAgent, (n) => aimedAtRequest(agent, catalogue, n, registersFor(i, Math.ceil(perAgent * OVERDRAFT)))))
  })
  return { quotas, requests }
}

/**
 * What `generate --agent` drafts: the chosen catalogue agents, and none and
 * Explore only when named. Absent: the whole catalogue, none and Explore.
 */
export type DraftScope = { agents: readonly string[]; none: boolean; explore: boolean }

/**
 * Every request `generate` sends, and how many rows each quota keeps. With a
 * scope, only its agents' requests and the boundary requests of the pairs
 * holding one of them; the system text still holds the whole catalogue, so
 * each request is the very one a whole run sends (and answered from the
 * same cache).
 */
export function planGeneration(catalogue: Catalogue, allPairs: GenerationPlan['pairs'], perAgent: number, scope?: DraftScope): GenerationPlan {
  const agents = catalogue.agents.map((a) => a.name).filter((name) => !scope || scope.agents.includes(name))
  const pairs = scope ? allPairs.filter((p) => scope.agents.includes(p.a) || scope.agents.includes(p.b)) : allPairs
  const { quotas, requests } = planAimed(catalogue, agents, perAgent)
  for (const p of pairs) {
    quotas.set(pairQuota(p.a, p.b), BOUNDARY_PER_PAIR)
    requests.push(...planTarget({ kind: 'boundary', a: p.a, b: p.b }, BOUNDARY_PER_PAIR, (n) => boundaryRequest({ name: p.a }, { name: p.b }, catalogue, n, p.sharedTerms)))
  }
  if (!scope || scope.none) {
    const none = Math.max(perAgent, Math.round(NONE_SHARE * perAgent * agents.length))
    quotas.set(NONE, none)
    requests.push(...planTarget({ kind: 'none' }, none, (n) => outOfScopeRequest(catalogue, n)))
  }
  if (!scope || scope.explore) {
    quotas.set(EXPLORE, perAgent)
    requests.push(...planTarget({ kind: 'explore' }, perAgent, (n) => exploreRequest(catalogue, n)))
  }
  return { perAgent, agents, quotas, pairs, requests }
}

/** The rows a dataset already holds, for `generate --append`: new ids go past theirs, and a drafted prompt near-identical to one of them is dropped. */
export type ExistingRows = { ids: ReadonlySet<string>; prompts: readonly string[] }

export type DropReason = 'unknown-label' | 'mixed-none' | 'empty' | 'leakage' | 'near-identical' | 'in-dataset' | 'over-quota'

export type DroppedPrompt = { prompt: string; target: string; reason: DropReason; detail: string }

export type Assembled = {
  rows: DatasetRow[]
  dropped: DroppedPrompt[]
  /** quotas that kept fewer rows than planned */
  short: Array<{ quota: string; kept: number; wanted: number }>
  /** requests with no valid answer */
  failed: Array<{ target: string; error: string; notSent: boolean }>
  drafted: number
}

type Candidate = { prompt: string; register: Register; expected: string[]; note: string; target: DraftTarget; quota: string }

/**
 * The dataset from the answers: labels checked against the catalogue (case
 * mended, unknown names dropped), prompts that copy a labelled agent's
 * description dropped (leakage), near-identical prompts dropped (the first
 * kept), then each quota filled up to its size, rotating through registers
 * so the kept rows cover as many as the answers do; of those, the ones
 * near-identical to a row `existing` already holds (--append) are not added
 * (the quota counts them: the dataset has them). Ids number each quota's
 * rows past the ids `existing` holds. Every drop is listed.
 */
export function assembleDataset(plan: GenerationPlan, answers: ReadonlyArray<ToolAnswer<{ prompts: DraftedPrompt[] }>>, catalogue: Catalogue, existing: ExistingRows = { ids: new Set(), prompts: [] }): Assembled {
  const canonical = new Map<string, string>()
  for (const name of [NONE, ...BUILTIN_AGENTS, ...catalogue.agents.map((a) => a.name)]) canonical.set(name.toLowerCase(), name)
  for (const a of catalogue.agents) canonical.set(a.name, a.name)
  const descriptions = new Map(catalogue.agents.map((a) => [a.name, a.description]))
  const dropped: DroppedPrompt[] = []
  const failed: Assembled['failed'] = []
  const candidates: Candidate[] = []
  let drafted = 0

  plan.requests.forEach((planned, i) => {
    const answer = answers[i]
    const target = targetLabel(planned.target)
    if (!answer?.value) {
      failed.push({ target, error: answer?.error ?? 'no answer', notSent: answer?.notSent === true })
      return
    }
    for (const d of answer.value.prompts) {
      drafted++
      const prompt = d.prompt.trim()
      const drop = (reason: DropReason, detail: string) => dropped.push({ prompt, target, reason, detail })
      if (isBlank(prompt)) {
        drop('empty', 'the prompt is empty')
        continue
      }
      const unknown = d.expected.filter((l) => !canonical.has(l) && !canonical.has(l.trim().toLowerCase()))
      const expected = [...new Set(d.expected.map((l) => canonical.get(l) ?? canonical.get(l.trim().toLowerCase())).filter((l): l is string => l !== undefined))]
      if (expected.length === 0) {
        drop('unknown-label', `no label names an agent of the catalogue (${d.expected.join(', ')})`)
        continue
      }
      if (expected.includes(NONE) && expected.length > 1) {
        drop('mixed-none', `"${NONE}" labelled together with agents (${expected.join(', ')})`)
        continue
      }
      const aimed = planned.target.kind === 'agent' ? [planned.target.agent] : planned.target.kind === 'boundary' ? [planned.target.a, planned.target.b] : []
      const leak = [...new Set([...aimed, ...expected])]
        .filter((n) => descriptions.has(n))
        .map((n) => ({ agent: n, leak: leakage(prompt, descriptions.get(n)!) }))
        .find((x) => isLeak(x.leak))
      if (leak) {
        drop('leakage', `copies ${leak.agent}'s description ("${leak.leak.phrase}": ${leak.leak.run} words in a row, ${Math.round(leak.leak.trigramShare * 100)}% of its word triples)`)
        continue
      }
      const quota = planned.target.kind === 'boundary' ? pairQuota(planned.target.a, planned.target.b) : expected[0]!
      const note = d.note.trim() + (unknown.length > 0 ? ` (dropped label${unknown.length > 1 ? 's' : ''} naming no agent: ${unknown.join(', ')})` : '')
      candidates.push({ prompt, register: d.register, expected, note, target: planned.target, quota })
    }
  })

  const twins = nearIdentical(candidates.map((c) => c.prompt))
  const distinct = candidates.filter((c, i) => {
    const kept = twins.get(i)
    if (kept === undefined) return true
    dropped.push({ prompt: c.prompt, target: targetLabel(c.target), reason: 'near-identical', detail: `near-identical to "${firstLine(candidates[kept]!.prompt)}"` })
    return false
  })
  // The dataset is looked at after the quotas are filled, as if it were empty: the same answers (a rerun, from the cache) then pick the same rows, all in the dataset by then, and nothing is appended twice (filled before, a rerun would top the quotas up with the prompts the first run left over).
  const inDataset = nearIdenticalTo(
    distinct.map((c) => c.prompt),
    existing.prompts,
  )
  const rowThere = new Map(distinct.flatMap((c, i) => (inDataset.has(i) ? [[c, existing.prompts[inDataset.get(i)!]!] as const] : [])))

  const byQuota = new Map<string, Candidate[]>()
  for (const c of distinct) byQuota.set(c.quota, [...(byQuota.get(c.quota) ?? []), c])
  const order = [...plan.quotas.keys(), ...[...byQuota.keys()].filter((q) => !plan.quotas.has(q))]
  const rows: DatasetRow[] = []
  const short: Assembled['short'] = []
  const seen = new Set(existing.ids)
  for (const quota of order) {
    const all = byQuota.get(quota) ?? []
    const wanted = plan.quotas.get(quota) ?? all.length
    const kept = rotateRegisters(all).slice(0, wanted)
    for (const c of all) if (!kept.includes(c)) dropped.push({ prompt: c.prompt, target: targetLabel(c.target), reason: 'over-quota', detail: `${quota} already has ${wanted}` })
    if (kept.length < wanted) short.push({ quota, kept: kept.length, wanted })
    const added = kept.filter((c) => {
      const there = rowThere.get(c)
      if (there === undefined) return true
      dropped.push({ prompt: c.prompt, target: targetLabel(c.target), reason: 'in-dataset', detail: `near-identical to "${firstLine(there)}", already in the dataset` })
      return false
    })
    const prefix = quota === EXPLORE ? 'explore' : quota
    // Numbered past the dataset's own ids: golang-pro-09 after an earlier run's golang-pro-01 to -08.
    const next = lastNumber(existing.ids, prefix) + 1
    const width = String(next + added.length - 1).length
    added.forEach((c, k) => {
      const boundary = c.target.kind === 'boundary'
      rows.push({
        id: `${prefix}-${String(next + k).padStart(Math.max(2, width), '0')}`,
        prompt: c.prompt,
        expected: c.expected,
        tags: [GENERATED_TAG, c.register, ...(boundary ? [BOUNDARY_TAG] : [])],
        note: c.note,
      })
    })
  }
  // Ids are unique whatever the agents are named (an agent called "explore", or "a-vs-b"), and never one the dataset holds.
  for (const r of rows) {
    let id = r.id
    for (let n = 2; seen.has(id); n++) id = `${r.id}-${n}`
    seen.add(id)
    r.id = id
  }
  return { rows, dropped, short, failed, drafted }
}

/** The highest k of the ids `prefix-k` (any padding) among `ids`, 0 when none. */
function lastNumber(ids: ReadonlySet<string>, prefix: string): number {
  let last = 0
  for (const id of ids) {
    if (!id.startsWith(`${prefix}-`)) continue
    const rest = id.slice(prefix.length + 1)
    if (/^\d+$/.test(rest)) last = Math.max(last, Number(rest))
  }
  return last
}

/** Candidates reordered so the first k cover as many registers as possible: one of each register in turn, keeping order within a register. */
function rotateRegisters<T extends { register: string }>(items: readonly T[]): T[] {
  const queues = new Map<string, T[]>()
  for (const it of items) queues.set(it.register, [...(queues.get(it.register) ?? []), it])
  const out: T[] = []
  while (out.length < items.length) for (const q of queues.values()) if (q.length > 0) out.push(q.shift()!)
  return out
}

const firstLine = (text: string) => {
  const line = text.split('\n')[0]!
  return line.length > 60 ? `${line.slice(0, 59)}…` : line
}
