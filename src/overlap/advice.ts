import { z } from 'zod'
import { probeSourceSchema, type ProbeSource } from '../load/config.js'
import { FROM_DESCRIPTION_TAG } from '../load/dataset.js'
import { fewestToBeatChance, wilsonInterval } from '../score/stats.js'
import { f2 } from '../text/format.js'

/**
 * One decision per cluster: merge (which agents into which), keep, or
 * reword, from the overlap analysis and whatever routing evidence there is
 * (a labelled dataset's decisions, or probe prompts). `eval`, `overlap`,
 * report.html and report.md all show what this returns, so they cannot
 * disagree on the same evidence.
 *
 * The evidence for a pair is the two-by-two block of the confusion matrix:
 * the prompts labelled for either agent (first choice) and routed to either.
 * On those, a router that cannot tell the two apart is right half the time.
 */

/** A router that cannot tell two agents apart picks the labelled one half the time. */
export const COIN_TOSS = 0.5

/**
 * Prompts a pair needs before its routing says anything: 4, the fewest on
 * which even a router that is never wrong beats a coin toss (Wilson 95%
 * lower bound of 4 of 4 is 0.51; of 3 of 3, 0.44). Under it a pair is "too
 * few prompts to tell", never a merge.
 */
export const MIN_PAIR_PROMPTS = fewestToBeatChance(COIN_TOSS)

/**
 * A pair is confused when even the top of its 95% interval is under 0.75,
 * halfway between a coin toss and a router that is always right: the
 * router is closer to guessing than to knowing. (Between that and a lower
 * bound over a coin toss, the pair is "not yet clear".)
 */
export const CONFUSED_BELOW = 0.75

/** Pairs named per verdict line, and members per rewrite list, before "and N more". */
export const ADVICE_LIST = 6

export const pairVerdicts = ['copy', 'confused', 'unclear', 'too-few', 'apart'] as const
export type PairVerdict = (typeof pairVerdicts)[number]

const pairAdviceSchema = z.strictObject({
  a: z.string(),
  b: z.string(),
  /** copy: one description written twice; confused / unclear / apart: what the routing says; too-few: under MIN_PAIR_PROMPTS */
  verdict: z.enum(pairVerdicts),
  text: z.number(),
  /** prompts labelled for either (first choice) and routed to either; right: routed to the labelled one */
  prompts: z.number().int(),
  right: z.number().int(),
  /** 95% Wilson interval of right / prompts, when there were any */
  interval: z.tuple([z.number(), z.number()]).optional(),
})
export type PairAdvice = z.infer<typeof pairAdviceSchema>

export const clusterAdviceSchema = z.strictObject({
  action: z.enum(['merge', 'keep', 'reword']),
  /** what the routing evidence came from: none (the descriptions alone), a labelled dataset, or probe prompts */
  evidence: z.enum(['descriptions', 'dataset', 'probes']),
  /** the datasets (or probe sets) the routing evidence came from */
  sources: z.array(z.string()),
  /** with probe evidence, who wrote the prompts: Claude, or the descriptions' own <example> turns, which the router reads (so "told apart" is an upper bound) */
  probesFrom: probeSourceSchema.optional(),
  /** prompts labelled for a member (first choice) tagged from-description, left out of the evidence: the router reads them in the descriptions (absent when none) */
  fromDescription: z.number().int().optional(),
  /** prompts labelled for a member (first choice) and routed to a member, and how many reached the labelled one */
  prompts: z.number().int(),
  right: z.number().int(),
  merges: z.array(z.strictObject({ into: z.string(), members: z.array(z.string()) })),
  pairs: z.array(pairAdviceSchema),
  /** per member that stays: what to lead with (its own terms), what to say later (what most of the others say too), what to drop (praise) */
  rewrite: z.record(z.string(), z.strictObject({ lead: z.array(z.string()), later: z.array(z.string()), drop: z.array(z.string()) })),
  headline: z.string(),
  lines: z.array(z.string()),
})
export type ClusterAdvice = z.infer<typeof clusterAdviceSchema>

export type AdviceInput = {
  /** the cluster's members, sorted */
  members: readonly string[]
  /** the pair's text score, on the near-duplicate line's scale (names and descriptions) */
  text: (a: string, b: string) => number
  /** the descriptions alone: whether one was written twice is a question of the descriptions, not the names */
  copyText: (a: string, b: string) => number
  /** per member: its own terms, the terms most of the others share, its puffery */
  terms: Readonly<Record<string, { lead: readonly string[]; later: readonly string[]; drop: readonly string[] }>>
  routing?:
    | {
        source: 'dataset' | 'probes'
        /** where the prompts came from: dataset paths, or the probe set */
        of: readonly string[]
        /** probes: who wrote them (the descriptions' examples flatter the router) */
        from?: ProbeSource | undefined
        /** per member: prompts labelled for it first and routed to it */
        wins: (member: string) => number
        /** prompts labelled for one of the two first and routed to the other */
        across: (a: string, b: string) => number
      }
    | undefined
  /** a dataset's cases tagged from-description, left out of `routing`: per member, those labelled for it first; and the datasets */
  fromDescription?:
    | {
        count: (member: string) => number
        of: readonly string[]
      }
    | undefined
  /** the text score from which two descriptions are one written twice, and the near-duplicate line */
  mergeText: number
  nearDuplicate: number
}

