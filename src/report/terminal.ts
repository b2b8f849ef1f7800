import Table from 'cli-table3'
import { renderOverlapText } from '../overlap/index.js'
import { ACCURACY_GAP_CALLOUT, f2, painter } from '../text/format.js'
import { whereLine } from './where.js'
import type { Summary } from '../run/record.js'

type LabelRow = Summary['perLabel'][number]

export type ScorecardStyle = { color: boolean }

const interval = ([lo, hi]: readonly [number, number]) => `${f2(lo)}–${f2(hi)}`

/** The terminal scorecard for one run: headline, per-agent table, the none row. */
export function renderScorecard(s: Summary, style: ScorecardStyle): string {
  const paint = painter(style.color)
  const bold = (t: string) => paint(1, t)
  const dim = (t: string) => paint(2, t)
  const m = s.metrics
  const lines: string[] = []

  lines.push(bold(`${s.dataset.path}`) + dim(`  ·  router ${s.router.id}  ·  ${s.agents.length} agents  ·  ${s.dataset.cases} cases  ·  ${s.repeats} repeat${s.repeats > 1 ? 's' : ''}`))
  lines.push(
    `${bold('accuracy')} ${f2(m.accuracy)} ${dim(`[95% ${interval(m.accuracyInterval)}]`)}   ` +
      `${bold('primary')} ${f2(m.primaryAccuracy)}   ${bold('macro-F1')} ${f2(m.macroF1)}   ${bold('micro-F1')} ${f2(m.microF1)}`,
  )
  const extras = [
    `none recall ${f2(m.none.recall)} (false delegation ${f2(m.none.falseDelegationRate)} on ${m.none.support})`,
    ...(s.repeats > 1 ? [`flip rate ${f2(m.flipRate)}`] : []),
    ...(m.errored > 0 ? [paint(31, `errored ${m.errored}`)] : []),
    ...(m.invalid > 0 ? [paint(33, `invalid agent named ${m.invalid}×`)] : []),
  ]
  lines.push(dim(extras.join('   ')))
  if (s.decisionKinds) lines.push(whereLine(s.decisionKinds))
  const traffic = trafficLine(s)
  if (traffic) lines.push(dim(traffic))
  if (m.accuracy - m.primaryAccuracy >= ACCURACY_GAP_CALLOUT) {
    lines.push(paint(33, `accuracy is ${f2(m.accuracy - m.primaryAccuracy)} above primary accuracy: the router often picks an acceptable agent other than the labeller's first choice, the mark of interchangeable agents`))
  }

  const table = new Table({
    head: ['agent', 'precision', 'recall', 'f1', 'support', 'predicted', 'most often confused with'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'left'],
    style: { head: style.color ? ['cyan'] : [], border: style.color ? ['grey'] : [], compact: true },
  })
  const row = (r: LabelRow) => [
    r.label,
    `${f2(r.precision)} ${dim(interval(r.precisionInterval))}`,
    `${f2(r.recall)} ${dim(interval(r.recallInterval))}`,
    r.support + r.predicted === 0 ? dim('–') : f2(r.f1),
    String(r.support),
    String(r.predicted),
    topConfusion(r),
  ]
  const ranked = [...s.perLabel].sort((a, b) => b.f1 - a.f1 || b.support - a.support || (a.label < b.label ? -1 : 1))
  for (const r of ranked) table.push(row(r))
  table.push(row(s.noneLabel).map((cell, i) => (i === 0 ? dim('none (no subagent)') : cell)))
  lines.push(table.toString())
  lines.push('', renderOverlapText(s.overlap, { color: style.color, top: 5, clusters: 3 }))
  if (s.invalidAgents.length > 0) {
    lines.push(paint(33, `${s.invalidAgents.length} agent file(s) skipped (--skip-invalid): `) + s.invalidAgents.map((a) => `${a.file}:${a.line}`).join(', '))
  }
  return lines.join('\n')
}

/** Requests, tokens, cost and latency, for routers that send requests. */
function trafficLine(s: Summary): string | undefined {
  const r = s.requests
  if (!s.usage && r.retries === 0 && r.fromCache === 0 && r.errored === 0) return undefined
  const k = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : String(n))
  const parts = [`requests ${r.sent} sent${r.retries > 0 ? ` (${r.retries} retries)` : ''}${r.fromCache > 0 ? `, ${r.fromCache} from the journal` : ''}${r.notSent > 0 ? `, ${r.notSent} not sent` : ''}`]
  if (s.usage) {
    const u = s.usage
    parts.push(`tokens in ${k(u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens)} (${Math.round(u.cacheHitRatio * 100)}% cache hits) out ${k(u.outputTokens)}`)
  }
  if (s.cost) parts.push(`cost $${s.cost.usdThisRun.toFixed(4)}${s.cost.usd > s.cost.usdThisRun + 1e-9 ? ` this run ($${s.cost.usd.toFixed(4)} with the journal's)` : ''}`)
  if (s.latencyMs && s.usage) parts.push(`latency p50 ${Math.round(s.latencyMs.p50)} ms, p95 ${Math.round(s.latencyMs.p95)} ms`)
  return parts.join('   ')
}

function topConfusion(r: LabelRow): string {
  const [first, second] = r.confusedWith
  if (!first) return ''
  const more = second ? `, → ${second.label} ×${second.count}` : ''
  return `→ ${first.label} ×${first.count}${more}`
}

/** One line per dataset, for the end of a multi-dataset run. */
export function renderRunsTable(summaries: readonly Summary[], style: ScorecardStyle): string {
  const table = new Table({
    head: ['dataset', 'cases', 'accuracy', 'primary', 'macro-F1', 'none recall', 'errored'],
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
    style: { head: style.color ? ['cyan'] : [], border: style.color ? ['grey'] : [], compact: true },
  })
  for (const s of summaries) {
    const m = s.metrics
    table.push([s.dataset.path, String(s.dataset.cases), `${f2(m.accuracy)} (${interval(m.accuracyInterval)})`, f2(m.primaryAccuracy), f2(m.macroF1), f2(m.none.recall), String(m.errored)])
  }
  return table.toString()
}
