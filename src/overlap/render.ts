import Table from 'cli-table3'
import { f2, painter } from '../text/format.js'
import type { OverlapPair, OverlapReport } from './schema.js'

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
  const has = (s: OverlapReport['signals'][number]) => report.signals.includes(s)
  const lines: string[] = []
  const agents = Object.keys(report.tokens).length
  const near = report.pairs.filter((p) => p.nearDuplicate).length

  lines.push(bold('Overlap') + dim(`  ·  ${agents} agents  ·  signals: ${report.signals.join(', ')}  ·  ${near} near-duplicate pair${near === 1 ? '' : 's'} in ${report.clusters.length} cluster${report.clusters.length === 1 ? '' : 's'}`))

  const shown = report.pairs.slice(0, style.top ?? 15)
  if (shown.length > 0) {
    const head = ['pair', 'score', 'text', ...(has('confusion') ? ['confusion'] : []), ...(has('coAcceptance') ? ['co-accept'] : []), ...(has('splitVotes') ? ['split'] : []), ...(has('lowMargins') ? ['low margin'] : []), 'shared terms']
    const table = new Table({
      head,
      colAligns: head.map((h) => (h === 'pair' || h === 'shared terms' ? 'left' : 'right')),
      style: { head: style.color ? ['cyan'] : [], border: style.color ? ['grey'] : [], compact: true },
    })
    for (const p of shown) {
      table.push([
        `${p.nearDuplicate ? paint(33, '● ') : '  '}${p.a} ↔ ${p.b}`,
        p.nearDuplicate ? bold(f2(p.score)) : f2(p.score),
        f2(p.text),
        ...(has('confusion') ? [f2(p.confusion)] : []),
        ...(has('coAcceptance') ? [f2(p.coAcceptance)] : []),
        ...(has('splitVotes') ? [String(p.splitVotes ?? 0)] : []),
        ...(has('lowMargins') ? [String(p.lowMargins ?? 0)] : []),
        p.sharedTerms.slice(0, 5).join(', '),
      ])
    }
    lines.push(table.toString())
    lines.push(dim(`● near-duplicate · top ${shown.length} of ${report.pairs.length} pairs listed`))
  }

  const clusters = report.clusters.slice(0, style.clusters ?? 10)
  clusters.forEach((c, k) => {
    lines.push('')
    lines.push(bold(`Cluster ${k + 1}: ${c.members.length} agents that a router can hardly tell apart`))
    const inside = new Set(c.members)
    const links = report.pairs.filter((p) => p.nearDuplicate && inside.has(p.a) && inside.has(p.b))
    lines.push(`  ${dim('links')}`)
    for (const p of links.slice(0, MEMBER_LINES)) lines.push(`    ${p.a} ↔ ${p.b}  ${bold(f2(p.score))}  ${dim(signalSummary(p, report))}`)
    if (links.length > MEMBER_LINES) lines.push(dim(`    … ${links.length - MEMBER_LINES} more`))
    const nameWidth = Math.max(...c.members.slice(0, MEMBER_LINES).map((m) => m.length))
    lines.push(`  ${dim('what each has that the others lack')}`)
    for (const m of c.members.slice(0, MEMBER_LINES)) {
      const terms = c.distinctive[m] ?? []
      const wins = c.winsAlone?.[m]
      const winsText = wins === undefined ? '' : dim(`  wins alone: ${wins.length === 0 ? 'none' : `${wins.length} (${clip(wins, 6)})`}`)
      lines.push(`    ${m.padEnd(nameWidth)}  ${terms.length > 0 ? terms.join(', ') : dim('(nothing of its own)')}${winsText}`)
    }
    if (c.members.length > MEMBER_LINES) lines.push(dim(`    … ${c.members.length - MEMBER_LINES} more members`))
    const across = links.flatMap((p) => p.evidence.routedAcross ?? [])
    if (across.length > 0) {
      lines.push(`  ${dim('routed across')}`)
      for (const r of across.slice(0, 6)) lines.push(`    ${r.id}  expected ${r.expected} → routed to ${r.decision}`)
      if (across.length > 6) lines.push(dim(`    … ${across.length - 6} more`))
    }
    lines.push(...wrap(`suggestion: ${c.suggestion}`, width, '  ', '    '))
  })
  if (report.clusters.length > clusters.length) lines.push('', dim(`… ${report.clusters.length - clusters.length} more clusters (--json has them all)`))

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
    lines.push(dim(`descriptions ≈ ${total} tokens per routing call; largest: ${largest.map(([name, t]) => `${name} ${t}`).join(', ')}`))
  }
  if (report.invalid.length > 0) {
    lines.push('')
    lines.push(paint(31, bold(`${report.invalid.length} agent file(s) Claude Code would drop`)))
    for (const f of report.invalid) lines.push(...wrap(`${f.file}:${f.line}  ${f.reason}`, width, '  ', '    '))
  }
  return lines.join('\n')
}

function signalSummary(p: OverlapPair, report: OverlapReport): string {
  const parts = [`text ${f2(p.text)}`]
  if (report.signals.includes('confusion') && p.confusion !== undefined) parts.push(`confusion ${f2(p.confusion)} (${p.evidence.routedAcross?.length ?? 0} routed across)`)
  if (report.signals.includes('coAcceptance') && p.coAcceptance !== undefined) parts.push(`co-accepted ${f2(p.coAcceptance)}`)
  if (report.signals.includes('splitVotes')) parts.push(`split votes ${p.splitVotes ?? 0}`)
  if (report.signals.includes('lowMargins')) parts.push(`low margins ${p.lowMargins ?? 0}`)
  parts.push(`shared: ${p.sharedTerms.slice(0, 6).join(', ')}`)
  return parts.join(' · ')
}

function clip(ids: readonly string[], k: number): string {
  return ids.length <= k ? ids.join(', ') : `${ids.slice(0, k).join(', ')}, …`
}

/** Word-wraps one paragraph; ANSI codes count as zero width. */
function wrap(text: string, width: number, first: string, rest: string): string[] {
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length
  const out: string[] = []
  let line = first
  let empty = true
  for (const word of text.split(/\s+/)) {
    if (!empty && visible(line) + 1 + visible(word) > width) {
      out.push(line)
      line = rest + word
    } else line = empty ? line + word : `${line} ${word}`
    empty = false
  }
  out.push(line)
  return out
}
