import { renderOverlapText } from '../overlap/index.js'
import type { OverlapReport } from '../overlap/index.js'
import type { FilteredSummary } from '../run/filter.js'
import { fitTable, joinFit, oneLine, truncate, truncateList, truncateStart, wrap, type FitColumn, type FitLayout } from '../text/fit.js'
import { ACCURACY_GAP_CALLOUT, f2, NO_NONE_CASES, painter } from '../text/format.js'
import { FROM_DESCRIPTION_TAG } from '../load/dataset.js'
import { definedFigures } from '../score/metrics.js'
import { fromDescriptionCaveat } from './from-description.js'
import { whereLine } from './where.js'
import type { Summary } from '../run/record.js'

type LabelRow = Summary['perLabel'][number]

/**
 * The width the scorecard fits when stdout is not a terminal (a pipe, a
 * file, a CI log): nothing says how wide the reader is, and 100 columns
 * shows the per-agent table with its top confusions whole in a CI log
 * viewer, a pull-request comment and an editor split, where 80 would leave
 * out more than it needs to and 140 would wrap in most of them.
 */
export const NOT_A_TERMINAL_WIDTH = 100
/** Narrower terminals are drawn as if this wide: the agent column alone takes up to ~30 columns and is never cut. */
export const MIN_WIDTH = 60

/** The width to fit: the terminal's, or NOT_A_TERMINAL_WIDTH when there is none; never under MIN_WIDTH. */
export function outputWidth(columns: number | undefined): number {
  return Math.max(MIN_WIDTH, columns && columns > 0 ? columns : NOT_A_TERMINAL_WIDTH)
}

export type ScorecardStyle = {
  color: boolean
  /** tables fit this many columns (default NOT_A_TERMINAL_WIDTH) */
  width?: number
  /**
   * false when stdout is not a terminal: the headline's lines are then kept
   * whole, one fact a line for grep and for log viewers that wrap lines
   * themselves; only the tables (which no viewer can rewrap) are fitted
   */
  terminal?: boolean
}

const interval = ([lo, hi]: readonly [number, number]) => `${f2(lo)}–${f2(hi)}`

/**
 * The terminal scorecard for one run: headline, the per-agent table and its
 * none row, fitted to the width: the table never wraps a row; it leaves out
 * the 95% intervals, then the predicted and support columns, and cuts the
 * "confused with" column, and says so in one line. Agent names are never cut.
 * The overlap and lint are the catalogue's, printed once by renderCatalogue.
 */
export function renderScorecard(s: FilteredSummary, style: ScorecardStyle): string {
  const width = style.width ?? NOT_A_TERMINAL_WIDTH
  const prose = style.terminal === false ? Infinity : width
  const paint = painter(style.color)
  const bold = (t: string) => paint(1, t)
  const dim = (t: string) => paint(2, t)
  const m = s.metrics
  const lines: string[] = []
  const fit = (parts: string[], sep = '   ') => lines.push(...joinFit(parts, sep, prose))

  const cases = s.shard ? `shard ${s.shard.index}/${s.shard.count}: ${s.dataset.cases} of ${s.shard.datasetCases} cases` : `${s.dataset.cases} cases`
  fit([bold(s.dataset.path), ...[`router ${s.router.id}`, `${s.agents.length} agents`, cases, `${s.repeats} repeat${s.repeats > 1 ? 's' : ''}`].map(dim)], dim('  ·  '))
  if (s.filter) {
    const what = [...(s.filter.agents.length > 0 ? [`agent ${s.filter.agents.join(' or ')}`] : []), ...(s.filter.tags.length > 0 ? [`tag ${s.filter.tags.join(' or ')}`] : [])]
    lines.push(...wrap(`showing ${s.filter.cases} of ${s.filter.of} cases: ${what.join(' and ')}; the run folder holds them all`, prose).map((l) => paint(33, l)))
  }
  fit([`${bold('accuracy')} ${f2(m.accuracy)} ${dim(`[95% ${interval(m.accuracyInterval)}]`)}`, `${bold('primary')} ${f2(m.primaryAccuracy)}`, `${bold('macro-F1')} ${f2(m.macroF1)}`, `${bold('micro-F1')} ${f2(m.microF1)}`])
  fit(
    [
      m.none.support > 0 ? `none recall ${f2(m.none.recall)} (false delegation ${f2(m.none.falseDelegationRate)} on ${m.none.support})` : NO_NONE_CASES,
      ...(s.repeats > 1 ? [`flip rate ${f2(m.flipRate)}`] : []),
      ...(m.errored > 0 ? [paint(31, `errored ${m.errored}`)] : []),
      ...(m.invalid > 0 ? [paint(33, `invalid agent named ${m.invalid}×`)] : []),
    ].map(dim),
  )
  if (s.decisionKinds) lines.push(...wrap(whereLine(s.decisionKinds), prose, '', '  '))
  const traffic = trafficParts(s)
  if (traffic.length > 0) fit(traffic.map(dim))
  const seen = fromDescriptionCaveat(s)
  if (seen) lines.push(...wrap(seen.text, prose).map((l) => paint(33, l)))
  if (m.accuracy - m.primaryAccuracy >= ACCURACY_GAP_CALLOUT) {
    lines.push(...wrap(`accuracy is ${f2(m.accuracy - m.primaryAccuracy)} above primary accuracy: the router often picks an acceptable agent other than the labeller's first choice, the mark of interchangeable agents`, prose).map((l) => paint(33, l)))
  }

  const fitted = agentTable(s, style, width)
  lines.push(fitted.text)
  if (fitted.leftOut.length > 0) lines.push(...wrap(`not shown at ${width} columns: ${fitted.leftOut.join(', ')}; report.html has them`, width).map(dim))
  return lines.join('\n')
}

