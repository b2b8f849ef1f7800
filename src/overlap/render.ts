import { FROM_DESCRIPTION_TAG } from '../load/dataset.js'
import { fitTable, joinFit, oneLine, truncate, truncateList, wrap, type FitColumn, type FitLayout } from '../text/fit.js'
import { f2, painter } from '../text/format.js'
import type { PairVerdict } from './advice.js'
import type { OverlapCluster, OverlapPair, OverlapReport, ProbePair, ProbeReport } from './schema.js'

export type OverlapTextStyle = {
  color: boolean
  /** pairs shown in the table (default 15) */
  top?: number
  /** wrap prose at this many columns (default 100) */
  width?: number
  /** clusters shown (default 10) */
  clusters?: number
}

/** Links and members listed per cluster before "… N more". */
const MEMBER_LINES = 12

/**
 * The overlap report for the terminal: the top pairs, each cluster with its
 * evidence and a suggestion, then the lint findings and invalid files.
 */
export function renderOverlapText(report: OverlapReport, style: OverlapTextStyle): string {
  const paint = painter(style.color)
  const bold = (t: string) => paint(1, t)
  const dim = (t: string) => paint(2, t)
  const width = style.width ?? 100
  const lines: string[] = []
  const agents = Object.keys(report.tokens).length
  const near = report.pairs.filter((p) => p.nearDuplicate).length

  lines.push(
    ...joinFit(
      [bold('Overlap'), ...[`${agents} agents`, `signals: ${report.signals.join(', ')}${byProbes(report) ? ' (routing from probe prompts, not a labelled dataset)' : ''}`, `${near} near-duplicate pair${near === 1 ? '' : 's'} in ${report.clusters.length} cluster${report.clusters.length === 1 ? '' : 's'}`].map(dim)],
      dim('  ·  '),
      width,
    ),
  )

  const leftOut = leftOutText(report)
  if (leftOut) lines.push(...wrap(leftOut, width).map((l) => paint(33, l)))

  const shown = report.pairs.slice(0, style.top ?? 15)
  if (shown.length > 0) {
    const fitted = pairTable(shown, report, style.color, width)
    if (fitted.width <= width) lines.push(fitted.text)
    // Narrower than the two names: a line per pair.
    else for (const p of shown) lines.push(...joinFit([`${p.nearDuplicate ? paint(33, '●') : ' '} ${p.a} ↔ ${p.b}`, `${p.nearDuplicate ? bold(f2(p.score)) : f2(p.score)}`, dim(`text ${f2(p.text)}`)], '  ', width, '', '    '))
    const legend = [`● near-duplicate`, `top ${shown.length} of ${report.pairs.length} pairs listed`]
    if (report.signals.includes('lowMargins')) legend.push(`low margin: cases decided between the two by a score gap in the run's smallest quarter`)
    // The line per pair shows the text score the narrowest table leaves out.
    const leftOut = fitted.width <= width ? fitted.leftOut : fitted.leftOut.filter((c) => c !== 'text')
    if (leftOut.length > 0) legend.push(`not shown at ${width} columns: ${leftOut.join(', ')} (--json has them)`)
    lines.push(...joinFit(legend, ' · ', width, '', '  ').map(dim))
  }

  const clusters = report.clusters.slice(0, style.clusters ?? 10)
  clusters.forEach((c, k) => {
    lines.push('')
    lines.push(...wrap(`Cluster ${k + 1}: ${c.members.length} agents that a router can hardly tell apart${byProbes(report) ? ' (judged by probes)' : ''}`, width).map(bold))
    const inside = new Set(c.members)
    const links = report.pairs.filter((p) => p.nearDuplicate && inside.has(p.a) && inside.has(p.b))
    lines.push(`  ${dim('links')}`)
    for (const p of links.slice(0, MEMBER_LINES)) {
      lines.push(...joinFit([`${p.a} ↔ ${p.b}  ${bold(f2(p.score))}`, '', ...signalParts(p, report).map(dim)], ' ', width, '    ', '      '))
    }
    if (links.length > MEMBER_LINES) lines.push(dim(`    … ${links.length - MEMBER_LINES} more`))
    const nameWidth = Math.max(...c.members.slice(0, MEMBER_LINES).map((m) => m.length))
    lines.push(`  ${dim('what each has that the others lack')}`)
    for (const m of c.members.slice(0, MEMBER_LINES)) {
      const terms = c.distinctive[m] ?? []
      const wins = c.winsAlone?.[m]
      const winsText = wins === undefined ? '' : `wins alone: ${wins.length === 0 ? 'none' : `${wins.length} (${clip(wins, 6)})`}`
      // Word by word, so a line breaks between words; the wins go on after the terms, dimmed.
      const words = [...(terms.length > 0 ? terms.join(', ').split(' ') : [dim('(nothing of its own)')]), ...(winsText ? ['', ...winsText.split(' ').map(dim)] : [])]
      lines.push(...joinFit(words, ' ', width, `    ${m.padEnd(nameWidth)}  `, ' '.repeat(6 + nameWidth)))
    }
    if (c.members.length > MEMBER_LINES) lines.push(dim(`    … ${c.members.length - MEMBER_LINES} more members`))
    const across = links.flatMap((p) => p.evidence.routedAcross ?? [])
    if (across.length > 0) {
      lines.push(`  ${dim('routed across')}`)
      for (const r of across.slice(0, 6)) lines.push(...wrap(`${r.id}  expected ${r.expected} → routed to ${r.decision}`, width, '    ', '      '))
      if (across.length > 6) lines.push(dim(`    … ${across.length - 6} more`))
    }
    lines.push(...adviceLines(c, width, bold))
  })
  if (report.clusters.length > clusters.length) lines.push('', ...wrap(`… ${report.clusters.length - clusters.length} more clusters (--json has them all)`, width).map(dim))
  if (report.probes) lines.push('', ...probeLines(report.probes, width, style.color))

  if (report.lint.length > 0) {
    lines.push('')
    lines.push(bold(`Agent lint: ${report.lint.length} finding${report.lint.length === 1 ? '' : 's'}`))
    for (const f of report.lint) {
      const tag = f.severity === 'warning' ? paint(33, 'warning') : dim('info   ')
      lines.push(...wrap(`${tag} ${f.rule}  ${f.file}: ${f.message}`, width, '  ', '      '))
    }
  }
  const total = Object.values(report.tokens).reduce((s, n) => s + n, 0)
  const largest = Object.entries(report.tokens)
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))
    .slice(0, 3)
  if (largest.length > 0) {
    lines.push(...wrap(`descriptions ≈ ${total} tokens per routing call; largest: ${largest.map(([name, t]) => `${name} ${t}`).join(', ')}`, width).map(dim))
  }
  if (report.invalid.length > 0) {
    lines.push('')
    lines.push(paint(31, bold(`${report.invalid.length} agent file(s) Claude Code would drop`)))
    for (const f of report.invalid) lines.push(...wrap(`${f.file}:${f.line}  ${f.reason}`, width, '  ', '    '))
  }
  return lines.join('\n')
}

