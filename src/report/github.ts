import type { Catalogue } from '../load/catalogue.js'
import { coverageFix, noOwnCasesText } from '../gate/coverage.js'
import type { GateOutcome } from '../gate/outcome.js'
import { workflowData, workflowProperty } from '../text/safe.js'
import { failureText, unnoticed } from './gate-text.js'

/**
 * GitHub workflow commands: an error on each changed agent file that goes
 * with a failed rule, so the pull request's diff shows where to look; a
 * warning on each edited or added agent no rule could judge (no case of its
 * own) that no failure names already.
 */
export function githubAnnotations(o: GateOutcome, catalogue: Catalogue, invalid: ReadonlyArray<{ file: string; line: number; reason: string }>): string {
  const touched = new Set([...o.changes.changed, ...o.changes.added])
  const fileOf = new Map(catalogue.agents.map((a) => [a.name, a]))
  const lines: string[] = []
  for (const bad of invalid) lines.push(`::error file=${workflowProperty(bad.file)},line=${bad.line},title=${workflowProperty('routecheck: agent dropped')}::${workflowData(bad.reason)}`)
  for (const f of o.verdict.failures) {
    const involved = f.agents.filter((a) => touched.has(a))
    const targets = involved.length > 0 ? involved : [...touched]
    for (const name of targets) {
      const agent = fileOf.get(name)
      if (agent) lines.push(`::error file=${workflowProperty(agent.file)},line=${agent.descriptionLine},title=${workflowProperty(`routecheck gate: ${f.rule}`)}::${workflowData(failureText(f))}`)
    }
  }
  for (const a of unnoticed(o)) {
    const agent = fileOf.get(a.agent)
    if (agent) lines.push(`::warning file=${workflowProperty(agent.file)},line=${agent.descriptionLine},title=${workflowProperty('routecheck gate: no case of its own')}::${workflowData(`${noOwnCasesText([a])}; ${coverageFix([a])}`)}`)
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}