/** The per-agent table, richest layout that fits first. */
function agentTable(s: FilteredSummary, style: ScorecardStyle, width: number) {
  const dim = (t: string) => painter(style.color)(2, t)
  // By F1, best first; agents with no F1 (no case credited or routed to them) last.
  const f1Rank = (r: LabelRow) => definedFigures(r).f1 ?? -1
  const ranked = [...s.perLabel].sort((a, b) => f1Rank(b) - f1Rank(a) || b.support - a.support || (a.label < b.label ? -1 : 1))
  const showNone = !s.filter || s.filter.agents.length === 0 || s.filter.agents.includes('none')
  const rows: Array<{ r: LabelRow; name: string }> = [...ranked.map((r) => ({ r, name: r.label })), ...(showNone ? [{ r: s.noneLabel, name: dim('none (no subagent)') }] : [])]
  const confusedItems = (r: LabelRow, arrows: boolean) => r.confusedWith.map((c) => `${arrows ? '→ ' : ''}${c.label} ×${c.count}`)

  const agent: FitColumn = { head: 'agent', cells: rows.map((x) => x.name) }
  // 0/0 is no figure: "–", and no interval (Wilson's 0–1 for no cases says nothing).
  const shown = (r: LabelRow, head: 'precision' | 'recall' | 'f1') => {
    const x = definedFigures(r)[head]
    return x === undefined ? dim('–') : f2(x)
  }
  const withCi = (head: 'precision' | 'recall'): FitColumn => ({
    head,
    align: 'right',
    cells: rows.map(({ r }) => (definedFigures(r)[head] === undefined ? shown(r, head) : `${shown(r, head)} ${dim(interval(head === 'precision' ? r.precisionInterval : r.recallInterval))}`)),
  })
  const plain = (head: 'precision' | 'recall'): FitColumn => ({ head, align: 'right', cells: rows.map(({ r }) => shown(r, head)) })
  const f1: FitColumn = { head: 'f1', align: 'right', cells: rows.map(({ r }) => shown(r, 'f1')) }
  const support: FitColumn = { head: 'support', align: 'right', cells: rows.map(({ r }) => String(r.support)) }
  const predicted: FitColumn = { head: 'predicted', align: 'right', cells: rows.map(({ r }) => String(r.predicted)) }
  // The top two confusions; cut, whole entries are kept while they fit.
  const confused = (min: number, arrows: boolean): FitColumn => ({
    head: 'most often confused with',
    shortHead: 'confused with',
    cells: rows.map(({ r }) => confusedItems(r, arrows).slice(0, 2).join(', ')),
    min,
    cut: (_cell, w, row) => truncateList(confusedItems(rows[row]!.r, arrows).slice(0, 2), w),
  })
  const layouts: FitLayout[] = [
    { columns: [agent, withCi('precision'), withCi('recall'), f1, support, predicted, confused(26, true)] },
    { columns: [agent, plain('precision'), plain('recall'), f1, support, predicted, confused(24, true)], leftOut: ['95% intervals'] },
    { columns: [agent, plain('precision'), plain('recall'), f1, support, confused(22, true)], leftOut: ['95% intervals', 'predicted'] },
    { columns: [agent, plain('precision'), plain('recall'), f1, confused(16, false)], leftOut: ['95% intervals', 'predicted', 'support'] },
    { columns: [agent, plain('precision'), plain('recall'), f1], leftOut: ['95% intervals', 'predicted', 'support', 'confused with'] },
  ]
  return fitTable(layouts, width, style)
}

