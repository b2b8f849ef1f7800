import { BUILTIN_AGENTS } from '../load/builtin-agents.js'
import { didYouMean, notAnAgentText } from '../load/closest-names.js'
import { fromDescriptionCount, NONE } from '../load/dataset.js'
import { UsageError } from '../load/input-error.js'
import { scoreCases } from '../score/metrics.js'
import type { Summary } from './record.js'

/**
 * `eval --agent NAME --tag TAG`: the part of a run that is shown and
 * scored. A case is in when it names one of the agents (expected or
 * decided) and carries one of the tags; several agents or several tags
 * widen the choice, an agent and a tag narrow it. An agent's precision and
 * recall are the same in its part as in the whole run (every case credited
 * to it or routed to it names it); the headline figures are those of the
 * part. The run folder always holds the whole run.
 */
export type RunFilter = { agents: readonly string[]; tags: readonly string[] }

/** What a filtered summary says about its filter: absent on a whole run. */
export type FilterFacts = { agents: string[]; tags: string[]; cases: number; of: number }
export type FilteredSummary = Summary & { filter?: FilterFacts }

export const isFiltering = (f: RunFilter | undefined): f is RunFilter => f !== undefined && (f.agents.length > 0 || f.tags.length > 0)

type FilterableCase = { expected: readonly string[]; decision: string | null; tags?: readonly string[] }

export function caseMatches(c: FilterableCase, f: RunFilter): boolean {
  const agentOk = f.agents.length === 0 || f.agents.some((a) => c.decision === a || c.expected.includes(a))
  const tagOk = f.tags.length === 0 || f.tags.some((t) => c.tags?.includes(t))
  return agentOk && tagOk
}

/**
 * The names --agent and --tag may take: exit 2 with a did-you-mean before
 * anything is routed. Agents: the catalogue's, `none`, Claude Code's own;
 * tags: those some case of the datasets carries.
 */
export function checkFilter(f: RunFilter, known: { agents: readonly string[]; tags: readonly string[] }): void {
  const agents = [...known.agents, NONE]
  for (const a of f.agents) {
    if (agents.includes(a) || BUILTIN_AGENTS.includes(a)) continue
    throw new UsageError(notAnAgentText('--agent', a, agents))
  }
  for (const t of f.tags) {
    if (known.tags.includes(t)) continue
    const hint = didYouMean(t, known.tags)
    throw new UsageError(`--tag "${t}": no case carries this tag${hint ? `; ${hint}` : ''}${known.tags.length > 0 ? ` (tags: ${known.tags.join(', ')})` : ' (the datasets have no tags)'}`)
  }
}

/**
 * The summary of the cases the filter keeps, scored again: headline, per
 * agent (only the chosen agents' rows when --agent is given; the other rows
 * would count a part of their cases), confusion. Requests, tokens, cost and
 * the overlap stay those of the whole run.
 */
export function filterSummary(s: Summary, f: RunFilter): FilteredSummary {
  const kept = s.cases.filter((c) => caseMatches(c, f))
  const scores = scoreCases(
    kept.map((c) => ({
      id: c.id,
      expected: c.expected,
      vote: {
        decision: c.decision,
        votes: c.votes,
        split: c.split,
        flipped: c.flipped,
        decidedRepeats: c.decidedRepeats,
        ...(c.error !== undefined ? { error: c.error } : {}),
        ...(c.runnerUp !== undefined ? { runnerUp: c.runnerUp } : {}),
        ...(c.margin !== undefined ? { margin: c.margin } : {}),
        ...(c.decisionKind !== undefined ? { decisionKind: c.decisionKind } : {}),
        ...(c.tool !== undefined ? { tool: c.tool } : {}),
      },
    })),
    s.agents.map((a) => a.name),
  )
  const byId = new Map(kept.map((c) => [c.id, c]))
  const chosen = new Set(f.agents)
  return {
    ...s,
    dataset: { ...s.dataset, cases: kept.length, fromDescription: fromDescriptionCount(kept) },
    metrics: scores.metrics,
    perLabel: f.agents.length > 0 ? scores.perLabel.filter((l) => chosen.has(l.label)) : scores.perLabel,
    noneLabel: scores.noneLabel,
    confusion: scores.confusion,
    decisionKinds: scores.decisionKinds,
    cases: scores.cases.map((c) => ({ ...c, tags: byId.get(c.id)?.tags ?? [], prompt: byId.get(c.id)?.prompt ?? '' })),
    filter: { agents: [...f.agents], tags: [...f.tags], cases: kept.length, of: s.cases.length },
  }
}
