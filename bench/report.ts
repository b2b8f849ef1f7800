import { seededRandom as rng } from '../src/score/stats.js'
import { analyseOverlap } from '../src/overlap/index.js'
import { renderHtml } from '../src/report/html.js'
import { summarySchema, type Summary } from '../src/run/record.js'
import { scoreCases } from '../src/score/metrics.js'
import { syntheticCatalogue } from './overlap.js'

/**
 * report.html at scale: a synthetic run of `cases` cases over a synthetic
 * catalogue (15 agents for small runs, 200 from 1,000 cases), scored with
 * the real scoring and overlap code so the page has realistic confusion,
 * clusters and evidence, then timed through `renderHtml`. Returns the
 * generation time and the page's size; prints nothing.
 */

export function syntheticSummary(caseCount: number, agentCount: number, seed = 7): Summary {
  const random = rng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const { agents } = syntheticCatalogue(agentCount, seed)
  const names = agents.map((a) => a.name)
  // Agents of one role are each other's likely confusions, as near-duplicates are in real catalogues.
  const role = (name: string) => name.replace(/^copy-\d+-of-/, '').split('-')[0]!
  const byRole = new Map<string, string[]>()
  for (const n of names) byRole.set(role(n), [...(byRole.get(role(n)) ?? []), n])
  const words = agents.map((a) => a.description.replace(/<[^>]+>/g, ' ').split(/\s+/).filter((w) => w.length > 3))

  const cases = Array.from({ length: caseCount }, (_, k) => {
    const none = random() < 0.12
    const a = Math.floor(random() * names.length)
    const primary = names[a]!
    const siblings = byRole.get(role(primary))!
    const expected = none ? ['none'] : random() < 0.2 && siblings.length > 1 ? [primary, pick(siblings.filter((n) => n !== primary))] : [primary]
    const prompt = Array.from({ length: 6 + Math.floor(random() * 30) }, () => pick(words[a]!)).join(' ')
    const roll = random()
    const decision = roll < 0.58 ? expected[0]! : roll < 0.8 ? pick(siblings) : roll < 0.92 ? 'none' : pick(names)
    const runnerUp = pick(siblings)
    return { id: `s${String(k).padStart(6, '0')}`, expected, prompt, tags: [role(primary)], vote: { decision, votes: { [decision]: 1 }, split: false, flipped: false, decidedRepeats: 1, runnerUp, margin: random() * 4 } }
  })
  const scores = scoreCases(cases, names)
  const overlap = analyseOverlap({ agents, cases: scores.cases })
  const byId = new Map(cases.map((c) => [c.id, c]))
  return summarySchema.parse({
    schemaVersion: 1,
    tool: { name: 'routecheck', version: 'bench' },
    createdAt: new Date(0).toISOString(),
    router: { id: 'lexical' },
    dataset: { path: `datasets/synthetic-${caseCount}.csv`, fingerprint: '0'.repeat(64), cases: caseCount },
    agents: agents.map((a) => ({ name: a.name, file: a.file, fingerprint: '0'.repeat(64), description: a.description })),
    catalogueFingerprint: '0'.repeat(64),
    invalidAgents: [],
    repeats: 1,
    metrics: scores.metrics,
    perLabel: scores.perLabel,
    noneLabel: scores.noneLabel,
    confusion: scores.confusion,
    latencyMs: { p50: 0.03, p95: 0.09 },
    requests: { sent: caseCount, fromCache: 0, retries: 0, errored: 0, notSent: 0 },
    usage: null,
    cost: null,
    cases: scores.cases.map((c) => ({ ...c, tags: byId.get(c.id)!.tags, prompt: byId.get(c.id)!.prompt })),
    overlap,
  })
}

/** One size, measured in a process of its own (the harness spawns one per case). */
export function benchReport(cases: number): Record<string, number> {
  const agents = cases >= 1000 ? 200 : 15
  const summary = syntheticSummary(cases, agents)
  const started = performance.now()
  const page = renderHtml(summary)
  const ms = performance.now() - started
  const summaryKb = Buffer.byteLength(JSON.stringify(summary)) / 1024
  return { cases, agents, ms: Math.round(ms), kb: Math.round(Buffer.byteLength(page) / 1024), summaryJsonKb: Math.round(summaryKb) }
}