const codeUnitOrder = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0)

/** The advice for one cluster. Pure: same input, same advice, same words. */
export function adviseCluster(input: AdviceInput): ClusterAdvice {
  const { members } = input
  const leftOut = members.reduce((n, m) => n + (input.fromDescription?.count(m) ?? 0), 0)
  // Every prompt for the members left out: no routing evidence, as with no dataset at all.
  const routing = input.routing && leftOut > 0 && insideOf(members, input.routing).prompts === 0 ? undefined : input.routing
  const wins = (m: string) => routing?.wins(m) ?? 0

  const pairs: PairAdvice[] = []
  for (let i = 0; i < members.length; i++) {
    for (let j = i + 1; j < members.length; j++) {
      const [a, b] = [members[i]!, members[j]!]
      pairs.push(judgePair(a, b, { text: input.text(a, b), copyText: input.copyText(a, b) }, routing ? wins(a) + wins(b) : 0, routing?.across(a, b) ?? 0, input.mergeText))
    }
  }

  // A pair merges when its descriptions are one written twice, or when they overlap and the router is shown to confuse them.
  const mergeEdge = (p: PairAdvice) => p.verdict === 'copy' || (p.verdict === 'confused' && p.text >= input.nearDuplicate)
  const merges = mergeGroups(members, pairs.filter(mergeEdge), wins, input.text)
  const merged = new Set(merges.flatMap((g) => g.members))
  const staying = members.filter((m) => !merged.has(m))

  const inside = insideOf(members, routing)

  const action: ClusterAdvice['action'] = merges.length > 0 ? 'merge' : routing && pairs.every((p) => p.verdict === 'apart') ? 'keep' : 'reword'
  const rewrite = Object.fromEntries(staying.map((m) => [m, { lead: [...(input.terms[m]?.lead ?? [])], later: [...(input.terms[m]?.later ?? [])], drop: [...(input.terms[m]?.drop ?? [])] }]))
  const advice: Omit<ClusterAdvice, 'headline' | 'lines'> = {
    action,
    evidence: routing?.source ?? 'descriptions',
    sources: [...(routing?.of ?? [])].sort(), // sorted: eval (config order) and overlap RUN_DIR… (folder order) then say the same
    ...(routing?.source === 'probes' && routing.from ? { probesFrom: routing.from } : {}),
    ...(leftOut > 0 ? { fromDescription: leftOut } : {}),
    ...inside,
    merges,
    pairs,
    rewrite: staying.length >= 2 ? rewrite : {},
  }
  return { ...advice, ...adviceText(advice, members, wins, [...(input.fromDescription?.of ?? [])].sort()) }
}

/** The cluster's block of the confusion matrix: prompts labelled for a member and routed to a member, and how many reached the labelled one. */
function insideOf(members: readonly string[], routing: AdviceInput['routing']): { prompts: number; right: number } {
  if (!routing) return { prompts: 0, right: 0 }
  let right = 0
  let across = 0
  for (const m of members) right += routing.wins(m)
  for (let i = 0; i < members.length; i++) for (let j = i + 1; j < members.length; j++) across += routing.across(members[i]!, members[j]!)
  return { prompts: right + across, right }
}

/** One pair's verdict from its text score and its two-by-two block: the same judgement for a cluster's pairs and for probed pairs outside any cluster. */
export function judgePair(a: string, b: string, scores: { text: number; copyText: number }, right: number, across: number, mergeText: number): PairAdvice {
  const prompts = right + across
  const interval = prompts > 0 ? wilsonInterval(right, prompts) : undefined
  const base = { a, b, text: scores.text, prompts, right, ...(interval ? { interval } : {}) }
  if (scores.copyText >= mergeText) return { ...base, verdict: 'copy' }
  if (prompts < MIN_PAIR_PROMPTS || !interval) return { ...base, verdict: 'too-few' }
  if (interval[0] > COIN_TOSS) return { ...base, verdict: 'apart' }
  if (interval[1] < CONFUSED_BELOW) return { ...base, verdict: 'confused' }
  return { ...base, verdict: 'unclear' }
}

