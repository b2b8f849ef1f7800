import { createHash } from 'node:crypto'
import path from 'node:path'
import { agentDeltaFigures, type DatasetComparison } from '../gate/compare.js'
import { FROM_DESCRIPTION_TAG, isFromDescription, NONE } from '../load/dataset.js'
import type { OverlapPair } from '../overlap/schema.js'
import { definedFigures, INVALID_LABEL } from '../score/metrics.js'
import { quantile } from '../score/stats.js'
import { byProbes, leftOutText, LOW_MARGIN_QUANTILE, probeSourceText, probeVerdictText, routedText, type ProbeReport } from '../overlap/index.js'
import { baselineRefNote, refSuffix } from '../gate/baseline-ref.js'
import type { GateOutcome } from '../gate/outcome.js'
import { ACCURACY_GAP_CALLOUT, f2, MOVED_F1, signed } from '../text/format.js'
import { accuracyLine, changeLines, coverageText, failureText, uncomparedLine, verdictHeadline } from './gate-text.js'
import { fromDescriptionCaveat } from './from-description.js'
import { whereLine } from './where.js'
import { wordDiff } from './html-diff.js'
import { html, jsonForScript, trusted, type Html, type Part } from './html-markup.js'
import { headlineIntervals, type HeadlineIntervals } from './html-stats.js'
import { REPORT_CSS } from './html-style.js'
import { REPORT_SCRIPT } from './page-bundle.generated.js'
import type { PageCase, PageData, PageFlip, PageSimilarity } from './page-data.js'
import type { Summary } from '../run/record.js'

/**
 * report.html: one self-contained page per run. Styles, script and data are
 * inline; a Content-Security-Policy forbids loading anything else, so it
 * opens from file:// with no network at all. The static parts (figures,
 * tables bounded by the number of agents, the description diff) are rendered
 * here through the escaping `html` tag; the parts that grow with the cases
 * (heatmaps, case lists, flips) are built in the browser from one JSON copy
 * of the data, a page of rows at a time. Same content as report.md, and more.
 */

export type HtmlOptions = {
  /** prompts by case id, for summaries written before summary.json kept them */
  prompts?: Pick<ReadonlyMap<string, string>, 'get'> | undefined
}

/** Agents shown in the similarity heatmap at most: clusters first, then the strongest pairs. */
export const SIMILARITY_CAP = 60
const ROUTED_ACROSS_SHOWN = 8
const MOST_CONFUSED_PAIRS = 10

const range = ([lo, hi]: readonly [number, number]) => `${f2(lo)}–${f2(hi)}`
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits

export function renderHtml(summary: Summary, gate?: GateOutcome, opts: HtmlOptions = {}): string {
  return [...renderHtmlChunks(summary, gate, opts)].join('')
}

/** Where the page's data goes, until the page around it is made. */
const DATA_SLOT = '\u0000page-data\u0000'

/**
 * report.html in pieces: the page before its data, the data a case at a
 * time, the page after it. At 100,000 cases the data is 20 MB of JSON; made
 * whole (with its escaped copy and the page around it) it left 200 MB for a
 * full collection to clear.
 */
