import { agentDeltaFigures, type DatasetComparison } from '../gate/compare.js'
import { f2, MOVED_F1, NO_NONE_CASES } from '../text/format.js'
import { markdownCode, markdownText } from '../text/safe.js'
import { baselineRefNote, refSuffix } from '../gate/baseline-ref.js'
import type { GateOutcome } from '../gate/outcome.js'
import { accuracyLine, changeLines, coverageText, failureText, flipText, uncomparedLine, verdictHeadline } from './gate-text.js'
import { definedFigures } from '../score/metrics.js'
import { fromDescriptionCaveat } from './from-description.js'
import { whereParts } from './where.js'
import type { Summary } from '../run/record.js'
import { byProbes, probeSourceText, probeVerdictText, routedText } from '../overlap/index.js'

/** GitHub's step summary and comment limits are generous; 60 KB keeps us far inside them. */
export const MARKDOWN_LIMIT_BYTES = 60_000

const cell = markdownText

/**
 * report.md: the run as Markdown, for $GITHUB_STEP_SUMMARY or a PR comment.
 * With a gate outcome it leads with the verdict and the before/after.
 */
export function renderMarkdown(summaries: readonly Summary[], gate?: GateOutcome): string {
  const parts: string[] = []
  if (gate) parts.push(gateSection(gate))
  for (const s of summaries) parts.push(runSection(s))
  return fitToLimit(parts.join('\n\n'))
}

function gateSection(g: GateOutcome): string {
  const head = g.verdict.passed ? '## ✅ Routing gate passed' : g.verdict.incomplete ? '## ⚠️ Routing gate incomplete' : '## ❌ Routing gate failed'
  const note = baselineRefNote(g.baselineRef)
  // markdownText trims: the suffix's leading space goes outside it.
  const at = refSuffix(g.baselineRef).trim()
  const lines = [head, '', `**${cell(verdictHeadline(g))}**`, '', `Router ${markdownCode(g.routerId)} against ${markdownCode(g.baselineFile)}${at ? ` ${cell(at)}` : ''}.`, ...(note ? ['', `> ${cell(note)}`] : []), '', ...changeLines(g.changes).map((l) => `- ${cell(l.trim())}`)]
  const coverage = coverageText(g)
  if (coverage) lines.push(`- ${cell(coverage.head)}`, ...coverage.items.map((l) => `  - ${cell(l)}`))
  if (g.verdict.failures.length > 0) {
    lines.push('', '| rule | agents | why |', '| --- | --- | --- |')
    for (const f of g.verdict.failures) lines.push(`| ${f.rule} | ${cell(f.agents.join(', '))} | ${cell(failureText(f))} |`)
  }
  const pending = g.verdict.incomplete
  if (pending) {
    lines.push('', `Rules that fail if the ${pending.untested} flip(s) not re-tested hold (the gate's note says what finishes their re-tests):`, '', '| rule | agents | why |', '| --- | --- | --- |')
    for (const f of pending.failures) lines.push(`| ${f.rule} | ${cell(f.agents.join(', '))} | ${cell(`${f.dataset ? `${f.dataset}: ` : ''}${failureText(f)}`)} |`)
  }
  for (const c of g.comparisons) lines.push('', comparisonSection(c))
  return lines.join('\n')
}

function comparisonSection(c: DatasetComparison): string {
  const lines = [`### ${cell(c.path)}: before / after`, '', accuracyLine(c)]
  const uncompared = uncomparedLine(c)
  if (uncompared) {
    lines.push('', uncompared)
    const shown = [...c.added.map((x) => ({ ...x, what: 'new' })), ...c.changed.map((x) => ({ ...x, what: 'relabelled or reworded' }))]
    if (shown.length > 0) {
      lines.push('', '| case | | expected | decision | |', '| --- | --- | --- | --- | --- |')
      for (const x of shown) lines.push(`| ${cell(x.id)} | ${x.what} | ${cell(x.expected.join(', '))} | ${cell(x.decision ?? '–')} | ${x.correct === null ? 'no decision' : x.correct ? 'right' : 'wrong'} |`)
    }
  }
  const moved = c.perAgent.filter((a) => Math.abs(a.delta) >= MOVED_F1).sort((x, y) => x.delta - y.delta)
  if (moved.length > 0) {
    lines.push('', '| agent | support | F1 before | F1 after | Δ F1 | recall before → after |', '| --- | ---: | ---: | ---: | ---: | ---: |')
    for (const a of moved) {
      const x = agentDeltaFigures(a)
      lines.push(`| ${cell(a.label)} | ${a.support} | ${f2(x.before.f1)} | ${f2(x.after.f1)} | ${a.delta >= 0 ? '+' : ''}${f2(a.delta)} | ${f2(x.before.recall)} → ${f2(x.after.recall)} |`)
    }
  }
  if (c.flips.length > 0) {
    lines.push('', `<details><summary>${c.flips.length} flipped case(s)</summary>`, '', '| case | expected | before | after | |', '| --- | --- | --- | --- | --- |')
    for (const f of c.flips) lines.push(`| ${cell(f.id)} | ${cell(f.expected.join(', '))} | ${cell(f.before ?? '–')} | ${cell(f.after ?? '–')} | ${flipText(f)} |`)
    lines.push('', '</details>')
  }
  return lines.join('\n')
}

