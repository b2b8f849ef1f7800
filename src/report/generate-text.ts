import { BOUNDARY_PER_PAIR, EXPLORE, targetLabel, type Assembled, type DropReason, type GenerationPlan } from '../draft/generate.js'
import { NONE } from '../load/dataset.js'
import type { ToolCallEstimate } from '../route/tool-call.js'
import { toolBatchDryRunLines } from '../run/batch-run.js'
import type { AppendTarget, GenerateResult } from '../run/generate.js'
import { fitTable, oneLine, wrap } from '../text/fit.js'

/** What `routecheck generate` prints: the plan and its price (--dry-run), or what was written and dropped. */

type Style = { color: boolean; width: number }

const n = (x: number) => x.toLocaleString('en-US')
const rowsText = (k: number) => `${n(k)} row${k === 1 ? '' : 's'}`
const usd = (x: number | undefined) => (x === undefined ? 'no price known for this model' : `$${x.toFixed(2)}`)

/** "120 for 15 agents (8 each), 40 boundary (4 for each of 10 pairs), 18 none, 8 Explore"; with --agent, only what it drafts */
function quotaLine(plan: GenerationPlan): string {
  const agents = plan.agents.length
  const parts = agents > 1 ? [`${plan.perAgent * agents} for ${agents} agents (${plan.perAgent} each)`] : agents === 1 ? [`${plan.perAgent} for 1 agent`] : []
  if (plan.pairs.length > 0) parts.push(`${BOUNDARY_PER_PAIR * plan.pairs.length} boundary (${BOUNDARY_PER_PAIR} for each of ${plan.pairs.length} near-duplicate pair${plan.pairs.length > 1 ? 's' : ''})`)
  for (const quota of [NONE, EXPLORE]) if (plan.quotas.has(quota)) parts.push(`${plan.quotas.get(quota)} ${quota}`)
  return parts.join(', ')
}

/** "15 agents" for a whole run; "python-engineer (1 of 15 agents)" for --agent, naming up to three. */
function draftedFor(plan: GenerationPlan, catalogueSize: number): string {
  if (plan.agents.length === catalogueSize) return `${catalogueSize} agents`
  const names = plan.agents.length <= 3 ? `${plan.agents.join(', ')} ` : ''
  const only = [NONE, EXPLORE].filter((q) => plan.quotas.has(q))
  return `${names}(${plan.agents.length} of ${catalogueSize} agents${only.length > 0 ? `; ${only.join(' and ')}` : ''})`.trimStart()
}

const appendLine = (a: AppendTarget | undefined): string[] => (a ? [`appends to ${a.file}${a.existingRows > 0 ? ` (${rowsText(a.existingRows)} there, kept as they are)` : ' (a new file)'}`] : [])

