import { FROM_DESCRIPTION_TAG, isFromDescription } from '../load/dataset.js'
import { shellWord } from '../text/format.js'

/**
 * What the gate can see of a change: for each agent it edits or adds, the
 * cases labelled for that agent. The rules judge flips; an edited agent with
 * no case of its own cannot flip anything of its own, so a PASS says nothing
 * about whether it still gets its prompts. Cases tagged from-description are
 * the description's own <example> prompts, which the router reads verbatim:
 * they are counted apart and are not the agent's own.
 */

/** One case the gate routed now; `before` is the baseline's decision, absent for a case routed but not compared (new, relabelled or reworded). */
export type CoverageCase = { expected: readonly string[]; tags: readonly string[]; after: string | null; before?: string | null | undefined }

export type AgentCoverage = {
  agent: string
  /** how the change touches it: its routing fields edited, or the agent new */
  change: 'changed' | 'added'
  /** cases labelled for it (any gold label) not tagged from-description, compared or not: what gate.minChangedAgentCases counts */
  ownCases: number
  /** of those, the ones routed to it now: whether it still gets its own prompts */
  ownRoutedToIt: number
  /** cases in the baseline and now, compared: labelled for it, of those from-description, and routed to it before and after (any label) */
  compared: { labelled: number; fromDescription: number; routedBefore: number; routedAfter: number }
  /** cases routed now and not compared (new, relabelled or reworded since the baseline; an added agent's can only be these) */
  notCompared: { labelled: number; fromDescription: number; routedAfter: number }
  /**
   * The dataset the coverage fix adds its prompts to (generate --append --out): the one holding the most
   * of its own cases, or, with none, of its near-duplicate neighbours' (see changeCoverage); ties the
   * first. Absent when no dataset was read.
   */
  addTo?: string
}

/** One dataset's cases as coverage counts them, with its path (what the fix names). */
export type CoverageDataset = { path: string; cases: readonly CoverageCase[] }

/**
 * Each agent the change edits or adds, in that order, counted over every dataset's cases.
 * `neighbours(agent)`, asked only for an agent with no case of its own, names the agents whose
 * prompts sit nearest its own (its near-duplicates): their dataset is where its prompts belong,
 * beside the cases a router must tell them from.
 */
export function changeCoverage(
  changes: { changed: readonly string[]; added: readonly string[] },
  datasets: readonly CoverageDataset[],
  neighbours: (agent: string) => readonly string[] = () => [],
): AgentCoverage[] {
  const touched = [...changes.changed.map((agent) => ({ agent, change: 'changed' as const })), ...changes.added.map((agent) => ({ agent, change: 'added' as const }))]
  return touched.map(({ agent, change }) => {
    const compared = { labelled: 0, fromDescription: 0, routedBefore: 0, routedAfter: 0 }
    const notCompared = { labelled: 0, fromDescription: 0, routedAfter: 0 }
    let ownRoutedToIt = 0
    for (const { cases } of datasets) {
      for (const c of cases) {
        const side = c.before === undefined ? notCompared : compared
        if (c.after === agent) side.routedAfter++
        if (c.before === agent) compared.routedBefore++
        if (!c.expected.includes(agent)) continue
        side.labelled++
        if (isFromDescription(c)) side.fromDescription++
        else if (c.after === agent) ownRoutedToIt++
      }
    }
    const ownCases = compared.labelled - compared.fromDescription + notCompared.labelled - notCompared.fromDescription
    const addTo = mostOwnCases(datasets, ownCases > 0 ? [agent] : neighbours(agent))
    return { agent, change, ownCases, ownRoutedToIt, compared, notCompared, ...(addTo !== undefined ? { addTo } : {}) }
  })
}

/** The dataset with the most cases labelled for any of `agents` (their own, not from-description); the first on a tie or when none has any; undefined with no dataset. */
function mostOwnCases(datasets: readonly CoverageDataset[], agents: readonly string[]): string | undefined {
  const counts = datasets.map(({ cases }) => cases.filter((c) => !isFromDescription(c) && agents.some((a) => c.expected.includes(a))).length)
  let best = 0
  counts.forEach((n, d) => {
    if (n > counts[best]!) best = d
  })
  return datasets[best]?.path
}

