import { z } from 'zod'
import type { Agent, InvalidAgentFile } from '../load/catalogue.js'
import { fromDescriptionCount, type Case } from '../load/dataset.js'
import { modelPriceSchema, usageCost, type Price } from '../route/cost.js'
import type { Attempt } from '../route/run.js'
import { overlapReportSchema, type OverlapReport } from '../overlap/index.js'
import { labelScoreSchema, runMetricsSchema, type Scores } from '../score/metrics.js'
import { decisionKindsSchema } from '../score/kinds.js'
import { quantile } from '../score/stats.js'
import { DECISION_KINDS } from '../route/router.js'

/**
 * summary.json (DESIGN "summary.json"): scripts outside the code read it, so
 * fields may be added but never renamed. The schema is also how the gate and
 * `routecheck report` read a summary back.
 */

/** What a shard's run folder is (eval --shard K/N): `routecheck merge` checks the shards agree and joins them. */
export const shardRecordSchema = z.object({
  /** this shard, from 1 */
  index: z.number().int().positive(),
  count: z.number().int().positive(),
  /** cases in the whole dataset (this shard has `dataset.cases` of them) */
  datasetCases: z.number().int().nonnegative(),
  /** what besides the catalogue and the dataset decides an answer (the router's journal key, the lexical settings): shards must agree on it */
  settings: z.string(),
  /** the price the cost is computed with, so the merged run's cost is computed alike */
  price: modelPriceSchema.nullable(),
  /**
   * with --max-cost: the cap is the whole run's, and this shard kept to its share of it (shardShareOfCap):
   * `shareUsd` = `runCapUsd` × `shardEstimateUsd` / `runEstimateUsd` (an even share when that estimate is 0)
   */
  maxCost: z.object({ runCapUsd: z.number(), shareUsd: z.number(), shardEstimateUsd: z.number(), runEstimateUsd: z.number() }).optional(),
})
export type ShardRecord = z.infer<typeof shardRecordSchema>

export const summarySchema = z.looseObject({
  schemaVersion: z.literal(1),
  tool: z.object({ name: z.literal('routecheck'), version: z.string() }),
  createdAt: z.string(),
  router: z.looseObject({ id: z.string() }),
  dataset: z.object({
    path: z.string(),
    fingerprint: z.string(),
    cases: z.number().int(),
    /** of `cases`, those tagged from-description: the descriptions' own <example> prompts, which the router reads, so the run's figures are an upper bound (absent in runs before it) */
    fromDescription: z.number().int().optional(),
  }),
  agents: z.array(z.object({ name: z.string(), file: z.string(), fingerprint: z.string(), description: z.string().optional(), tools: z.array(z.string()).optional() })),
  catalogueFingerprint: z.string(),
  invalidAgents: z.array(z.object({ file: z.string(), line: z.number(), reason: z.string() })),
  repeats: z.number().int().positive(),
  metrics: runMetricsSchema,
  perLabel: z.array(labelScoreSchema),
  noneLabel: labelScoreSchema,
  confusion: z.object({ labels: z.array(z.string()), matrix: z.array(z.array(z.number().int())) }),
  latencyMs: z.object({ p50: z.number(), p95: z.number() }).nullable(),
  requests: z.object({
    /** routing requests this run sent (a retried one counts once) */
    sent: z.number().int(),
    /** answered from the run journal of an earlier run */
    fromCache: z.number().int(),
    retries: z.number().int(),
    errored: z.number().int(),
    notSent: z.number().int(),
    /** of `sent`, those answered by a Message Batch (--batch), billed at the batch rate; absent when none */
    batched: z.number().int().optional(),
  }),
  usage: z
    .object({
      inputTokens: z.number(),
      outputTokens: z.number(),
      cacheReadTokens: z.number(),
      cacheWriteTokens: z.number(),
      /** share of input tokens served from the prompt cache */
      cacheHitRatio: z.number(),
    })
    .nullable(),
  cost: z.object({ model: z.string(), usd: z.number(), usdThisRun: z.number() }).nullable(),
  cases: z.array(
    z.looseObject({
      id: z.string(),
      expected: z.array(z.string()),
      decision: z.string().nullable(),
      correct: z.boolean().nullable(),
      credited: z.string(),
      votes: z.record(z.string(), z.number()),
      split: z.boolean(),
      flipped: z.boolean(),
      decidedRepeats: z.number().int(),
      invalid: z.boolean().optional(),
      error: z.string().optional(),
      runnerUp: z.string().optional(),
      margin: z.number().optional(),
      /** what Claude Code did with the prompt (custom, builtin, tool, answer), where the router says */
      decisionKind: z.enum(DECISION_KINDS).optional(),
      tool: z.string().optional(),
      tags: z.array(z.string()),
      prompt: z.string().optional(),
      /** in a shard's summary: the case's place in the whole dataset */
      position: z.number().int().nonnegative().optional(),
    }),
  ),
  overlap: overlapReportSchema,
  /** where the prompts went; null for routers that do not say what Claude Code did (absent in runs before 0.2) */
  decisionKinds: decisionKindsSchema.nullable().optional(),
  /** only in a shard's run folder (eval --shard K/N); a merged run has none */
  shard: shardRecordSchema.optional(),
})
export type Summary = z.infer<typeof summarySchema>