export function renderGenerateDryRun(r: Extract<GenerateResult, { kind: 'dry-run' }>, style: Style): string {
  const { plan, estimate, perRequest, model } = r
  const keep = [...plan.quotas.values()].reduce((a, b) => a + b, 0)
  const asked = plan.requests.reduce((a, p) => a + p.asked, 0)
  const request = { head: 'request', cells: plan.requests.map((p) => `${targetLabel(p.target)}${p.batch ? ` (${p.batch.index}/${p.batch.of})` : ''}`) }
  const prompts = { head: 'prompts', align: 'right' as const, cells: plan.requests.map((p) => String(p.asked)) }
  const input = { head: 'input tokens', align: 'right' as const, cells: perRequest.map((e) => n(e.inputTokens)) }
  const output = { head: 'output tokens', align: 'right' as const, cells: perRequest.map((e) => n(e.outputTokens)) }
  const cost = { head: 'USD', align: 'right' as const, cells: perRequest.map((e) => (e.usd === undefined ? '–' : e.usd.toFixed(3))) }
  // Agent names are never cut: the token columns give way first.
  const table = fitTable(
    [
      { columns: [request, prompts, input, output, cost] },
      { columns: [request, prompts, output, cost], leftOut: ['input tokens'] },
      { columns: [request, prompts, cost], leftOut: ['input tokens', 'output tokens'] },
    ],
    style.width,
    style,
  )
  const first = plan.requests[0]
  const lines = [
    ...wrap(`generate --dry-run: nothing sent · model ${model} · ${draftedFor(plan, r.loaded.catalogue.agents.length)} · ${plan.pairs.length} near-duplicate pair${plan.pairs.length === 1 ? '' : 's'}`, style.width),
    ...appendLine(r.append).flatMap((l) => wrap(l, style.width)),
    table.text,
    ...(table.leftOut.length > 0 ? [`not shown at ${style.width} columns: ${table.leftOut.join(', ')} (--json has them)`] : []),
    ...wrap(`${n(estimate.requests)} request${estimate.requests === 1 ? '' : 's'} asking for ${n(asked)} prompts, to keep ${n(keep)}: ${quotaLine(plan)}.`, style.width),
    ...wrap(costLine(estimate, model), style.width),
    ...(r.batch ? toolBatchDryRunLines(r.batch.preview, r.batch.plan).flatMap((l) => wrap(l, style.width, '', '  ')) : []),
  ]
  if (first) {
    lines.push('', ...wrap("The first request's prompt (each request's system text holds the task, the labelling rules and the catalogue; --json prints every request body):", style.width))
    for (const l of first.request.prompt.split('\n')) lines.push(...wrap(l, style.width, '  ', '    '))
  }
  return lines.join('\n')
}

export function costLine(e: ToolCallEstimate, model: string): string {
  return `Estimated ≈${n(e.inputTokens)} input and ≈${n(e.outputTokens)} output tokens: ≈${usd(e.usd)} at ${model}'s prices, an upper bound (no prompt cache counted, though the system text is the same in every request; output counted at 120 tokens a prompt). --max-cost USD stops sending before that.`
}

const REASONS: Record<DropReason, string> = {
  'over-quota': 'over their quota',
  'near-identical': 'near-identical to a kept prompt',
  'in-dataset': 'near-identical to a row already in the dataset',
  leakage: "copying a labelled agent's description",
  'unknown-label': 'labelled with no agent of the catalogue',
  'mixed-none': 'labelled none and an agent at once',
  empty: 'empty',
}

/** Drops worth reading one by one: the reviewer learns what the drafting got wrong. */
const LISTED: readonly DropReason[] = ['leakage', 'unknown-label', 'mixed-none']
const LISTED_MAX = 10

export function renderGenerated(r: Extract<GenerateResult, { kind: 'drafted' }>, style: Style): string {
  const { assembled: a, plan } = r
  const lines: string[] = []
  const kinds = countKinds(a, plan)
  const there = r.append && r.append.existingRows > 0 ? ` after its ${rowsText(r.append.existingRows)}, which are as they were` : ''
  if (r.file) lines.push(...wrap(`${r.append ? 'appended to' : 'wrote'} ${r.file}: ${n(a.rows.length)} labelled prompts for review (${kinds})${there}`, style.width, '', '  '))
  else if (r.append && nothingNew(r)) lines.push(...wrap(`appended nothing to ${r.append.file}: every prompt it would add is already in it (a rerun's answers come from the cache; --no-cache drafts new ones)`, style.width, '', '  '))
  else lines.push('wrote nothing: no drafted prompt survived')
  const repeated = a.dropped.some((d) => d.reason === 'in-dataset')
  lines.push(...assemblyLines(a, style, repeated ? 'a prompt already in the dataset is not added again; --no-cache drafts new ones' : 'raise --per-agent, or write the missing prompts by hand'))
  const batched = r.batches ? ` at the batch rate (${r.batches.length} message batch${r.batches.length === 1 ? '' : 'es'})` : ''
  lines.push(...wrap(`cost ${usd(r.spentUsd)} this run${batched} · ${plan.requests.length} requests, ${r.cached} answered from the cache · the plan: ${quotaLine(plan)}`, style.width, '  ', '    '))
  if (r.file) {
    lines.push(
      '',
      ...wrap("Review it before trusting a number from it: every row's note says why it is labelled so. Fix labels you disagree with, delete prompts no user would type, then:", style.width),
      `  npx routecheck eval --dataset ${r.file}`,
    )
  }
  return lines.join('\n')
}