/** The catalogue's overlap and lint, and skipped agent files: once per eval, after the scorecards. */
export function renderCatalogue(overlap: OverlapReport, invalidAgents: Summary['invalidAgents'], style: ScorecardStyle): string {
  const width = style.width ?? NOT_A_TERMINAL_WIDTH
  const paint = painter(style.color)
  const lines = [renderOverlapText(overlap, { color: style.color, top: 5, clusters: 3, width })]
  if (invalidAgents.length > 0) {
    lines.push(...joinFit([paint(33, `${invalidAgents.length} agent file(s) skipped (--skip-invalid):`), ...invalidAgents.map((a) => `${a.file}:${a.line}`)], ' ', width, '', '  '))
  }
  return lines.join('\n')
}

/**
 * --only-failures: the misrouted cases, each as "id  expected → decision"
 * and the prompt's first line, cut to the width. A list, not a table: two
 * agent names and a prompt do not share 80 columns.
 */
export function renderFailures(s: FilteredSummary, style: ScorecardStyle): string {
  const width = style.width ?? NOT_A_TERMINAL_WIDTH
  const prose = style.terminal === false ? Infinity : width
  const paint = painter(style.color)
  const dim = (t: string) => paint(2, t)
  const wrong = s.cases.filter((c) => c.correct === false)
  const decided = s.cases.filter((c) => c.decision !== null).length
  const lines = joinFit([paint(1, 'Misrouted'), dim(`${wrong.length} of ${decided} decided case${decided === 1 ? '' : 's'}`), dim('· expected → decision'), dim("· the prompt's first line")], ' ', prose)
  if (wrong.length === 0) lines.push(dim('  none: every decided case went to an acceptable agent'))
  const idWidth = Math.min(14, Math.max(0, ...wrong.map((c) => [...c.id].length)))
  const indent = ' '.repeat(2 + idWidth + 2)
  for (const c of wrong) {
    const id = [...c.id].length > idWidth ? truncate(oneLine(c.id), idWidth) : oneLine(c.id).padEnd(idWidth)
    const decision = `${c.decision}${c.invalid ? ' (not an agent)' : ''}${c.split ? ' (split)' : ''}`
    lines.push(...joinFit([c.expected.join(' | '), '→', paint(31, decision)], ' ', prose, `  ${id}  `, indent))
    const [first = '', ...more] = (c.prompt ?? '').trim().split(/\r?\n/)
    const text = oneLine(first) + (more.some((l) => l.trim() !== '') ? ' …' : '')
    lines.push(dim(`${indent}${truncate(text, width - indent.length)}`))
  }
  return lines.join('\n')
}