/** What a run is scored over: the dataset's cases it routed (all of them, or a shard's). */
export type RunDataset = { path: string; fingerprint: string; cases: ReadonlyArray<Pick<Case, 'id' | 'prompt' | 'expected' | 'tags'>> }
/** The catalogue as a run records it. */
export type RunCatalogue = { agents: ReadonlyArray<Pick<Agent, 'name' | 'file' | 'fingerprint' | 'description' | 'tools'>>; fingerprint: string }

export type RunFacts = {
  toolVersion: string
  createdAt: Date
  router: { id: string }
  dataset: RunDataset
  catalogue: RunCatalogue
  invalidAgents: ReadonlyArray<Pick<InvalidAgentFile, 'file' | 'line' | 'reason'>>
  repeats: number
  attempts: readonly Attempt[]
  scores: Scores
  /** the router's model and its price, when it has one */
  pricing?: { model: string; price: Price | undefined }
  /** the overlap analysis of the catalogue with this run's signals */
  overlap: OverlapReport
  /** a shard's run: what it is, and each case's place in the whole dataset */
  shard?: { record: ShardRecord; positions: ReadonlyMap<string, number> }
}

/**
 * The case with this id among `cases`, looked for first at position `i`:
 * scored cases keep the dataset's order, so a run of 100,000 cases needs no
 * map from id to case. A lookup by id after the orders part builds one,
 * once per `cases`.
 */
export function caseAt<C extends { id: string }>(cases: readonly C[], i: number, id: string): C | undefined {
  const here = cases[i]
  if (here?.id === id) return here
  let byId = caseMaps.get(cases)
  if (!byId) {
    byId = new Map(cases.map((c) => [c.id, c]))
    caseMaps.set(cases, byId)
  }
  return byId.get(id) as C | undefined
}
const caseMaps = new WeakMap<readonly { id: string }[], Map<string, { id: string }>>()

export function buildSummary(facts: RunFacts): Summary {
  const positions = facts.shard?.positions
  const latencies = latenciesOf(facts.attempts)
  return {
    schemaVersion: 1,
    tool: { name: 'routecheck', version: facts.toolVersion },
    createdAt: facts.createdAt.toISOString(),
    router: facts.router,
    dataset: { path: facts.dataset.path, fingerprint: facts.dataset.fingerprint, cases: facts.dataset.cases.length, fromDescription: fromDescriptionCount(facts.dataset.cases) },
    agents: facts.catalogue.agents.map((a) => ({ name: a.name, file: a.file, fingerprint: a.fingerprint, description: a.description, ...(a.tools ? { tools: a.tools } : {}) })),
    catalogueFingerprint: facts.catalogue.fingerprint,
    invalidAgents: facts.invalidAgents.map(({ file, line, reason }) => ({ file, line, reason })),
    repeats: facts.repeats,
    metrics: facts.scores.metrics,
    perLabel: facts.scores.perLabel,
    noneLabel: facts.scores.noneLabel,
    confusion: facts.scores.confusion,
    decisionKinds: facts.scores.decisionKinds,
    latencyMs: latencies.length === 0 ? null : { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) },
    ...usageFigures(facts.attempts, facts.pricing),
    cases: facts.scores.cases.map((c, i) => {
      const source = caseAt(facts.dataset.cases, i, c.id)
      // Object.assign, not a spread: { ...c, tags, prompt } took 2.5 µs a case in Node 20, this a fifth of it.
      const summaryCase = Object.assign({}, c) as Summary['cases'][number]
      summaryCase.tags = source?.tags ?? []
      summaryCase.prompt = source?.prompt ?? ''
      if (positions) summaryCase.position = positions.get(c.id)!
      return summaryCase
    }),
    overlap: facts.overlap,
    ...(facts.shard ? { shard: facts.shard.record } : {}),
  }
}