/**
 * A cluster's advice: the headline in bold, then its lines, each wrapped
 * under its own indent (a line's leading spaces nest it under the one before).
 * A summary written before the advice had lines shows its one suggestion.
 */
function adviceLines(c: OverlapCluster, width: number, bold: (t: string) => string): string[] {
  if (!c.advice) return wrap(`suggestion: ${c.suggestion}`, width, '  ', '    ')
  const out = wrap(`advice: ${c.advice.headline}`, width, '  ', '    ').map(bold)
  for (const line of c.advice.lines) {
    const nested = line.length - line.trimStart().length
    const indent = ' '.repeat(4 + nested)
    out.push(...wrap(line.trimStart(), width, indent, `${indent}  `))
  }
  return out
}

/** A link's evidence, one part per signal, for joinFit. */
function signalParts(p: OverlapPair, report: OverlapReport): string[] {
  const parts = [`text ${f2(p.text)}`]
  if (report.signals.includes('confusion') && p.confusion !== undefined) parts.push(`confusion ${f2(p.confusion)} (${p.evidence.routedAcross?.length ?? 0} routed across)`)
  if (report.signals.includes('coAcceptance') && p.coAcceptance !== undefined) parts.push(`co-accepted ${f2(p.coAcceptance)}`)
  if (report.signals.includes('splitVotes')) parts.push(`split votes ${p.splitVotes ?? 0}`)
  if (report.signals.includes('lowMargins')) parts.push(`low margins ${p.lowMargins ?? 0}`)
  parts.push(`shared: ${p.sharedTerms.slice(0, 6).join(', ')}`)
  return parts.map((x, i) => (i < parts.length - 1 ? `${x} ·` : x))
}