/** What drafting kept and dropped (each leaked or mislabelled prompt by name), what fell short, and the requests that failed, one line per distinct failure. */
export function assemblyLines(a: Assembled, style: Style, shortHint: string): string[] {
  const lines: string[] = []
  const counts = new Map<DropReason, number>()
  for (const d of a.dropped) counts.set(d.reason, (counts.get(d.reason) ?? 0) + 1)
  const dropped = [...counts].sort((x, y) => y[1] - x[1]).map(([reason, k]) => `${k} ${REASONS[reason]}`)
  lines.push(...wrap(`drafted ${n(a.drafted)}, kept ${n(a.rows.length)}${dropped.length > 0 ? `; dropped ${dropped.join(', ')}` : ''}`, style.width, '  ', '    '))
  const listed = a.dropped.filter((d) => LISTED.includes(d.reason))
  for (const d of listed.slice(0, LISTED_MAX)) lines.push(...wrap(`dropped (${d.target}): "${oneLine(d.prompt).slice(0, 70)}${d.prompt.length > 70 ? '…' : ''}": ${d.detail}`, style.width, '    ', '      '))
  if (listed.length > LISTED_MAX) lines.push(`    …and ${listed.length - LISTED_MAX} more`)
  if (a.short.length > 0) lines.push(...wrap(`short of the plan: ${a.short.map((s) => `${s.quota} ${s.kept} of ${s.wanted}`).join(', ')}; ${a.failed.length > 0 ? 'requests that brought nothing are below' : shortHint}`, style.width, '  ', '    '))
  // One line per distinct failure: an unreachable server fails every request alike.
  const failures = new Map<string, string[]>()
  for (const f of a.failed) {
    const key = `${f.notSent ? 'not sent' : 'failed'}: ${f.error}`
    failures.set(key, [...(failures.get(key) ?? []), f.target])
  }
  for (const [what, targets] of failures) lines.push(...wrap(`${targets.length} request${targets.length > 1 ? 's' : ''} ${what} (${targets.slice(0, 4).join(', ')}${targets.length > 4 ? ', …' : ''})`, style.width, '  ', '    '))
  return lines
}

function countKinds(a: Assembled, plan: GenerationPlan): string {
  const boundary = a.rows.filter((row) => row.tags.includes('boundary')).length
  const none = a.rows.filter((row) => row.expected[0] === NONE && !row.tags.includes('boundary')).length
  const explore = a.rows.filter((row) => row.expected[0] === EXPLORE && !row.tags.includes('boundary')).length
  const agentRows = a.rows.length - boundary - none - explore
  return [`${agentRows} aimed at agents`, ...(plan.pairs.length > 0 ? [`${boundary} boundary`] : []), ...(plan.quotas.has(NONE) ? [`${none} none`] : []), ...(plan.quotas.has(EXPLORE) ? [`${explore} ${EXPLORE}`] : [])].join(', ')
}

/** --append, and every prompt that survived the other filters is in the dataset already: a rerun, nothing new to add, nothing failed. */
export function nothingNew(r: Extract<GenerateResult, { kind: 'drafted' }>): boolean {
  const a = r.assembled
  return r.append !== undefined && a.rows.length === 0 && a.failed.length === 0 && a.dropped.some((d) => d.reason === 'in-dataset')
}

export function renderFromExamples(r: Extract<GenerateResult, { kind: 'examples' }>, dryRun: boolean): string {
  const agents = new Set(r.rows.flatMap((row) => row.expected)).size
  return `${dryRun ? 'would write' : 'wrote'} ${r.file}: ${r.rows.length} rows from the <example> blocks of the descriptions (${agents} agents), tagged from-description`
}
