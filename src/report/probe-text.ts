import { targetLabel } from '../draft/generate.js'
import { f2 } from '../text/format.js'
import { fitTable, wrap } from '../text/fit.js'
import { PROBE_PROMPT_TOKENS, type ProbeOutcome, type RoutingEstimate } from '../run/probe.js'
import { assemblyLines, costLine } from './generate-text.js'

/** What `overlap --probe` prints besides the overlap itself: the plan and its price (--dry-run), and what was drafted, routed and paid. */

type Style = { color: boolean; width: number }
const n = (x: number) => x.toLocaleString('en-US')

export function renderProbeDryRun(r: Extract<ProbeOutcome, { kind: 'dry-run' }>, style: Style): string {
  const flagged = r.pairs.filter((p) => p.flagged).length
  const lines = [
    ...wrap(
      `overlap --probe --dry-run: nothing sent · ${r.pairs.length} pair${r.pairs.length === 1 ? '' : 's'} (${flagged} near-duplicate, ${r.pairs.length - flagged} just under the line) · ${r.agents.length} agents · ${r.perAgent} prompts per agent`,
      style.width,
    ),
  ]
  for (const p of r.pairs) lines.push(`  ${p.flagged ? '●' : ' '} ${p.a} ↔ ${p.b}  text ${f2(p.text)}`)
  if (r.flaggedLeftOut > 0) lines.push(...wrap(`${r.flaggedLeftOut} more near-duplicate pairs are over --probe-pairs and not probed`, style.width, '  '))

  if (r.drafting) {
    const d = r.drafting
    const request = { head: 'drafting request', cells: d.plan.requests.map((p) => `${targetLabel(p.target)}${p.batch ? ` (${p.batch.index}/${p.batch.of})` : ''}`) }
    const prompts = { head: 'prompts', align: 'right' as const, cells: d.plan.requests.map((p) => String(p.asked)) }
    const input = { head: 'input tokens', align: 'right' as const, cells: d.perRequest.map((e) => n(e.inputTokens)) }
    const cost = { head: 'USD', align: 'right' as const, cells: d.perRequest.map((e) => (e.usd === undefined ? '–' : e.usd.toFixed(3))) }
    const table = fitTable([{ columns: [request, prompts, input, cost] }, { columns: [request, prompts, cost], leftOut: ['input tokens'] }], style.width, style)
    const asked = d.plan.requests.reduce((a, p) => a + p.asked, 0)
    const keep = [...d.plan.quotas.values()].reduce((a, b) => a + b, 0)
    lines.push('', ...wrap(`Drafting with ${d.model}: generate's requests for prompts aimed at an agent, ${n(d.estimate.requests)} asking for ${n(asked)} prompts, to keep ${n(keep)}.`, style.width), table.text)
    lines.push(...wrap(costLine(d.estimate, d.model), style.width))
    for (const l of d.batchLines ?? []) lines.push(...wrap(l, style.width, '', '  '))
  } else if (r.rows) {
    const per = new Map<string, number>()
    for (const row of r.rows) per.set(row.expected[0]!, (per.get(row.expected[0]!) ?? 0) + 1)
    const none = r.agents.filter((a) => !per.has(a))
    lines.push(
      '',
      ...wrap(`Probes from the descriptions' <example> turns (offline; the router reads these very words, so they flatter it): ${[...per].map(([a, k]) => `${a} ${k}`).join(', ')}${none.length > 0 ? `; none for ${none.join(', ')}` : ''}.`, style.width),
    )
  }
  lines.push('', ...wrap(routingLine(r.routing), style.width))
  for (const l of r.routing.batch ?? []) lines.push(...wrap(l, style.width, '', '  '))
  const total = (r.drafting?.estimate.usd ?? 0) + (r.routing.usd ?? 0)
  if (r.drafting) lines.push(...wrap(`Together ≈$${total.toFixed(2)}; --max-cost USD stops sending before drafting and routing together pass it. --json prints every request body.`, style.width))
  else if (r.routing.usd !== undefined) lines.push(...wrap('--max-cost USD stops sending before routing passes it. --json prints the first request body.', style.width))
  return lines.join('\n')
}

function routingLine(e: RoutingEstimate): string {
  const what = `${n(e.requests)} request${e.requests === 1 ? '' : 's'} (${n(e.prompts)} prompts × ${e.repeats} repeat${e.repeats === 1 ? '' : 's'}${e.fromJournal > 0 ? `, ${n(e.fromJournal)} already in the run journal` : ''})`
  if (!e.priced) return `Routing with ${e.router}: ${what}, routed locally, no cost.`
  const cost = e.usd === undefined ? 'no price known for this model' : `≈$${e.usd.toFixed(2)}`
  return `Routing with ${e.router}: up to ${what}, ≈${n(e.inputTokens)} input tokens, ${cost}${e.placeholder ? ` (each prompt counted at ${PROBE_PROMPT_TOKENS} tokens before it is drafted)` : ''}; the catalogue prefix written to the prompt cache once, then read.`
}

/** After the run: where the probes are, what drafting kept and dropped, and what drafting and routing cost. */
export function renderProbeDone(r: Extract<ProbeOutcome, { kind: 'done' }>, style: Style): string {
  const s = r.summary
  const aimed = new Set(r.rows.map((row) => row.expected[0]!).filter((a) => r.agents.includes(a))).size
  const lines = wrap(`probes: ${n(r.rows.length)} prompts aimed at ${aimed === r.agents.length ? '' : `${aimed} of `}the ${r.agents.length} agents of ${r.pairs.length} pairs, in ${r.file} (review them; corrected, they make a dataset for eval)`, style.width)
  const d = r.drafting
  if (d?.assembled) {
    lines.push(...assemblyLines(d.assembled, style, 'raise --probe-prompts'))
    const batched = d.batches && d.batches.length > 0 ? ` at the batch rate (${d.batches.length} message batch${d.batches.length === 1 ? '' : 'es'})` : ''
    lines.push(...wrap(`drafting (${d.model}): ${d.plan.requests.length} requests, ${d.cached ?? 0} answered from the cache, $${(d.spentUsd ?? 0).toFixed(4)} this run${batched}`, style.width, '  ', '    '))
  }
  const routed = s.requests
  lines.push(...wrap(`routing (${s.router.id}): ${n(routed.sent)} request${routed.sent === 1 ? '' : 's'} sent${routed.batched ? ` (${n(routed.batched)} in message batches)` : ''}, ${n(routed.fromCache)} from the run journal${s.cost ? `, $${s.cost.usdThisRun.toFixed(4)} this run` : ''}`, style.width, '  ', '    '))
  return lines.join('\n')
}