function runSection(s: Summary): string {
  const m = s.metrics
  const seen = fromDescriptionCaveat(s)
  const lines = [
    `## ${cell(s.dataset.path)}`,
    '',
    `Router ${markdownCode(s.router.id)} · ${s.agents.length} agents · ${s.shard ? `shard ${s.shard.index}/${s.shard.count}: ${s.dataset.cases} of ${s.shard.datasetCases} cases` : `${s.dataset.cases} cases`} · ${s.repeats} repeat(s)`,
    '',
    `**accuracy ${f2(m.accuracy)}** (95% CI ${f2(m.accuracyInterval[0])}–${f2(m.accuracyInterval[1])}) · primary ${f2(m.primaryAccuracy)} · macro-F1 ${f2(m.macroF1)} · ${m.none.support > 0 ? `none recall ${f2(m.none.recall)}` : NO_NONE_CASES}${m.errored > 0 ? ` · **${m.errored} errored**` : ''}`,
    ...(seen ? ['', `⚠️ ${cell(seen.text)}.`] : []),
    ...(s.decisionKinds ? ['', `Where the prompts went: ${cell(whereParts(s.decisionKinds).join(' · '))}`] : []),
    '',
    '| agent | precision | recall | F1 | support | most often confused with |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
  ]
  // By F1, best first; an agent with no case credited or routed to it has none ("–") and comes last.
  const f1Rank = (r: Summary['noneLabel']) => definedFigures(r).f1 ?? -1
  const rows = [...s.perLabel].sort((a, b) => f1Rank(b) - f1Rank(a))
  for (const r of [...rows, s.noneLabel]) {
    const top = r.confusedWith[0]
    const x = definedFigures(r)
    lines.push(`| ${cell(r.label)} | ${f2(x.precision)} | ${f2(x.recall)} | ${f2(x.f1)} | ${r.support} | ${top ? `${cell(top.label)} ×${top.count}` : ''} |`)
  }
  lines.push(...clusterLines(s))
  return lines.join('\n')
}

/** Clusters shown in report.md; report.html has them all. */
const MARKDOWN_CLUSTERS = 3

/** The near-duplicate clusters and their advice, the same words as the terminal and report.html. */
function clusterLines(s: Summary): string[] {
  const clusters = s.overlap.clusters
  const probes = probeLines(s)
  if (clusters.length === 0) return probes
  const lines = ['', `### Near-duplicate agents: ${clusters.length} cluster${clusters.length === 1 ? '' : 's'}${byProbes(s.overlap) ? ', judged by probes' : ''}`]
  clusters.slice(0, MARKDOWN_CLUSTERS).forEach((c, k) => {
    lines.push('', `**Cluster ${k + 1}** (${cell(c.members.join(', '))}): ${cell(c.advice?.headline ?? c.suggestion)}`, '')
    for (const line of c.advice?.lines ?? []) lines.push(`${/^\s/.test(line) ? '  ' : ''}- ${cell(line.trim())}`)
  })
  if (clusters.length > MARKDOWN_CLUSTERS) lines.push('', `_${clusters.length - MARKDOWN_CLUSTERS} more in report.html._`)
  return [...lines, ...probes]
}

/** `overlap --probe`'s pairs: each one's verdict and where each agent's prompts went; the prompts themselves are in report.html and summary.json. */
function probeLines(s: Summary): string[] {
  const p = s.overlap.probes
  if (!p) return []
  const lines = ['', `### Probes: ${p.pairs.length} pair${p.pairs.length === 1 ? '' : 's'} judged by probe prompts, not a labelled dataset`, '', cell(probeSourceText(p)) + '.', '', '| pair | | text | verdict | where the prompts aimed at each went |', '| --- | --- | ---: | --- | --- |']
  for (const x of p.pairs) lines.push(`| ${cell(x.a)} ↔ ${cell(x.b)} | ${x.flagged ? 'near-duplicate' : 'under the line'} | ${f2(x.text)} | ${cell(probeVerdictText(x))} | ${cell(`${x.a}: ${routedText(x, x.a)}; ${x.b}: ${routedText(x, x.b)}`)} |`)
  if (p.flaggedLeftOut > 0) lines.push('', `_${p.flaggedLeftOut} more near-duplicate pairs were not probed (--probe-pairs)._`)
  return lines
}

/** Keeps the file under the limit, cutting whole lines from the end and saying so. */
function fitToLimit(text: string): string {
  if (Buffer.byteLength(text) <= MARKDOWN_LIMIT_BYTES) return `${text}\n`
  const note = '\n\n_…cut to stay under 60 KB; summary.json and report.html have everything._\n'
  const lines = text.split('\n')
  let size = Buffer.byteLength(note)
  const kept: string[] = []
  for (const line of lines) {
    size += Buffer.byteLength(line) + 1
    if (size > MARKDOWN_LIMIT_BYTES) break
    kept.push(line)
  }
  // Close a <details> block the cut left open, so the rest of the page renders.
  const open = kept.filter((l) => l.startsWith('<details>')).length - kept.filter((l) => l === '</details>').length
  return `${kept.join('\n')}${open > 0 ? '\n\n</details>' : ''}${note}`
}