/** Requests, tokens, cost and latency, for routers that send requests. */
function trafficParts(s: Summary): string[] {
  const r = s.requests
  if (!s.usage && r.retries === 0 && r.fromCache === 0 && r.errored === 0) return []
  const k = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : String(n))
  const parts = [`requests ${r.sent} sent${r.batched ? ` (${r.batched === r.sent ? 'all' : r.batched} answered by message batches${r.retries > 0 ? `, ${r.retries} resubmitted` : ''})` : r.retries > 0 ? ` (${r.retries} retries)` : ''}${r.fromCache > 0 ? `, ${r.fromCache} from the journal` : ''}${r.notSent > 0 ? `, ${r.notSent} not sent` : ''}`]
  if (s.usage) {
    const u = s.usage
    parts.push(`tokens in ${k(u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens)} (${Math.round(u.cacheHitRatio * 100)}% cache hits) out ${k(u.outputTokens)}`)
  }
  if (s.cost) parts.push(`cost $${s.cost.usdThisRun.toFixed(4)}${r.batched ? ' at the batch rate' : ''}${s.cost.usd > s.cost.usdThisRun + 1e-9 ? ` this run ($${s.cost.usd.toFixed(4)} with the journal's)` : ''}`)
  // A batch's latency is its turnaround, minutes to hours.
  const ms = (v: number) => (v >= 10_000 ? `${Math.round(v / 1000)} s` : `${Math.round(v)} ms`)
  if (s.latencyMs && s.usage) parts.push(`${r.batched ? 'batch turnaround' : 'latency'} p50 ${ms(s.latencyMs.p50)}, p95 ${ms(s.latencyMs.p95)}`)
  return parts
}

/** One line per dataset, for the end of a multi-dataset run; the path is cut from the left when the width needs it. */
export function renderRunsTable(summaries: readonly FilteredSummary[], style: ScorecardStyle): string {
  const width = style.width ?? NOT_A_TERMINAL_WIDTH
  const col = (head: string, cells: string[]): FitColumn => ({ head, align: 'right', cells })
  const dataset: FitColumn = { head: 'dataset', cells: summaries.map((s) => s.dataset.path), min: 16, cut: truncateStart }
  const cases = col('cases', summaries.map((s) => String(s.dataset.cases)))
  // † marks an accuracy that is an upper bound: some of its cases are the descriptions' own examples.
  const seen = summaries.map((s) => fromDescriptionCaveat(s))
  const mark = (i: number) => (seen[i] ? ' †' : '')
  const accuracyCi = col('accuracy', summaries.map((s, i) => `${f2(s.metrics.accuracy)} (${interval(s.metrics.accuracyInterval)})${mark(i)}`))
  const accuracy = col('accuracy', summaries.map((s, i) => `${f2(s.metrics.accuracy)}${mark(i)}`))
  const rest = [
    col('primary', summaries.map((s) => f2(s.metrics.primaryAccuracy))),
    col('macro-F1', summaries.map((s) => f2(s.metrics.macroF1))),
    // No prompt labelled none: no none recall ("–"), not a 0.00 that reads as every one delegated.
    col('none recall', summaries.map((s) => f2(s.metrics.none.support > 0 ? s.metrics.none.recall : undefined))),
  ]
  const errored = col('errored', summaries.map((s) => String(s.metrics.errored)))
  const anyErrored = summaries.some((s) => s.metrics.errored > 0)
  const fitted = fitTable(
    [
      { columns: [dataset, cases, accuracyCi, ...rest, errored] },
      { columns: [dataset, cases, accuracy, ...rest, errored], leftOut: ['the accuracy interval'] },
      // The errored column goes when it is all zeros; else the none recall, which the scorecards above show.
      anyErrored ? { columns: [dataset, cases, accuracy, ...rest.slice(0, 2), errored], leftOut: ['the accuracy interval', 'none recall'] } : { columns: [dataset, cases, accuracy, ...rest], leftOut: ['the accuracy interval', 'errored (none)'] },
      { columns: [{ ...dataset, min: 12 }, cases, accuracy, ...(anyErrored ? [errored] : [])], leftOut: ['the accuracy interval', 'primary', 'macro-F1', 'none recall', ...(anyErrored ? [] : ['errored (none)'])] },
    ],
    width,
    style,
  )
  const note = fitted.leftOut.length > 0 ? `\n${wrap(`not shown at ${width} columns: ${fitted.leftOut.join(', ')}`, width).map((l) => painter(style.color)(2, l)).join('\n')}` : ''
  const bounds = seen.some((x) => x) ? `\n${wrap(`† an upper bound: ${seen.flatMap((x, i) => (x ? [`${x.count} of ${x.of} cases of ${summaries[i]!.dataset.path}`] : [])).join(', ')} are tagged ${FROM_DESCRIPTION_TAG}, prompts the router reads in the descriptions`, width).map((l) => painter(style.color)(33, l)).join('\n')}` : ''
  return fitted.text + note + bounds
}