/**
 * Members joined by merge edges, each group merged into one keeper: the
 * member the router already sends most of its own prompts to, then the one
 * closest in text to the rest of its group, then the first by name.
 */
function mergeGroups(members: readonly string[], edges: readonly PairAdvice[], wins: (m: string) => number, text: (a: string, b: string) => number): ClusterAdvice['merges'] {
  const parent = new Map(members.map((m) => [m, m]))
  const find = (x: string): string => (parent.get(x) === x ? x : find(parent.get(x)!))
  for (const e of edges) {
    const [x, y] = [find(e.a), find(e.b)]
    if (x !== y) parent.set(codeUnitOrder(x, y) < 0 ? y : x, codeUnitOrder(x, y) < 0 ? x : y)
  }
  const groups = new Map<string, string[]>()
  for (const m of members) {
    const r = find(m)
    groups.set(r, [...(groups.get(r) ?? []), m])
  }
  const out: ClusterAdvice['merges'] = []
  for (const group of groups.values()) {
    if (group.length < 2) continue
    const closeness = (m: string) => group.reduce((s, o) => (o === m ? s : s + text(m, o)), 0)
    const keeper = [...group].sort((x, y) => wins(y) - wins(x) || closeness(y) - closeness(x) || codeUnitOrder(x, y))[0]!
    out.push({ into: keeper, members: group.filter((m) => m !== keeper) })
  }
  return out.sort((x, y) => codeUnitOrder(x.into, y.into))
}

const listOf = (items: readonly string[], k = ADVICE_LIST) => (items.length <= k ? items.join(', ') : `${items.slice(0, k).join(', ')} and ${items.length - k} more`)
const quoted = (terms: readonly string[]) => `"${terms.join(', ')}"`
const interval = (p: { interval?: readonly [number, number] | undefined }) => (p.interval ? `95% ${f2(p.interval[0])}–${f2(p.interval[1])}` : '')
const record = (p: PairAdvice) => `${p.right} of ${p.prompts} right, ${interval(p)}`
const pairName = (p: PairAdvice) => `${p.a} ↔ ${p.b}`

