import Table from 'cli-table3'
import { agentDeltaFigures, type AgentChanges, type DatasetComparison, type Flip, type GateFailure } from '../gate/compare.js'
import { coverageCountsText, coverageFix, namesText, noOwnCasesText, unmeasured, type AgentCoverage } from '../gate/coverage.js'
import { baselineRefNote, baselineWhere } from '../gate/baseline-ref.js'
import type { GateOutcome } from '../gate/outcome.js'
import { f2, MOVED_F1, painter, signed } from '../text/format.js'

const list = (xs: readonly string[]) => (xs.length === 0 ? '—' : xs.join(', '))

/** A failed rule's message, with its fix when it has one. */
export const failureText = (f: GateFailure): string => (f.fix ? `${f.message}; ${f.fix}` : f.message)

/** Lines saying which agents changed since the baseline. */
export function changeLines(c: AgentChanges): string[] {
  const lines = [`agents changed: ${list(c.changed)} · added: ${list(c.added)} · removed: ${list(c.removed)}`]
  for (const bad of c.invalid) lines.push(`  ${bad.file}:${bad.line} would be dropped by Claude Code: ${bad.reason}`)
  return lines
}

/** One line of accuracy change with its uncertainty, the gate's headline. */
export function accuracyLine(c: DatasetComparison): string {
  const a = c.accuracy
  return `accuracy ${a.before.toFixed(3)} → ${a.after.toFixed(3)} (${signed(a.delta)}, 95% CI ${signed(a.interval[0])}…${signed(a.interval[1])}, McNemar p=${a.mcnemarP < 0.0001 ? a.mcnemarP.toExponential(1) : a.mcnemarP.toFixed(4)}); ${a.broke} broke, ${a.fixed} fixed, ${c.flaky.length} flaky${c.untested?.length ? `, ${c.untested.length} not re-tested` : ''}`
}

/** How a flip reads in a table: its direction, and whether it is noise, unstable, or its re-test unfinished. */
export function flipText(f: Flip): string {
  return `${f.direction === 'broke' ? 'right → wrong' : 'wrong → right'}${f.untested ? ' (not re-tested)' : f.flaky ? ' (flaky)' : f.stable ? '' : ' (unstable)'}`
}

const pValue = (p: number) => (p < 0.0001 ? p.toExponential(1) : p >= 0.9995 ? '1.0' : p.toFixed(p < 0.01 ? 4 : 2))

/**
 * The verdict in words, first: why it failed (the rule that matters most,
 * with its cases), and "although" when accuracy rose all the same; or what
 * passed on how many cases.
 */
export function verdictHeadline(o: GateOutcome): string {
  const compared = o.comparisons.reduce((n, c) => n + c.cases, 0)
  const incomplete = o.undecidedBaselineCases ? ` [baseline incomplete: ${o.undecidedBaselineCases} undecided case(s) not compared, allowed by --allow-incomplete]` : ''
  return verdictReason(o, compared, blindSpot(o)) + incomplete
}

/** The agents a changed-agent-cases failure names. */
const shortOfCases = (o: GateOutcome) => new Set(o.verdict.failures.filter((f) => f.rule === 'changed-agent-cases').flatMap((f) => f.agents))

/** The agents the change touches with no case of their own that no failure names already: what the verdict's line and the annotations add. */
export function unnoticed(o: GateOutcome): AgentCoverage[] {
  const failed = shortOfCases(o)
  return unmeasured(o.coverage).filter((a) => !failed.has(a.agent))
}

/** The agents the change touches that no rule could judge, said on the verdict's line. */
function blindSpot(o: GateOutcome): string {
  const unseen = unnoticed(o)
  return unseen.length > 0 ? ` — ${noOwnCasesText(unseen)}` : ''
}

/**
 * What the gate could see of the change: nothing when no agent was edited or added, one line when
 * each has cases of its own, else each agent's counts and the fix (`items`, indented or bulleted).
 */