export function* renderHtmlChunks(summary: Summary, gate?: GateOutcome, opts: HtmlOptions = {}): Generator<string> {
  const s = summary
  const promptOf = (id: string) => opts.prompts?.get(id) ?? ''
  // Each case's prompt: the page data takes it from the case itself; the few the overlap section quotes by id look it up in a map made then.
  let byId: Map<string, string> | undefined
  const prompts: PromptsById = { get: (id) => (byId ??= new Map(s.cases.map((c) => [c.id, c.prompt ?? promptOf(c.id)]))).get(id) }
  const intervals = headlineIntervals(s)
  const similarity = similarityData(s)
  const data = pageData(s, gate, prompts, similarity)

  const scriptHash = createHash('sha256').update(REPORT_SCRIPT).digest('base64')
  const csp = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'; img-src data:; base-uri 'none'; form-action 'none'`
  const title = `routecheck · ${path.basename(s.dataset.path)} · ${s.router.id}`
  const hasCost = s.usage !== null || s.cost !== null || s.latencyMs !== null
  const sections: Array<[string, string, boolean]> = [
    ['gate', 'Before / after', gate !== undefined],
    ['headline', 'Headline', true],
    ['agents', 'Per agent', true],
    ['confusion', 'Confusion', true],
    ['overlap', 'Overlap', true],
    ['cases', 'Misrouted cases', true],
    ['cost', 'Cost and latency', hasCost],
  ]

  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="routecheck ${s.tool.version}">
<title>${title}</title>
<link rel="icon" href="data:,">
<style>${trusted(REPORT_CSS)}</style>
</head>
<body>
<header class="top">
<h1>Routing report: <span class="mono">${s.dataset.path}</span></h1>
<p class="meta">Router <code>${s.router.id}</code> · ${plural(s.agents.length, 'agent')} · ${s.shard ? `shard ${s.shard.index}/${s.shard.count}: ${s.dataset.cases} of ${plural(s.shard.datasetCases, 'case')}` : plural(s.dataset.cases, 'case')} · ${plural(s.repeats, 'repeat')} · ${s.createdAt}</p>
${s.overlap.probes ? html`<p class="callout">A probe run (<code>routecheck overlap --probe</code>), not a labelled dataset: ${probeSourceText(s.overlap.probes)}. The figures say where requests aimed squarely at each agent go; the <a href="#probes">probed pairs</a> are judged by how often they cross over.</p>` : ''}
${s.invalidAgents.length > 0 ? html`<p class="callout bad">${plural(s.invalidAgents.length, 'agent file')} could not be read and ${s.invalidAgents.length === 1 ? 'was' : 'were'} left out (Claude Code would drop ${s.invalidAgents.length === 1 ? 'it' : 'them'} too): ${s.invalidAgents.map((f, i) => html`${i > 0 ? ', ' : ''}<code>${f.file}:${f.line}</code> ${f.reason}`)}</p>` : ''}
</header>
<nav class="toc" aria-label="Sections"><ul>${sections.filter(([, , on]) => on).map(([id, label]) => html`<li><a href="#${id}">${label}</a></li>`)}</ul></nav>
<main>
${gate ? gateSection(gate, s) : ''}
${headlineSection(s, intervals)}
${agentsSection(s)}
${confusionSection(s)}
${overlapSection(s, prompts, similarity)}
${casesSection(s)}
${hasCost ? costSection(s) : ''}
<footer>Generated by routecheck ${s.tool.version} from the run's summary.json. This file is self-contained: it loads nothing from anywhere.</footer>
</main>
<script type="application/json" id="data">${trusted(DATA_SLOT)}</script>
<script>${trusted(REPORT_SCRIPT)}</script>
</body>
</html>
`
  // The last one: the data script comes after every section (whose text is the run's), before only the page's own script.
  const at = page.value.lastIndexOf(DATA_SLOT)
  yield page.value.slice(0, at)
  yield* pageDataJson(data)
  yield page.value.slice(at + DATA_SLOT.length)
}

// ---------------------------------------------------------------- data for the script

/** `items.map(f)`, each made when it is read. */
function* mapLazily<T, U>(items: readonly T[], f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item)
}

type PromptsById = Pick<ReadonlyMap<string, string>, 'get'>

/** The page's data as jsonForScript writes it, with the cases' rows made and written one at a time. */
function* pageDataJson(data: PageDataOf): Generator<string> {
  const slot = JSON.stringify(DATA_SLOT)
  const rest = jsonForScript({ ...data, cases: DATA_SLOT })
  const at = rest.indexOf(slot)
  yield `${rest.slice(0, at)}[`
  let first = true
  for (const row of data.cases) {
    yield `${first ? '' : ','}${jsonForScript(row)}`
    first = false
  }
  yield `]${rest.slice(at + slot.length)}`
}

/** PageData with its cases' rows made as they are read. */
type PageDataOf = Omit<PageData, 'cases'> & { cases: Iterable<PageCase> }

function pageData(s: Summary, gate: GateOutcome | undefined, prompts: PromptsById, similarity: PageSimilarity): PageDataOf {
  const at = new Map(s.confusion.labels.map((l, i) => [l, i]))
  const cases = mapLazily(s.cases, (c) => {
    const row: PageCase = { i: c.id, p: c.prompt ?? prompts.get(c.id) ?? '', e: c.expected, d: c.decision, ok: c.correct === null ? null : c.correct ? 1 : 0 }
    // The cell the summary counted the case in, so the page need not know how.
    const credited = at.get(c.credited)
    const decided = c.decision === null ? undefined : at.get(c.invalid ? INVALID_LABEL : c.decision)
    if (credited !== undefined && decided !== undefined) row.k = [credited, decided]
    // One repeat voting for the decision is the common case; the script rebuilds it.
    const voted = Object.keys(c.votes).length
    const single = c.decision !== null && voted === 1 && c.votes[c.decision] === 1
    if (!single && voted > 0) row.v = c.votes
    if (c.runnerUp !== undefined) row.r = c.runnerUp
    if (c.margin !== undefined) row.m = round(c.margin)
    if (c.split) row.s = 1
    if (c.flipped) row.f = 1
    if (c.invalid) row.x = 1
    if (c.error !== undefined) row.err = c.error
    if (c.tags.length > 0) row.t = c.tags
    return row
  })
  const flips: Record<string, PageFlip[]> = {}
  for (const c of gate?.comparisons ?? []) {
    flips[c.path] = c.flips.map((f) => ({ i: f.id, e: f.expected, b: f.before, a: f.after, dir: f.direction, fl: f.flaky && !f.untested ? 1 : 0, st: f.stable ? 1 : 0, ...(f.untested ? { ut: 1 as const } : {}) }))
  }
  return {
    labels: s.confusion.labels,
    matrix: s.confusion.matrix,
    agentCount: s.perLabel.length,
    cases,
    similarity,
    flips,
  }
}

/**
 * The agents of the similarity heatmap, ordered so each cluster's members sit
 * together (by cluster, then name), then the rest by name. Past
 * SIMILARITY_CAP agents, the rest are those of the strongest pairs.
 */
function similarityData(s: Summary): PageSimilarity {
  const o = s.overlap
  const all = s.agents.map((a) => a.name)
  const chosen: string[] = []
  const clusterOf = new Map<string, number>()
  o.clusters.forEach((cl, k) => {
    for (const m of [...cl.members].sort()) {
      if (chosen.length >= SIMILARITY_CAP || clusterOf.has(m)) continue
      clusterOf.set(m, k)
      chosen.push(m)
    }
  })
  const inChosen = new Set(chosen)
  let rest: string[]
  if (all.length <= SIMILARITY_CAP) rest = all.filter((n) => !inChosen.has(n))
  else {
    const picked = new Set<string>()
    for (const p of [...o.pairs].sort((x, y) => y.score - x.score)) {
      for (const n of [p.a, p.b]) if (!inChosen.has(n) && chosen.length + picked.size < SIMILARITY_CAP) picked.add(n)
      if (chosen.length + picked.size >= SIMILARITY_CAP) break
    }
    rest = [...picked]
  }
  const names = [...chosen, ...rest.sort()]
  const at = new Map(names.map((n, i) => [n, i]))
  const pairs: PageSimilarity['pairs'] = []
  for (const p of o.pairs) {
    const a = at.get(p.a)
    const b = at.get(p.b)
    if (a === undefined || b === undefined) continue
    const { confusion, coAcceptance, nearDuplicate, sharedTerms } = p
    pairs.push({ a, b, score: round(p.score), text: round(p.text), confusion, coAcceptance, nearDuplicate, sharedTerms, routedAcross: (p.evidence.routedAcross ?? []).map((r) => r.id) })
  }
  return { names, cluster: names.map((n) => clusterOf.get(n) ?? -1), pairs, total: all.length }
}

// ---------------------------------------------------------------- pieces

function section(id: string, title: string, explain: Part, body: Part): Html {
  return html`<section class="part" id="${id}" aria-labelledby="${id}-h">
<h2 id="${id}-h">${title}</h2>
<p class="explain">${explain}</p>
${body}
</section>
`
}

/** A 95% interval as a small bar on [0, 1], with the point estimate as a tick. */
function ciBar(point: number, [lo, hi]: readonly [number, number], what: string): Html {
  const w = 80
  const x = (v: number) => round(Math.max(0, Math.min(1, v)) * w, 1)
  return html`<svg class="ci" width="${w}" height="12" viewBox="0 0 ${w} 12" role="img" aria-label="${what} ${f2(point)}, 95% interval ${range([lo, hi])}"><title>${what} ${f2(point)}, 95% interval ${range([lo, hi])}</title><rect class="track" x="0" y="5" width="${w}" height="2"/><rect class="range" x="${x(lo)}" y="2" width="${Math.max(1, x(hi) - x(lo))}" height="8" rx="2"/><rect class="point" x="${Math.min(w - 2, x(point))}" y="0" width="2" height="12"/></svg>`
}

function shareBar(share: number, label: string): Html {
  const w = 120
  return html`<svg class="bar" width="${w}" height="10" viewBox="0 0 ${w} 10" role="img" aria-label="${label}"><rect class="track" x="0" y="0" width="${w}" height="10" rx="2"/><rect class="fill" x="0" y="0" width="${round(Math.max(0, Math.min(1, share)) * w, 1)}" height="10" rx="2"/></svg>`
}

const chips = (terms: readonly string[]) => terms.map((t) => html`<span class="chip">${t}</span>`)

function figure(name: string, value: string, ci: Part, means: Part, alarm = false): Html {
  return html`<div class="figure${alarm ? ' alarm' : ''}"><div class="name">${name}</div><div class="value">${value}</div><div class="ci-text">${ci}</div><p class="means">${means}</p></div>`
}

// ---------------------------------------------------------------- sections

function headlineSection(s: Summary, iv: HeadlineIntervals): Html {
  const m = s.metrics
  const seen = fromDescriptionCaveat(s)
  const none = s.noneLabel
  const gap = m.accuracy - m.primaryAccuracy
  const figures: Html[] = [
    figure(
      'accuracy',
      f2(m.accuracy),
      `95% CI ${range(m.accuracyInterval)} (Wilson)`,
      html`share of the ${plural(m.decided, 'decided case')} routed to an acceptable agent${seen ? html`; <a href="#from-description">an upper bound</a>: ${seen.count} are the descriptions' own examples` : ''}`,
    ),
    figure('primary accuracy', f2(m.primaryAccuracy), `95% CI ${range(iv.primary)} (Wilson)`, "share routed to the labeller's first choice"),
    figure('macro-F1', f2(m.macroF1), iv.macroF1 ? `95% CI ${range(iv.macroF1)} (bootstrap)` : 'no interval', 'mean F1 over agents with support or predictions; every agent counts the same'),
    figure('micro-F1', f2(m.microF1), iv.microF1 ? `95% CI ${range(iv.microF1)} (bootstrap)` : 'no interval', 'F1 of all agent decisions pooled; busy agents weigh more'),
    none.support > 0
      ? figure(
          'none recall',
          f2(m.none.recall),
          html`95% CI ${range(none.recallInterval)} · false delegation ${f2(m.none.falseDelegationRate)} (${range([1 - none.recallInterval[1], 1 - none.recallInterval[0]])})`,
          html`share of the ${plural(none.support, 'out-of-scope prompt')} left to the main assistant; the rest were wrongly delegated`,
          m.none.falseDelegationRate > 0.5,
        )
      : figure('none recall', '—', 'no out-of-scope prompts', 'the dataset has no prompt labelled none, so false delegation is not measured'),
  ]
  if (s.repeats > 1) {
    figures.push(figure('flip rate', f2(m.flipRate), iv.flip ? `95% CI ${range(iv.flip)} (Wilson)` : '', html`share of cases whose ${s.repeats} repeats disagree; ${f2(m.splitRate)} were ties (split)`))
  }
  figures.push(
    figure(
      'errored',
      String(m.errored),
      `of ${plural(s.dataset.cases, 'case')}${m.invalid > 0 ? ` · ${m.invalid} invalid` : ''}`,
      m.errored > 0 ? 'cases whose every request failed: counted apart, never scored as a decision' : 'every case got a decision',
      m.errored > 0,
    ),
  )
  const callout =
    gap >= ACCURACY_GAP_CALLOUT
      ? html`<p class="callout">Accuracy is ${f2(gap)} above primary accuracy: the router often lands on <em>an</em> acceptable agent that is not the labeller's first choice. That is the signature of interchangeable agents, whose descriptions cover the same ground; see <a href="#overlap">Overlap</a> for which ones and what to do.</p>`
      : ''
  // Before the figures, not under them: whoever reads the accuracy reads what it is worth.
  const upperBound = seen ? html`<p class="callout" id="from-description"><strong>Upper bound.</strong> ${seen.text}.</p>` : ''
  return section(
    'headline',
    'Headline figures',
    'How often the router picked an acceptable agent, with 95% intervals: the true figure on more prompts like these would lie in that range 95 times out of 100.',
    html`${upperBound}<div class="figures">${figures}</div>${s.decisionKinds ? html`<p class="where">${whereLine(s.decisionKinds)}</p>` : ''}${callout}`,
  )
}