/** The agents of the change with no case of their own: the gate cannot see whether they still get their prompts. */
export const unmeasured = (coverage: readonly AgentCoverage[]): AgentCoverage[] => coverage.filter((a) => a.ownCases === 0)

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`
/** "a", "a and b", "a, b and c" */
export const namesText = (xs: readonly string[]): string => (xs.length <= 2 ? xs.join(' and ') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`)
const whichThe = (a: Pick<AgentCoverage, 'change'>) => (a.change === 'added' ? 'adds' : 'edits')

/**
 * The fix, said the same wherever coverage is short, with the command that drafts the missing
 * prompts into each agent's `addTo` dataset (DATASET when none was read): generate --agent sends
 * only those agents' requests, and --append adds to the dataset without touching its rows. Agents
 * bound for different datasets get one command per dataset, in the order the agents come.
 */
export function coverageFix(agents: ReadonlyArray<Pick<AgentCoverage, 'agent' | 'addTo'>>): string {
  const byDataset = new Map<string | undefined, string[]>()
  for (const a of agents) byDataset.set(a.addTo, [...(byDataset.get(a.addTo) ?? []), a.agent])
  const commands = [...byDataset].map(([dataset, names]) => ['routecheck generate', ...names.map((a) => `--agent ${shellWord(a)}`), '--append --out', dataset === undefined ? 'DATASET' : shellWord(dataset)].join(' '))
  const names = namesText(agents.map((a) => a.agent))
  const where = commands.length === 1 ? `${names} to a dataset: ${commands[0]} drafts them` : `${names}, each to the dataset holding the most of its cases (or of its near-duplicates'): ${namesText(commands)} draft them`
  return `add prompts labelled for ${where} for you to review; prompts tagged ${FROM_DESCRIPTION_TAG} are the description's own examples and do not count`
}

/**
 * "python-engineer, which this change edits, has no case of its own", for several agents
 * "a and b, which this change edits, and c, which it adds, have no case of their own".
 */
export function noOwnCasesText(agents: readonly Pick<AgentCoverage, 'agent' | 'change'>[]): string {
  const names = (kind: AgentCoverage['change']) => agents.filter((a) => a.change === kind).map((a) => a.agent)
  const edited = names('changed')
  const added = names('added')
  const groups = [edited.length > 0 ? `${namesText(edited)}, which this change edits` : '', added.length > 0 ? `${namesText(added)}, which ${edited.length > 0 ? 'it' : 'this change'} adds` : ''].filter(Boolean)
  const one = agents.length === 1
  return `${groups.join(', and ')}, ${one ? 'has no case of its own (its recall is unmeasured)' : 'have no case of their own (their recall is unmeasured)'}`
}

/** One agent's counts in a line: what it has of its own and how many of those reach it, where its labelled cases come from, and where the router sent compared cases before and after. */
export function coverageCountsText(a: AgentCoverage): string {
  const fromDescription = (n: number) => (n > 0 ? ` (${n} ${FROM_DESCRIPTION_TAG})` : '')
  const notCompared = a.notCompared.labelled > 0 ? ` · new or reworded cases labelled for it, not compared: ${a.notCompared.labelled}${fromDescription(a.notCompared.fromDescription)}` : ''
  const own = a.ownCases > 0 ? `, ${a.ownRoutedToIt} routed to it now` : ''
  return `${a.agent} (${a.change === 'added' ? 'added' : 'edited'}): ${plural(a.ownCases, 'case')} of its own${own} · compared cases labelled for it: ${a.compared.labelled}${fromDescription(a.compared.fromDescription)}, routed to it: ${a.compared.routedBefore} → ${a.compared.routedAfter}${notCompared}`
}

/** The changed-agent-cases rule's failure: the agent and its count against the minimum (the fix is coverageFix). */
export function shortCoverageText(a: AgentCoverage, minimum: number): string {
  const unseen = a.compared.fromDescription + a.notCompared.fromDescription
  const aside = unseen > 0 ? ` (and ${unseen} ${FROM_DESCRIPTION_TAG}, which do not count)` : ''
  return `${a.agent}, which this change ${whichThe(a)}, has ${plural(a.ownCases, 'case')} of its own${aside}, fewer than minChangedAgentCases ${minimum}`
}