export function coverageText(o: GateOutcome): { head: string; items: string[] } | undefined {
  const coverage = o.coverage
  if (coverage.length === 0) return undefined
  const short = new Set([...unmeasured(coverage).map((a) => a.agent), ...shortOfCases(o)])
  if (short.size === 0) {
    const counts = coverage.map((a) => `${a.agent} ${a.ownCases} (${a.ownRoutedToIt} routed to it${a.notCompared.labelled > 0 ? `; ${a.notCompared.labelled} not compared` : ''})`)
    return { head: `coverage: each agent the change edits or adds has cases of its own: ${counts.join(', ')}`, items: [] }
  }
  const names = coverage.filter((a) => short.has(a.agent)).map((a) => a.agent)
  // A changed-agent-cases failure carries its own fix.
  const failed = shortOfCases(o)
  const unfixed = coverage.filter((a) => short.has(a.agent) && !failed.has(a.agent))
  return {
    head: `coverage: the gate cannot see whether ${namesText(names)} still get${names.length === 1 ? 's its' : ' their'} own prompts`,
    items: [...coverage.map(coverageCountsText), ...(unfixed.length > 0 ? [`fix: ${coverageFix(unfixed)}`] : [])],
  }
}

/** The coverage block as the terminal prints it. */
export function coverageLines(o: GateOutcome): string[] {
  const c = coverageText(o)
  return c ? [c.head, ...c.items.map((l) => `  ${l}`)] : []
}

/** The verdict and why; `note` (what no rule could judge) goes before any "more failures below". */
function verdictReason(o: GateOutcome, compared: number, note: string): string {
  const pending = o.verdict.incomplete
  if (pending) {
    const rules = [...new Set(pending.failures.map((f) => f.rule))].join(', ')
    return `INCOMPLETE: ${pending.untested} flipped case${pending.untested === 1 ? ' was' : 's were'} not re-tested (see the note below); no rule failed on what was, and ${rules} would fail if ${pending.untested === 1 ? 'that flip holds' : 'those flips hold'}${note}`
  }
  const [first] = o.verdict.failures
  const c = o.comparisons.find((x) => x.path === first?.dataset) ?? o.comparisons[0]
  const change = c ? `accuracy ${c.accuracy.before < c.accuracy.after ? 'rose' : c.accuracy.before > c.accuracy.after ? 'fell' : 'held at'} ${c.accuracy.before.toFixed(3)}${c.accuracy.before === c.accuracy.after ? '' : ` → ${c.accuracy.after.toFixed(3)}`} (p = ${pValue(c.accuracy.mcnemarP)})` : ''
  if (!first) return `PASS: no rule failed on ${compared} compared case(s); ${change}${note}`
  const broke = c?.flips.filter((f) => f.direction === 'broke' && !f.flaky) ?? []
  const why =
    first.rule === 'stable-flips' || (first.rule === 'accuracy-drop' && broke.length > 0 && broke.length <= 3)
      ? `${broke.length} case${broke.length === 1 ? '' : 's'} that routed right now route${broke.length === 1 ? 's' : ''} wrong (${broke
          .slice(0, 3)
          .map((f) => `${f.id} → ${f.after}`)
          .join(', ')}${broke.length > 3 ? ', …' : ''})`
      : first.message
  const p = c ? ` (p = ${pValue(c.accuracy.mcnemarP)})` : ''
  const although = c && c.accuracy.after > c.accuracy.before ? `, although ${change}` : first.rule === 'accuracy-drop' ? p : `; ${change}`
  const more = o.verdict.failures.length > 1 ? ` (+${o.verdict.failures.length - 1} more rule failure${o.verdict.failures.length > 2 ? 's' : ''} below)` : ''
  return `FAIL: ${why}${although}${note}${more}`
}