function agentsSection(s: Summary): Html {
  // By F1, best first; an agent with no F1 (nothing credited or routed to it) last, as the page's sort puts it.
  const f1Rank = (r: Summary['noneLabel']) => definedFigures(r).f1 ?? -1
  const rows = [...s.perLabel].sort((a, b) => f1Rank(b) - f1Rank(a) || (a.label < b.label ? -1 : 1))
  const confused = (r: Summary['noneLabel']) => r.confusedWith.slice(0, 2).map((c) => `→ ${c.label} ×${c.count}`).join(', ')
  // 0/0 is no figure: "–" with why, no interval bar (Wilson's 0–1 on no cases), and an empty sort value, which sorts last both ways.
  const rate = (x: number | undefined, why: string, bar?: (x: number) => Html) =>
    x === undefined ? html`<td class="num undefined" data-v=""><span title="${why}">–</span></td>` : html`<td class="num" data-v="${x}">${f2(x)}${bar?.(x) ?? ''}</td>`
  const row = (r: Summary['noneLabel'], label: string) => {
    const x = definedFigures(r)
    return html`<tr>
<th scope="row" class="agent" data-v="${r.label}">${label}</th>
${rate(x.precision, 'no case was routed to it', (p) => ciBar(p, r.precisionInterval, 'precision'))}
${rate(x.recall, 'no case is credited to it', (p) => ciBar(p, r.recallInterval, 'recall'))}
${rate(x.f1, 'no case was credited or routed to it')}
<td class="num" data-v="${r.support}">${r.support}</td>
<td class="num" data-v="${r.predicted}">${r.predicted}</td>
<td data-v="${r.confusedWith[0]?.count ?? 0}">${confused(r)}</td>
</tr>`
  }
  const head = (label: string, type: 'num' | 'text', cls = '', sort: 'descending' | 'none' = 'none') =>
    html`<th scope="col" class="${cls}" aria-sort="${sort}"><button type="button" class="sort" data-type="${type}">${label}</button></th>`
  return section(
    'agents',
    'Per agent',
    'Precision: of the cases routed to an agent, the share that were right for it. Recall: of the cases credited to it, the share it got. Bars show the point estimate and its 95% Wilson interval; – marks a figure with no cases to count (precision with none routed to the agent, recall with none credited to it), not a zero. Select a column header to sort.',
    html`<div class="table-wrap"><table class="data sortable" id="agents-table">
<thead><tr>${head('agent', 'text')}${head('precision', 'num', 'num')}${head('recall', 'num', 'num')}${head('F1', 'num', 'num', 'descending')}${head('support', 'num', 'num')}${head('predicted', 'num', 'num')}${head('most often confused with', 'num')}</tr></thead>
<tbody>${rows.map((r) => row(r, r.label))}</tbody>
<tfoot>${row(s.noneLabel, 'none (no subagent)')}</tfoot>
</table></div>
<p class="muted">Support: cases credited to the agent (an acceptable decision is credited to itself, a wrong one to the labeller's first choice). Predicted: cases routed to it. The none row counts prompts no subagent should take.</p>`,
  )
}

