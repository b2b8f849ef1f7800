import Table from 'cli-table3'
import type { AgentChanges, DatasetComparison } from '../gate/compare.js'
import type { GateOutcome } from '../gate/outcome.js'
import { MOVED_F1, painter, signed } from '../text/format.js'

const list = (xs: readonly string[]) => (xs.length === 0 ? '—' : xs.join(', '))

/** Lines saying which agents changed since the baseline. */
export function changeLines(c: AgentChanges): string[] {
  const lines = [`agents changed: ${list(c.changed)} · added: ${list(c.added)} · removed: ${list(c.removed)}`]
  for (const bad of c.invalid) lines.push(`  ${bad.file}:${bad.line} would be dropped by Claude Code: ${bad.reason}`)
  return lines
}

/** One line of accuracy change with its uncertainty, the gate's headline. */
export function accuracyLine(c: DatasetComparison): string {
  const a = c.accuracy
  return `accuracy ${a.before.toFixed(3)} → ${a.after.toFixed(3)} (${signed(a.delta)}, 95% CI ${signed(a.interval[0])}…${signed(a.interval[1])}, McNemar p=${a.mcnemarP < 0.0001 ? a.mcnemarP.toExponential(1) : a.mcnemarP.toFixed(4)}); ${a.broke} broke, ${a.fixed} fixed, ${c.flaky.length} flaky`
}

export function renderGateText(o: GateOutcome, style: { color: boolean }): string {
  const paint = painter(style.color)
  const lines: string[] = [`gate · router ${o.routerId} · baseline ${o.baselineFile}`, ...changeLines(o.changes)]
  for (const c of o.comparisons) {
    lines.push('', paint(1, c.path), accuracyLine(c))
    const moved = c.perAgent.filter((a) => Math.abs(a.delta) >= MOVED_F1).sort((x, y) => x.delta - y.delta)
    if (moved.length > 0) {
      const t = new Table({ head: ['agent', 'support', 'F1 before', 'F1 after', 'Δ'], colAligns: ['left', 'right', 'right', 'right', 'right'], style: { head: [], border: [], compact: true } })
      for (const a of moved) t.push([a.label, String(a.support), a.f1Before.toFixed(2), a.f1After.toFixed(2), signed(a.delta, 2)])
      lines.push(t.toString())
    }
    if (c.flips.length > 0) {
      const t = new Table({ head: ['case', 'expected', 'before', 'after', ''], style: { head: [], border: [], compact: true } })
      for (const f of c.flips.slice(0, 25)) t.push([f.id, f.expected.join('|'), f.before ?? '–', f.after ?? '–', `${f.direction === 'broke' ? 'right → wrong' : 'wrong → right'}${f.flaky ? ' (flaky)' : f.stable ? '' : ' (unstable)'}`])
      lines.push(t.toString())
      if (c.flips.length > 25) lines.push(`…and ${c.flips.length - 25} more flips (report.md lists them all)`)
    }
  }
  lines.push('')
  for (const f of o.verdict.failures) lines.push(paint(31, `FAIL ${f.rule}${f.dataset ? ` (${f.dataset})` : ''}: ${f.message}`))
  lines.push(o.verdict.passed ? paint(32, 'gate: passed') : paint(31, `gate: FAILED (${o.verdict.failures.length} rule violation${o.verdict.failures.length > 1 ? 's' : ''})`))
  return lines.join('\n')
}