/**
 * The top pairs as a table that fits `width`: the pair (agent names are
 * never cut), its score and text score always; the run signals and the
 * shared terms give way, in that order, the terms cut first.
 */
function pairTable(shown: readonly OverlapPair[], report: OverlapReport, color: boolean, width: number): { text: string; width: number; leftOut: readonly string[]; columns: readonly string[] } {
  const paint = painter(color)
  const has = (s: OverlapReport['signals'][number]) => report.signals.includes(s)
  const num = (head: string, cells: string[]): FitColumn => ({ head, align: 'right', cells })
  const pair: FitColumn = { head: 'pair', cells: shown.map((p) => `${p.nearDuplicate ? paint(33, '● ') : '  '}${p.a} ↔ ${p.b}`) }
  const score = num('score', shown.map((p) => (p.nearDuplicate ? paint(1, f2(p.score)) : f2(p.score))))
  const text = num('text', shown.map((p) => f2(p.text)))
  const signals: FitColumn[] = [
    ...(has('confusion') ? [num('confusion', shown.map((p) => f2(p.confusion)))] : []),
    ...(has('coAcceptance') ? [num('co-accept', shown.map((p) => f2(p.coAcceptance)))] : []),
    ...(has('splitVotes') ? [num('split', shown.map((p) => String(p.splitVotes ?? 0)))] : []),
    ...(has('lowMargins') ? [num('low margin', shown.map((p) => String(p.lowMargins ?? 0)))] : []),
  ]
  const terms = (min: number): FitColumn => ({
    head: 'shared terms',
    cells: shown.map((p) => p.sharedTerms.slice(0, 5).join(', ')),
    min,
    cut: (_cell, w, row) => truncateList(shown[row]!.sharedTerms.slice(0, 5), w),
  })
  const names = signals.map((c) => c.head)
  const layouts: FitLayout[] = [
    { columns: [pair, score, text, ...signals, terms(20)] },
    { columns: [pair, score, text, ...signals], leftOut: ['shared terms'] },
    { columns: [pair, score, text, terms(16)], leftOut: names },
    { columns: [pair, score, text], leftOut: [...names, 'shared terms'] },
    { columns: [pair, score], leftOut: ['text', ...names, 'shared terms'] },
  ]
  const fitted = fitTable(layouts, width, { color })
  return { text: fitted.text, width: fitted.width, leftOut: fitted.leftOut, columns: layouts[fitted.layout]!.columns.map((c) => c.head) }
}

function clip(ids: readonly string[], k: number): string {
  return ids.length <= k ? ids.join(', ') : `${ids.slice(0, k).join(', ')}, …`
}

/** The dataset's cases the routing evidence left out, how many and why, in one line; undefined when none were. */
export function leftOutText(report: Pick<OverlapReport, 'leftOut'>): string | undefined {
  const n = report.leftOut?.fromDescription ?? 0
  if (n === 0) return undefined
  return `routing signals and advice leave out ${n} case${n === 1 ? '' : 's'} tagged ${FROM_DESCRIPTION_TAG}: the router reads ${n === 1 ? 'its prompt' : 'their prompts'} in the descriptions`
}

/** Whether the report's routing evidence is probe prompts rather than a labelled dataset. */
export const byProbes = (report: Pick<OverlapReport, 'evidence'>): boolean => report.evidence?.source === 'probes'

/** A pair's verdict in words, as the advice says it. */
export const VERDICT_WORDS: Readonly<Record<PairVerdict, string>> = {
  copy: 'one description written twice',
  confused: 'confused',
  unclear: 'not yet clear',
  'too-few': 'too few prompts to tell',
  apart: 'told apart',
}