function confusionSection(s: Summary): Html {
  const invalid = s.confusion.labels.includes(INVALID_LABEL)
  return section(
    'confusion',
    'Confusion matrix',
    html`Rows are the credited label (the decision when it was acceptable, else the labeller's first choice), columns the router's decision, including <code>${NONE}</code>${invalid ? html` and <code>${INVALID_LABEL}</code> (a name that is not an agent)` : ''}. The diagonal is right; every other cell is a miss. Select a cell to list its prompts.`,
    html`<div class="legend"><span><span class="swatch" style="background: rgb(var(--hit-rgb) / .7)"></span>right</span><span><span class="swatch" style="background: rgb(var(--miss-rgb) / .7)"></span>wrong</span><span>colour strength: share of the row</span><span class="controls no-print" style="margin:0"><button type="button" id="confusion-all" hidden>Show all ${s.confusion.labels.length} labels</button></span><span id="confusion-note"></span></div>
<div id="confusion-grid"></div>
<div id="confusion-panel" class="panel" aria-live="polite"></div>`,
  )
}

function overlapSection(s: Summary, prompts: PromptsById, sim: PageSimilarity): Html {
  const o = s.overlap
  const SIGNAL_NAMES: Record<string, string> = { text: 'text', confusion: 'confusion', coAcceptance: 'co-acceptance', splitVotes: 'split votes', lowMargins: 'low margins' }
  const signals = o.signals.map((x) => SIGNAL_NAMES[x] ?? x).join(', ')
  const cut = (t: string, n = 140) => {
    const flat = t.replace(/\s+/g, ' ').trim()
    return flat.length > n ? `${flat.slice(0, n).trimEnd()}…` : flat
  }
  const subset = sim.names.length < sim.total ? html` Showing ${sim.names.length} of ${sim.total} agents: the clusters' members and the agents of the strongest pairs.` : ''
  const heat =
    sim.names.length >= 2
      ? html`<h3>Similarity</h3>
<p class="explain">The overlap score of each pair of agents: 0 is nothing in common, 0.20 or more a near-duplicate. Cluster members sit together, marked by a coloured edge on their names; outlined cells are pairs inside a cluster. Select a cell for the evidence.${subset}</p>
<div class="legend"><span><span class="swatch" style="background: rgb(var(--sim-rgb) / .25)"></span>weak</span><span><span class="swatch" style="background: rgb(var(--sim-rgb) / 1)"></span>strong</span></div>
<div id="similarity-grid"></div>
<div id="similarity-panel" class="panel" aria-live="polite"></div>`
      : html`<p>Only one agent: nothing to compare.</p>`

  const pairsOf = (members: readonly string[]) => {
    const set = new Set(members)
    return o.pairs.filter((p) => set.has(p.a) && set.has(p.b))
  }
  const signalText = (p: OverlapPair) =>
    [
      `text ${f2(p.text)}`,
      p.confusion !== undefined ? `confusion ${f2(p.confusion)}` : '',
      p.coAcceptance !== undefined ? `co-acceptance ${f2(p.coAcceptance)}` : '',
      p.splitVotes ? `${p.splitVotes} split` : '',
      p.lowMargins ? `${p.lowMargins} low-margin` : '',
    ]
      .filter(Boolean)
      .join(' · ')
  const routedList = (items: ReadonlyArray<{ id: string; expected: string; decision: string }>) => {
    const row = (r: { id: string; expected: string; decision: string }) =>
      html`<li><code>${r.id}</code> ${r.expected} → ${r.decision}: <span class="muted">${cut(prompts.get(r.id) ?? '')}</span></li>`
    const head = items.slice(0, ROUTED_ACROSS_SHOWN)
    const more = items.slice(ROUTED_ACROSS_SHOWN)
    return html`<ul>${head.map(row)}</ul>${more.length > 0 ? html`<details><summary>${more.length} more</summary><ul>${more.map(row)}</ul></details>` : ''}`
  }

  const probed = byProbes(o)
  const cards = o.clusters.map((cl, k) => {
    const links = pairsOf(cl.members).filter((p) => p.nearDuplicate)
    const across = pairsOf(cl.members).flatMap((p) => p.evidence.routedAcross ?? [])
    return html`<article class="card" aria-labelledby="cluster-${k}">
<h3 id="cluster-${k}">Cluster ${k + 1}: ${plural(cl.members.length, 'agent')} a router can hardly tell apart${probed ? html` <span class="badge probe">judged by probes</span>` : ''}</h3>
${adviceBlock(cl)}
<h4>Links</h4>
<ul>${links.map((p) => html`<li><span class="member">${p.a}</span> ↔ <span class="member">${p.b}</span> ${f2(p.score)} <span class="muted">(${signalText(p)})</span><br>shared: ${chips(p.sharedTerms)}</li>`)}</ul>
<h4>What each has that the others lack</h4>
<div class="table-wrap"><table class="data"><thead><tr><th scope="col">agent</th><th scope="col">distinctive terms</th><th scope="col">wins alone</th></tr></thead><tbody>
${cl.members.map((m) => {
  const wins = cl.winsAlone?.[m]
  return html`<tr><th scope="row" class="agent">${m}</th><td>${(cl.distinctive[m] ?? []).length > 0 ? chips(cl.distinctive[m]!) : html`<span class="muted">nothing of its own</span>`}</td><td>${wins === undefined ? '—' : wins.length === 0 ? html`<span class="wrong">none</span>` : html`${wins.length} <span class="muted mono">${wins.slice(0, 6).join(' ')}${wins.length > 6 ? ' …' : ''}</span>`}</td></tr>`
})}
</tbody></table></div>
${across.length > 0 ? html`<h4>Routed across (${across.length})</h4>${routedList(across)}` : ''}
</article>`
  })

  const confusedPairs = o.pairs
    .filter((p) => (p.evidence.routedAcross?.length ?? 0) > 0)
    .sort((a, b) => (b.evidence.routedAcross?.length ?? 0) - (a.evidence.routedAcross?.length ?? 0) || b.score - a.score)
    .slice(0, MOST_CONFUSED_PAIRS)
  const confusedTable =
    confusedPairs.length > 0
      ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">pair</th><th scope="col" class="num">routed across</th><th scope="col" class="num">confusion</th><th scope="col" class="num">co-acceptance</th><th scope="col" class="num">score</th><th scope="col" class="num">text</th><th scope="col">shared terms</th></tr></thead><tbody>
${confusedPairs.map(
  (p) => html`<tr><td class="agent">${p.a} ↔ ${p.b}</td><td class="num">${p.evidence.routedAcross!.length}</td><td class="num">${p.confusion !== undefined ? f2(p.confusion) : '—'}</td><td class="num">${p.coAcceptance !== undefined ? f2(p.coAcceptance) : '—'}</td><td class="num">${f2(p.score)}${p.nearDuplicate ? ' ●' : ''}</td><td class="num">${f2(p.text)}</td><td>${chips(p.sharedTerms.slice(0, 6))}
<details><summary>the cases</summary>${routedList(p.evidence.routedAcross!)}</details></td></tr>`,
)}
</tbody></table></div><p class="muted">● near-duplicate.</p>`
      : html`<p class="muted">No pair of agents had a case routed across it${o.signals.includes('confusion') ? '' : ' (the run signals were not computed)'}.</p>`

  const invalid = o.invalid.length > 0 ? o.invalid : s.invalidAgents
  const lint =
    o.lint.length + invalid.length > 0
      ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">severity</th><th scope="col">agent</th><th scope="col">file</th><th scope="col">rule</th><th scope="col">finding</th></tr></thead><tbody>
${invalid.map((f) => html`<tr><td><span class="badge warning">dropped</span></td><td>—</td><td class="mono">${f.file}:${f.line}</td><td>unreadable file</td><td>${f.reason}</td></tr>`)}
${o.lint.map((f) => html`<tr><td><span class="badge ${f.severity}">${f.severity}</span></td><td class="agent">${f.agent}</td><td class="mono">${f.file}</td><td class="nowrap">${f.rule}</td><td>${f.message}</td></tr>`)}
</tbody></table></div>`
      : html`<p class="muted">No findings.</p>`

  const descriptions = new Map(s.agents.map((a) => [a.name, a.description]))
  const tokenRows = Object.entries(o.tokens).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const totalTokens = tokenRows.reduce((n, [, t]) => n + t, 0)
  const maxTokens = Math.max(1, ...tokenRows.map(([, t]) => t))
  const tokens = html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">agent</th><th scope="col" class="num">tokens</th><th scope="col" class="num">share</th><th scope="col">description</th></tr></thead><tbody>
${tokenRows.map(([name, t]) => {
  const d = descriptions.get(name)
  return html`<tr><th scope="row" class="agent">${name}</th><td class="num">${t.toLocaleString('en-US')}</td><td class="num">${totalTokens > 0 ? `${Math.round((t / totalTokens) * 100)}%` : ''} ${shareBar(t / maxTokens, `${t} tokens`)}</td><td>${d !== undefined ? html`<details class="desc"><summary>${cut(d, 90)}</summary><pre class="desc">${d}</pre></details>` : html`<span class="muted">not in summary.json</span>`}</td></tr>`
})}
</tbody><tfoot><tr><th scope="row">all agents</th><td class="num">${totalTokens.toLocaleString('en-US')}</td><td></td><td class="muted">sent with every routing request</td></tr></tfoot></table></div>`

  return section(
    'overlap',
    'Overlap: which agents are near-duplicates',
    probed
      ? html`Every pair of agents is scored on the text of their descriptions and on how the router mixed up probe prompts aimed squarely at the agents of the probed pairs, not a labelled dataset (signals: ${signals}). Pairs that score high join into clusters, with what sets each member apart and what to do.`
      : html`Every pair of agents is scored on the text of their descriptions and, from this run, on how the router mixed them up (signals: ${signals}). Pairs that score high join into clusters, with what sets each member apart and what to do.`,
    html`${leftOutText(o) ? html`<p class="callout" id="overlap-left-out">${leftOutText(o)}.</p>` : ''}${o.signals.includes('lowMargins') ? marginNote(s, 'overlap') : ''}${heat}
<h3>Clusters (${o.clusters.length})</h3>
<p class="explain">Near-duplicate pairs joined into groups: the links between members with their shared terms, what each member has that the others lack, the prompts only it wins, the cases routed across, and a suggestion.</p>
${cards.length > 0 ? html`<div class="cards">${cards}</div>` : html`<p class="muted">No cluster: no two agents are near-duplicates.</p>`}
${o.probes ? probesBlock(o.probes, cut) : ''}
<h3>Most confused pairs</h3>
<p class="explain">Pairs the router mixed up most in this run: cases whose first-choice label is one agent and whose decision is the other.</p>
${confusedTable}
<h3>Lint</h3>
<p class="explain">Problems in the agent files: descriptions too short to route on or too long to pay for, names that differ from the file name, copied descriptions, files Claude Code would drop.</p>
${lint}
<h3>Description tokens</h3>
<p class="explain">Every description is sent with every routing request; estimated tokens (characters ÷ 4) per agent, largest first.</p>
${tokens}`,
  )
}

/** `overlap --probe`'s pairs: each one's verdict, where each agent's prompts went, and every prompt with its decision. */
function probesBlock(p: ProbeReport, cut: (t: string, n?: number) => string): Html {
  const row = (x: ProbeReport['pairs'][number]) => html`<tr><td class="agent">${x.a} ↔ ${x.b}</td><td>${x.flagged ? 'near-duplicate' : 'under the line'}</td><td class="num">${f2(x.text)}</td><td class="${x.verdict === 'confused' ? 'wrong' : ''}">${probeVerdictText(x)}</td><td><span class="agent">${x.a}</span>: ${routedText(x, x.a)}<br><span class="agent">${x.b}</span>: ${routedText(x, x.b)}
<details><summary>the ${plural(x.cases.length, 'prompt')}</summary><ul>${x.cases.map((c) => html`<li><code>${c.id}</code> ${c.expected} → <span class="${c.decision === c.expected ? '' : 'wrong'}">${c.decision ?? 'no decision'}</span>: <span class="muted">${cut(c.prompt)}</span></li>`)}</ul></details></td></tr>`
  return html`<h3 id="probes">Probes (${p.pairs.length})</h3>
<p class="explain">Pairs judged by probe prompts, not a labelled dataset: ${probeSourceText(p)}. A pair's verdict rests on the prompts aimed at either agent and routed to either: a router that cannot tell them apart sends half of them across.${p.flaggedLeftOut > 0 ? ` ${p.flaggedLeftOut} more near-duplicate pairs were not probed (--probe-pairs).` : ''}</p>
<div class="table-wrap"><table class="data"><thead><tr><th scope="col">pair</th><th scope="col">probed as</th><th scope="col" class="num">text</th><th scope="col">verdict</th><th scope="col">where each one's prompts went</th></tr></thead><tbody>
${p.pairs.map(row)}
</tbody></table></div>`
}

/**
 * A cluster's advice: the headline, then its lines as a list, a line
 * starting with spaces nested under the one before. A summary written
 * before the advice had lines shows its one suggestion.
 */
function adviceBlock(cl: Summary['overlap']['clusters'][number]): Html {
  if (!cl.advice) return html`<div class="suggestion"><strong>Suggestion.</strong> ${cl.suggestion}</div>`
  const items: Array<{ text: string; sub: string[] }> = []
  for (const line of cl.advice.lines) {
    if (/^\s/.test(line) && items.length > 0) items.at(-1)!.sub.push(line.trim())
    else items.push({ text: line, sub: [] })
  }
  return html`<div class="suggestion"><strong>Advice.</strong> ${cl.advice.headline}
<ul>${items.map((i) => html`<li>${i.text}${i.sub.length > 0 ? html`<ul>${i.sub.map((x) => html`<li>${x}</li>`)}</ul>` : ''}</li>`)}</ul></div>`
}

/**
 * What "margin" means, said where the margins are shown: the decision's
 * score minus the runner-up's, in the router's own units (BM25 for the
 * lexical router), with this run's low-margin line for scale.
 */
function marginNote(s: Summary, where: 'cases' | 'overlap'): Html | '' {
  const line = lowMarginLine(s, where)
  if (line === undefined) return ''
  const lexical = s.router.id === 'lexical'
  const units = lexical
    ? "the gap between the decision's BM25 score and the runner-up's (how strongly the prompt's words match each agent's name and description)"
    : "the gap between the router's scores for the decision and for the runner-up"
  const counted = where === 'overlap' && s.overlap.leftOut ? ` (of those the overlap counts: not the ${FROM_DESCRIPTION_TAG} ones)` : ''
  const scale = html`In this run a quarter of the cases decided between two agents${counted} have a margin under ${f2(line)}: a margin that small means the prompt nearly went to the runner-up${where === 'overlap' ? ', and counts as a low margin for the pair' : ''}; a large one, that the decision was clear-cut even when it was wrong.`
  return html`<p class="explain margin-note"><strong>Margin</strong>${lexical ? ' (lexical router)' : ''}: ${units}. ${scale}</p>`
}

/**
 * This run's low-margin line, once per summary and section: the quantile of the margins of cases decided between two agents, the
 * cases the overlap's low-margin signal ranks; for the overlap, only those it counts (from-description ones left out, as it leaves them).
 */
function lowMarginLine(s: Summary, where: 'cases' | 'overlap'): number | undefined {
  const key = where === 'overlap' && s.overlap.leftOut ? 'overlap' : 'cases'
  let kept = lowMarginLines.get(s)
  if (!kept) lowMarginLines.set(s, (kept = new Map()))
  if (kept.has(key)) return kept.get(key)
  const agents = new Set(s.agents.map((a) => a.name))
  const counted = (c: Summary['cases'][number]) => key === 'cases' || !isFromDescription(c)
  const margins = s.cases.flatMap((c) => (c.margin !== undefined && c.decision !== null && agents.has(c.decision) && c.runnerUp !== undefined && agents.has(c.runnerUp) && counted(c) ? [c.margin] : []))
  const line = margins.length === 0 ? undefined : quantile(margins, LOW_MARGIN_QUANTILE)
  kept.set(key, line)
  return line
}
const lowMarginLines = new WeakMap<Summary, Map<'cases' | 'overlap', number | undefined>>()

function casesSection(s: Summary): Html {
  const misrouted = s.cases.filter((c) => c.correct === false).length
  const split = s.cases.filter((c) => c.split || c.flipped).length
  const errored = s.cases.filter((c) => c.decision === null).length
  const problems = s.cases.filter((c) => c.correct === false || c.split || c.decision === null).length
  const labels = [...s.perLabel.map((l) => l.label), NONE]
  return section(
    'cases',
    'Misrouted and split cases',
    'The prompts the router got wrong, split on, or could not route, with the votes and the runner-up; filter by text or agent. Rows show 100 at a time.',
    html`<div class="controls">
<label for="case-filter">Filter</label><input type="search" id="case-filter" placeholder="text, case id, agent or tag" autocomplete="off">
<label for="case-kind">Show</label><select id="case-kind">
<option value="problems">misrouted, split or errored (${problems})</option>
<option value="misrouted">misrouted (${misrouted})</option>
<option value="split">split or flipped repeats (${split})</option>
<option value="errored">errored (${errored})</option>
<option value="all">all cases (${s.cases.length})</option>
</select>
<label for="case-agent">Agent</label><select id="case-agent"><option value="">any (expected or decided)</option>${labels.map((l) => html`<option value="${l}">${l}</option>`)}</select>
</div>
${marginNote(s, 'cases')}
<div id="cases-list"></div>`,
  )
}

function costSection(s: Summary): Html {
  const r = s.requests
  const u = s.usage
  const n = (x: number) => Math.round(x).toLocaleString('en-US')
  const items: Array<[string, string]> = [
    ['requests sent', n(r.sent)],
    ['retries', n(r.retries)],
    ['answered from the run journal', n(r.fromCache)],
    ['errored requests', n(r.errored)],
    ['not sent', n(r.notSent)],
  ]
  if (u) {
    items.push(['input tokens', n(u.inputTokens)], ['output tokens', n(u.outputTokens)], ['prompt-cache reads', n(u.cacheReadTokens)], ['prompt-cache writes', n(u.cacheWriteTokens)], ['cache-hit ratio', `${(u.cacheHitRatio * 100).toFixed(1)}% of input tokens`])
  }
  if (s.cost) items.push(['cost', `$${s.cost.usd.toFixed(4)} (${s.cost.model}); this run $${s.cost.usdThisRun.toFixed(4)}`])
  if (s.latencyMs) items.push(['latency p50', `${s.latencyMs.p50.toFixed(s.latencyMs.p50 < 10 ? 2 : 0)} ms`], ['latency p95', `${s.latencyMs.p95.toFixed(s.latencyMs.p95 < 10 ? 2 : 0)} ms`])
  return section(
    'cost',
    'Cost and latency',
    'What the run sent and what it cost: requests, retries and answers from the run journal, tokens and prompt-cache hits, and per-request latency (requests sent by this run only).',
    html`<dl class="kv">${items.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`,
  )
}

// ---------------------------------------------------------------- the gate's before / after

function gateSection(g: GateOutcome, s: Summary): Html {
  const v = g.verdict
  const note = baselineRefNote(g.baselineRef)
  const verdict = v.passed
    ? html`<div class="verdict pass" role="status">✓ Routing gate passed</div>`
    : v.incomplete
      ? html`<div class="verdict fail" role="status">Routing gate incomplete: ${plural(v.incomplete.untested, 'flipped case')} not re-tested</div>`
      : html`<div class="verdict fail" role="status">✗ Routing gate failed: ${plural(v.failures.length, 'rule violation')}</div>`
  const failures =
    v.failures.length > 0
      ? html`<h3>Failed rules</h3><div class="table-wrap"><table class="data"><thead><tr><th scope="col">rule</th><th scope="col">dataset</th><th scope="col">agents</th><th scope="col">why</th></tr></thead><tbody>
${v.failures.map((f) => html`<tr><td><span class="badge fail">${f.rule}</span></td><td class="mono">${f.dataset ?? '—'}</td><td class="agent">${f.agents.join(', ')}</td><td>${failureText(f)}</td></tr>`)}
</tbody></table></div>`
      : ''
  return section(
    'gate',
    'Before / after: the routing gate',
    html`This run compared case by case with the baseline <code>${g.baselineFile}</code>: which agents changed, whether routing got worse by the gate's rules, and which prompts flipped.`,
    html`${verdict}
<p><strong>${verdictHeadline(g)}</strong></p>
<p>Router <code>${g.routerId}</code> against <code>${g.baselineFile}</code>${refSuffix(g.baselineRef)}.</p>
${note ? html`<p class="callout" role="note">${note}</p>` : ''}
<ul>${changeLines(g.changes).map((l) => html`<li>${l.trim()}</li>`)}</ul>
${coverageBlock(g)}
${failures}
${g.comparisons.map(comparisonBlock)}
${descriptionDiffs(g, s)}`,
  )
}