/** The advice in words: a headline and its lines, the same wherever it is shown. */
function adviceText(a: Omit<ClusterAdvice, 'headline' | 'lines'>, members: readonly string[], wins: (m: string) => number, leftOutOf: readonly string[]): { headline: string; lines: string[] } {
  const k = members.length
  const by = (v: PairVerdict) => a.pairs.filter((p) => p.verdict === v).sort((x, y) => y.text - x.text || codeUnitOrder(pairName(x), pairName(y)))
  const lines: string[] = []
  const routed = a.evidence !== 'descriptions'
  const seen = a.fromDescription ?? 0
  const seenOf = leftOutOf.length > 0 ? ` of ${listOf(leftOutOf, 3)}` : ''

  // The evidence first: what the routing says about the cluster as a whole.
  if (routed) {
    const prompts = a.prompts === 1 ? 'prompt' : 'prompts'
    // Examples the router reads in the descriptions route right by matching words it was shown: "told apart" on them is the best case.
    const flattering = a.probesFrom === 'examples' ? " (the descriptions' own examples: an upper bound)" : ''
    const from = a.evidence === 'probes' ? `probe ${prompts}${flattering}` : a.sources.length > 0 ? `${prompts} of ${listOf(a.sources, 3)}` : prompts
    // A probe prompt is aimed at an agent (its drafter's first label); a dataset's is labelled by a reviewer.
    const [aimed, target] = a.evidence === 'probes' ? ['aimed at', 'the one aimed at'] : ['labelled for', 'the labelled one']
    const rate = a.prompts > 0 ? `; ${a.right} reached ${target} (${f2(a.right / a.prompts)}, 95% ${wilsonInterval(a.right, a.prompts).map(f2).join('–')}; picking at random ${f2(1 / k)})` : ''
    lines.push(`evidence: ${a.prompts} ${from} ${aimed} one of the ${k} and routed to one of them${rate}`)
    if (seen > 0) lines.push(`left out: ${seen} more prompt${seen === 1 ? '' : 's'}${seenOf} labelled for one of them, tagged ${FROM_DESCRIPTION_TAG}: the router reads ${seen === 1 ? 'it' : 'them'} in the descriptions, so routed right ${seen === 1 ? 'it shows' : 'they show'} only that it matches words it was shown`)
  } else if (seen > 0) {
    lines.push(
      `evidence: the descriptions alone, no routing evidence yet: the ${seen} prompt${seen === 1 ? '' : 's'}${seenOf} labelled for one of them ${seen === 1 ? 'is' : 'are all'} tagged ${FROM_DESCRIPTION_TAG}, and the router reads ${seen === 1 ? 'it' : 'them'} in the descriptions; draft prompts it has not seen (routecheck generate, then review them) or write your own, and eval them: their routing tells which to merge`,
    )
  } else {
    lines.push('evidence: the descriptions alone; routing evidence (routecheck overlap RUN_DIR, with the run folders eval wrote) tells which to merge')
  }

  for (const g of a.merges) {
    const why = g.members.map((m) => {
      const p = a.pairs.find((q) => (q.a === m && q.b === g.into) || (q.b === m && q.a === g.into))
      if (p?.verdict === 'copy') return `${m}: one description written twice (text ${f2(p.text)})`
      if (p?.verdict === 'confused') return `${m}: the router cannot tell them apart (${record(p)})`
      return `${m}: through the agents it is merged with`
    })
    const keep = routed ? ` (${g.into} wins ${wins(g.into)} of its prompts${g.members.length === 1 ? `, ${g.members[0]} ${wins(g.members[0]!)}` : ''})` : ''
    lines.push(`merge ${listOf(g.members)} into ${g.into}${keep}: ${why.join('; ')}`)
  }
  const confusedApart = by('confused').filter((p) => !a.merges.some((g) => [g.into, ...g.members].includes(p.a) && [g.into, ...g.members].includes(p.b)))
  for (const p of confusedApart) lines.push(`${pairName(p)}: the router confuses them (${record(p)}) though their descriptions share little (text ${f2(p.text)}): reword both`)
  const unclear = by('unclear')
  if (unclear.length > 0) lines.push(`not yet clear, a coin toss is inside the interval: ${listOf(unclear.map((p) => `${pairName(p)} (${record(p)})`))}; ${a.evidence === 'probes' ? 'more probe prompts (--probe-prompts)' : 'more labelled prompts'} for them would tell`)
  const few = by('too-few')
  if (routed && few.length > 0) lines.push(`too few prompts to tell (under ${MIN_PAIR_PROMPTS}): ${listOf(few.map((p) => `${pairName(p)} (n = ${p.prompts})`))}`)
  const apart = by('apart')
  if (apart.length > 0) lines.push(`told apart: ${listOf(apart.map((p) => `${pairName(p)} (${record(p)})`))}`)

  const staying = Object.keys(a.rewrite)
  if (staying.length >= 2) {
    lines.push(`to set ${staying.length === k ? `the ${k}` : `the ${staying.length} that stay`} apart, open each description with what only it does:`)
    for (const m of staying.slice(0, ADVICE_LIST)) {
      const r = a.rewrite[m]!
      const parts = [r.lead.length > 0 ? `lead with ${quoted(r.lead.slice(0, 4))}` : 'it has nothing of its own: say what only it does, or merge it']
      if (r.later.length > 0) parts.push(`not with what most of them say (${quoted(r.later.slice(0, 4))})`)
      if (r.drop.length > 0) parts.push(`drop ${quoted(r.drop.slice(0, 4))}`)
      lines.push(`  ${m}: ${parts.join('; ')}`)
    }
    if (staying.length > ADVICE_LIST) lines.push(`  and ${staying.length - ADVICE_LIST} more (see what each has that the others lack)`)
  }

  return { headline: headlineOf(a, k, few.length, unclear.length, confusedApart.length), lines }
}

function headlineOf(a: Omit<ClusterAdvice, 'headline' | 'lines'>, k: number, few: number, unclear: number, confusedApart: number): string {
  if (a.action === 'merge') {
    const what = a.merges.map((g) => `${listOf(g.members)} into ${g.into}`).join('; ')
    const rest = Object.keys(a.rewrite).length >= 2 ? ', and reword the rest' : ''
    return `Merge ${what}${rest}.`
  }
  if (a.action === 'keep') return `Keep all ${k}: the router tells every pair apart; lead each description with what only it does so it stays that way.`
  if (a.evidence === 'descriptions') return `Reword: these ${k} read alike; whether any should merge takes routing evidence.`
  if (confusedApart > 0) return `Reword: the router confuses ${confusedApart === 1 ? 'a pair' : `${confusedApart} pairs`} whose descriptions share little.`
  const open = [few > 0 ? `${few} pair${few === 1 ? ' has' : 's have'} too few prompts to tell` : '', unclear > 0 ? `${unclear} ${unclear === 1 ? 'is' : 'are'} not yet clear` : ''].filter(Boolean)
  return `Reword, don't merge: no pair is shown confused${open.length > 0 ? ` (${open.join(', ')})` : ''}.`
}

/** The advice as one text: its headline, then its lines. What `suggestion` holds. */
export function adviceString(advice: Pick<ClusterAdvice, 'headline' | 'lines'>): string {
  return [advice.headline, ...advice.lines].join('\n')
}