/** Cases the gate routed but did not compare, because the dataset changed under them. */
export function uncomparedLine(c: DatasetComparison): string | undefined {
  if (c.added.length + c.removed.length + c.changed.length === 0) return undefined
  const right = (xs: DatasetComparison['added']) => `${xs.filter((x) => x.correct).length} right, ${xs.filter((x) => x.correct === false).length} wrong`
  return `compared ${c.cases} case(s) the baseline shares; not compared: ${c.added.length} new (${right(c.added)}), ${c.changed.length} relabelled or reworded (${right(c.changed)}), ${c.removed.length} removed`
}

export function renderGateText(o: GateOutcome, style: { color: boolean }): string {
  const paint = painter(style.color)
  const note = baselineRefNote(o.baselineRef)
  const lines: string[] = [paint(o.verdict.passed ? 32 : o.verdict.incomplete ? 33 : 31, verdictHeadline(o)), '', `gate · router ${o.routerId} · baseline ${baselineWhere(o.baselineFile, o.baselineRef)}`, ...(note ? [note] : []), ...changeLines(o.changes), ...coverageLines(o)]
  for (const c of o.comparisons) {
    lines.push('', paint(1, c.path), accuracyLine(c))
    const uncompared = uncomparedLine(c)
    if (uncompared) {
      lines.push(uncompared)
      const shown = [...c.added.map((x) => ({ ...x, what: 'new' })), ...c.changed.map((x) => ({ ...x, what: 'relabelled' }))]
      if (shown.length > 0) {
        const t = new Table({ head: ['case', '', 'expected', 'decision', ''], style: { head: [], border: [], compact: true } })
        for (const x of shown.slice(0, 25)) t.push([x.id, x.what, x.expected.join('|'), x.decision ?? '–', x.correct === null ? 'no decision' : x.correct ? 'right' : 'wrong'])
        lines.push(t.toString())
        if (shown.length > 25) lines.push(`…and ${shown.length - 25} more (report.md lists them all)`)
      }
    }
    const moved = c.perAgent.filter((a) => Math.abs(a.delta) >= MOVED_F1).sort((x, y) => x.delta - y.delta)
    if (moved.length > 0) {
      const t = new Table({ head: ['agent', 'support', 'F1 before', 'F1 after', 'Δ'], colAligns: ['left', 'right', 'right', 'right', 'right'], style: { head: [], border: [], compact: true } })
      for (const a of moved) {
        const x = agentDeltaFigures(a)
        t.push([a.label, String(a.support), f2(x.before.f1), f2(x.after.f1), signed(a.delta, 2)])
      }
      lines.push(t.toString())
    }
    if (c.flips.length > 0) {
      const t = new Table({ head: ['case', 'expected', 'before', 'after', ''], style: { head: [], border: [], compact: true } })
      for (const f of c.flips.slice(0, 25)) t.push([f.id, f.expected.join('|'), f.before ?? '–', f.after ?? '–', flipText(f)])
      lines.push(t.toString())
      if (c.flips.length > 25) lines.push(`…and ${c.flips.length - 25} more flips (report.md lists them all)`)
    }
  }
  lines.push('')
  for (const f of o.verdict.failures) lines.push(paint(31, `FAIL ${f.rule}${f.dataset ? ` (${f.dataset})` : ''}: ${failureText(f)}`))
  const pending = o.verdict.incomplete
  if (pending) lines.push(paint(33, `gate: INCOMPLETE (${pending.untested} flipped case${pending.untested === 1 ? '' : 's'} not re-tested; if they hold: ${pending.failures.map((f) => `${f.rule}${f.dataset ? ` (${f.dataset})` : ''}`).join(', ')})`))
  else lines.push(o.verdict.passed ? paint(32, 'gate: passed') : paint(31, `gate: FAILED (${o.verdict.failures.length} rule violation${o.verdict.failures.length > 1 ? 's' : ''})`))
  return lines.join('\n')
}