/** What the gate could see of the change (gate-text's coverageText): a line, or each changed agent's counts and the fix. */
function coverageBlock(g: GateOutcome): Html {
  const c = coverageText(g)
  if (!c) return html``
  return c.items.length === 0 ? html`<p class="muted">${c.head}</p>` : html`<p><strong>${c.head}</strong></p><ul>${c.items.map((l) => html`<li>${l}</li>`)}</ul>`
}

function comparisonBlock(c: DatasetComparison): Html {
  const moved = c.perAgent.filter((a) => Math.abs(a.delta) >= MOVED_F1).sort((x, y) => x.delta - y.delta)
  const deltaClass = (d: number) => (d < 0 ? 'delta-neg' : d > 0 ? 'delta-pos' : '')
  const table =
    moved.length > 0
      ? html`<div class="table-wrap"><table class="data"><thead><tr><th scope="col">agent</th><th scope="col" class="num">support</th><th scope="col" class="num">F1 before</th><th scope="col" class="num">F1 after</th><th scope="col" class="num">Δ F1</th><th scope="col" class="num">recall before → after</th><th scope="col" class="num">precision before → after</th></tr></thead><tbody>
${moved.map((a) => {
  const x = agentDeltaFigures(a)
  return html`<tr><th scope="row" class="agent">${a.label}</th><td class="num">${a.support}</td><td class="num">${f2(x.before.f1)}</td><td class="num">${f2(x.after.f1)}</td><td class="num ${deltaClass(a.delta)}">${signed(a.delta, 2)}</td><td class="num">${f2(x.before.recall)} → ${f2(x.after.recall)}</td><td class="num">${f2(x.before.precision)} → ${f2(x.after.precision)}</td></tr>`
})}
</tbody></table></div>`
      : html`<p class="muted">No agent's F1 moved by ${MOVED_F1} or more.</p>`
  return html`<h3><span class="mono">${c.path}</span>: before / after</h3>
<p>${accuracyLine(c)}</p>
${uncomparedLine(c) ? html`<p>${uncomparedLine(c)}</p>` : ''}
<p class="muted">The interval is a paired bootstrap 95% interval of the accuracy change; the McNemar p-value says how likely a broke/fixed split this lopsided is by chance. Flaky cases (repeats disagree) are held at their baseline decision for the rules.</p>
<h4>Per-agent F1 change</h4>
${table}
<h4>Flipped cases (${c.flips.length})</h4>
<p class="explain">Cases that went from right to wrong or back since the baseline; flaky ones are noise, not regressions.</p>
<div data-flips="${c.path}"></div>`
}