/** The latency of each request this run sent and got a decision for, as a typed array for quantile's sort. */
function latenciesOf(attempts: readonly Attempt[]): Float64Array {
  const latencies = new Float64Array(attempts.length)
  let n = 0
  for (const a of attempts) if (a.decision && !a.cached) latencies[n++] = a.decision.latencyMs
  return latencies.subarray(0, n)
}

/** Requests, tokens and cost. Latency and cost count only requests this run sent. */
function usageFigures(attempts: readonly Attempt[], pricing: RunFacts['pricing']): Pick<Summary, 'requests' | 'usage' | 'cost'> {
  const requests = {
    sent: attempts.filter((a) => a.tries > 0).length,
    fromCache: attempts.filter((a) => a.cached).length,
    retries: attempts.reduce((n, a) => n + Math.max(0, a.tries - 1), 0),
    errored: attempts.filter((a) => a.error !== undefined && !a.notSent).length,
    notSent: attempts.filter((a) => a.notSent).length,
    ...batchedCount(attempts),
  }
  const used = attempts.flatMap((a) => (a.decision?.usage ? [{ usage: a.decision.usage, cached: a.cached === true }] : []))
  if (used.length === 0) return { requests, usage: null, cost: null }
  const total = (pick: (u: (typeof used)[number]['usage']) => number, only = used) => only.reduce((n, x) => n + pick(x.usage), 0)
  const usage = {
    inputTokens: total((u) => u.inputTokens),
    outputTokens: total((u) => u.outputTokens),
    cacheReadTokens: total((u) => u.cacheReadTokens),
    cacheWriteTokens: total((u) => u.cacheWriteTokens),
    cacheHitRatio: 0,
  }
  const allInput = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens
  usage.cacheHitRatio = allInput === 0 ? 0 : usage.cacheReadTokens / allInput
  const price = pricing?.price
  const cost =
    pricing && price
      ? {
          model: pricing.model,
          usd: used.reduce((n, x) => n + usageCost(x.usage, price), 0),
          usdThisRun: used.filter((x) => !x.cached).reduce((n, x) => n + usageCost(x.usage, price), 0),
        }
      : null
  return { requests, usage, cost }
}

/** Requests this run sent that a message batch answered; left out when none did. */
function batchedCount(attempts: readonly Attempt[]): { batched?: number } {
  const batched = attempts.filter((a) => a.tries > 0 && a.decision?.batch !== undefined).length
  return batched > 0 ? { batched } : {}
}

/** Floats to 6 places, so the file diffs cleanly between runs. */
const round6 = (x: number) => Math.round(x * 1e6) / 1e6
const roundFloats = (_key: string, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? round6(v) : v)
const CASES_SLOT = '\u0000cases\u0000'

/**
 * summary.json's text in pieces: everything but the cases, then one case at
 * a time, so a 100,000-case run never holds the whole file as one string.
 * Joined, the pieces are exactly JSON.stringify(summary, …, 2).
 */