/** "told apart: 13 of 15 right (95% 0.62–0.96)", "too few prompts to tell (n = 2)" */
export function probeVerdictText(p: Pick<ProbePair, 'verdict' | 'prompts' | 'right' | 'interval'>): string {
  if (p.verdict === 'too-few') return `${VERDICT_WORDS['too-few']} (n = ${p.prompts})`
  const record = p.prompts === 0 ? 'no prompts' : `${p.right} of ${p.prompts} right${p.interval ? ` (95% ${f2(p.interval[0])}–${f2(p.interval[1])})` : ''}`
  return `${VERDICT_WORDS[p.verdict]}: ${record}`
}

/** Where one agent's probe prompts went: "8 → itself 6, python-specialist 2". */
export function routedText(p: ProbePair, agent: string): string {
  const to = Object.entries(p.routed[agent] ?? {})
  const total = p.cases.filter((c) => c.expected === agent).length
  if (total === 0) return 'no prompts'
  const undecided = total - to.reduce((n, [, k]) => n + k, 0)
  return `${total} → ${[...to.map(([d, k]) => `${d === agent ? 'itself' : d} ${k}`), ...(undecided > 0 ? [`no decision ${undecided}`] : [])].join(', ')}`
}

/** Who wrote the probes and who routed them, in one line. */
export function probeSourceText(p: ProbeReport): string {
  const prompts = new Set(p.pairs.flatMap((x) => x.cases.map((c) => c.id))).size
  const who = p.from === 'claude' ? `drafted by ${p.model ?? 'Claude'}, up to ${p.perAgent} aimed at each agent` : "the descriptions' own <example> turns, which the router reads, so they flatter it: read \"told apart\" as an upper bound"
  return `${prompts} prompt${prompts === 1 ? '' : 's'} (${who}), routed by ${p.router}`
}

/** Prompts shown per probed pair that were sent to the other agent of the pair. */
const CROSSED_SHOWN = 3

/** The probed pairs: each pair's verdict, where each agent's prompts went, and the prompts that crossed. */
function probeLines(p: ProbeReport, width: number, color: boolean): string[] {
  const paint = painter(color)
  const bold = (t: string) => paint(1, t)
  const dim = (t: string) => paint(2, t)
  const lines = [bold(`Probes: ${p.pairs.length} pair${p.pairs.length === 1 ? '' : 's'} judged by where prompts aimed at each agent went`), ...wrap(probeSourceText(p), width, '  ').map(dim)]
  if (p.flaggedLeftOut > 0) lines.push(...wrap(`${p.flaggedLeftOut} more near-duplicate pair${p.flaggedLeftOut === 1 ? ' was' : 's were'} not probed (--probe-pairs raises the cap)`, width, '  ').map(dim))
  p.pairs.forEach((x, i) => {
    if (!x.flagged && (i === 0 || p.pairs[i - 1]!.flagged)) lines.push(dim('  just under the near-duplicate line:'))
    lines.push(...joinFit([`${x.flagged ? paint(33, '●') : ' '} ${x.a} ↔ ${x.b}`, dim(`text ${f2(x.text)}`), x.verdict === 'confused' ? paint(31, probeVerdictText(x)) : probeVerdictText(x)], '  ', width, '  ', '      '))
    const nameWidth = Math.max(x.a.length, x.b.length)
    for (const agent of [x.a, x.b]) lines.push(...wrap(routedText(x, agent), width, `      ${agent.padEnd(nameWidth)}  `, ' '.repeat(8 + nameWidth)).map((l, k) => (k === 0 ? l : dim(l))))
    // The prompts behind the verdict: those sent to the other agent of the pair (where the rest went is counted above).
    const crossed = x.cases.filter((c) => c.decision === (c.expected === x.a ? x.b : x.a))
    for (const c of crossed.slice(0, CROSSED_SHOWN)) lines.push(dim(truncate(`      ${c.id} → ${c.decision}: ${oneLine(c.prompt)}`, width)))
    if (crossed.length > CROSSED_SHOWN) lines.push(dim(`      … ${crossed.length - CROSSED_SHOWN} more sent across (--json lists every prompt)`))
  })
  return lines
}