function descriptionDiffs(g: GateOutcome, s: Summary): Html {
  const touched = [...g.changes.changed, ...g.changes.added, ...g.changes.removed]
  if (touched.length === 0) return html``
  const before = new Map((g.baselineAgents ?? []).map((a) => [a.name, a.description]))
  const after = new Map(s.agents.map((a) => [a.name, a.description]))
  const blocks = touched.sort().map((name) => {
    const b = before.get(name)
    const a = after.get(name)
    const kind = g.changes.added.includes(name) ? 'added' : g.changes.removed.includes(name) ? 'removed' : 'changed'
    if ((b === undefined && kind !== 'added') || (a === undefined && kind !== 'removed')) {
      return html`<h4>${name} <span class="muted">(${kind})</span></h4><p class="muted">${b === undefined ? "The baseline's description is not available here." : 'The current description is not in summary.json.'}</p>`
    }
    const parts = wordDiff(b ?? '', a ?? '')
    const same = parts.every((p) => p.op === 'same')
    return html`<h4>${name} <span class="muted">(${kind})</span></h4>
${same ? html`<p class="muted">The description's words are the same; another routing field (name or tools) changed.</p>` : ''}
<div class="diff">${parts.map((p) => (p.op === 'del' ? html`<del>${p.text}</del>` : p.op === 'ins' ? html`<ins>${p.text}</ins>` : p.text))}</div>`
  })
  return html`<h3>What changed in the descriptions</h3>
<p class="explain">Each changed agent's description, baseline against now, word by word: <del>removed words are struck through</del>, <ins>added words highlighted</ins>.</p>
<div class="descdiffs">${blocks}</div>`
}