export function* summaryJsonChunks(summary: Summary): Generator<string> {
  const head = JSON.stringify({ ...summary, cases: CASES_SLOT }, roundFloats, 2)
  const slot = JSON.stringify(CASES_SLOT)
  const at = head.indexOf(slot)
  yield head.slice(0, at)
  if (summary.cases.length === 0) yield '[]'
  else {
    yield '['
    const keyText = keyTexts()
    for (const [i, c] of summary.cases.entries()) yield `${i === 0 ? '\n' : ',\n'}${caseJson(c, keyText)}`
    yield '\n  ]'
  }
  yield `${head.slice(at + slot.length)}\n`
}

// Where a case sits in summary.json: its braces 4 spaces in, its keys 6, their items 8.
const CASE_KEY = '\n      '
const CASE_ITEM = '\n        '
// Each case nested two deep, where it sits in the file, so JSON.stringify indents it (a regex over every line cost as much).
const NESTED_OPEN = '[\n  [\n'.length
const NESTED_CLOSE = '\n  ]\n]'.length

/**
 * One case of summary.json as JSON.stringify([[c]], roundFloats, 2) writes it
 * (without the two brackets around it). A case is a flat object of strings,
 * numbers, booleans, nulls, lists of strings and records of numbers, written
 * here directly: the replacer function JSON.stringify calls for every key and
 * value was a third of summary.json's time at 100,000 cases. Any other value
 * goes the long way. test/summary-json.test.ts compares the two.
 */
export function caseJson(c: Summary['cases'][number], keyText: (key: string) => string): string {
  const direct = directCaseJson(c as Record<string, unknown>, keyText)
  if (direct !== undefined) return direct
  const item = JSON.stringify([[c]], roundFloats, 2)
  return item.slice(NESTED_OPEN, item.length - NESTED_CLOSE)
}

function directCaseJson(c: Record<string, unknown>, keyText: (key: string) => string): string | undefined {
  if (typeof c.toJSON === 'function') return undefined
  let out = ''
  for (const key of Object.keys(c)) {
    const v = c[key]
    let text: string | undefined
    switch (typeof v) {
      case 'string':
        text = JSON.stringify(v)
        break
      case 'number':
        text = numberJson(v)
        break
      case 'boolean':
        text = v ? 'true' : 'false'
        break
      case 'undefined':
        continue
      case 'object':
        text = v === null ? 'null' : Array.isArray(v) ? stringListJson(v) : numberRecordJson(v as Record<string, unknown>, keyText)
        break
    }
    if (text === undefined) return undefined
    out += `${out === '' ? '    {' : ','}${CASE_KEY}${keyText(key)}${text}`
  }
  return out === '' ? '    {}' : `${out}\n    }`
}

const numberJson = (x: number) => (Number.isInteger(x) ? String(x) : Number.isFinite(x) ? String(round6(x)) : 'null')

function stringListJson(list: readonly unknown[]): string | undefined {
  if (list.length === 0) return '[]'
  let out = '['
  for (let i = 0; i < list.length; i++) {
    const x = list[i]
    if (typeof x !== 'string') return undefined
    out += `${i === 0 ? '' : ','}${CASE_ITEM}${JSON.stringify(x)}`
  }
  return `${out}${CASE_KEY}]`
}

function numberRecordJson(record: Record<string, unknown>, keyText: (key: string) => string): string | undefined {
  if (typeof record.toJSON === 'function') return undefined
  let out = ''
  for (const key of Object.keys(record)) {
    const x = record[key]
    if (typeof x !== 'number') return undefined
    out += `${out === '' ? '{' : ','}${CASE_ITEM}${keyText(key)}${numberJson(x)}`
  }
  return out === '' ? '{}' : `${out}${CASE_KEY}}`
}

/** `"key": ` for each key, made once per file: a run writes the same dozen keys (and agent names) 100,000 times. */
function keyTexts(): (key: string) => string {
  const made = new Map<string, string>()
  return (key) => {
    let text = made.get(key)
    if (text === undefined) {
      text = `${JSON.stringify(key)}: `
      made.set(key, text)
    }
    return text
  }
}

/** summary.json text, whole: for --json and small runs. */
export function summaryJson(summary: Summary): string {
  return [...summaryJsonChunks(summary)].join('')
}
