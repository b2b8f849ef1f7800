import { isBuiltinAgent } from '../load/builtin-agents.js'
import type { Catalogue } from '../load/catalogue.js'

/**
 * Loader agreement: the agents routecheck loads from a folder against the
 * custom agents Claude Code lists for the same folder. Any difference means
 * routecheck would route over a catalogue Claude Code does not show its model.
 */
export type AgentsDiff = {
  claudeCodeVersion: string
  /** Claude Code's own agents it listed beside the folder's */
  builtins: string[]
  onlyRoutecheck: string[]
  onlyClaudeCode: string[]
  /** same name, other description text (whitespace aside) */
  descriptionDiffers: Array<{ name: string; routecheck: string; claudeCode: string }>
  agree: boolean
}

export function diffListings(catalogue: Catalogue, listed: ReadonlyArray<{ name: string; description: string }>, version: string): AgentsDiff {
  const fold = (s: string) => s.replace(/\s+/g, ' ').trim()
  const ours = new Map(catalogue.agents.map((a) => [a.name, a.description]))
  // A listed name that is a built-in and not one of ours is Claude Code's own; one of ours shadows the built-in.
  const theirs = new Map(listed.filter((a) => ours.has(a.name) || !isBuiltinAgent(a.name)).map((a) => [a.name, a.description]))
  const onlyRoutecheck = [...ours.keys()].filter((n) => !theirs.has(n)).sort()
  const onlyClaudeCode = [...theirs.keys()].filter((n) => !ours.has(n)).sort()
  const descriptionDiffers = [...ours]
    .filter(([n, d]) => theirs.has(n) && fold(theirs.get(n)!) !== fold(d))
    .map(([name, routecheck]) => ({ name, routecheck, claudeCode: theirs.get(name)! }))
  return {
    claudeCodeVersion: version,
    builtins: listed.filter((a) => !ours.has(a.name) && isBuiltinAgent(a.name)).map((a) => a.name),
    onlyRoutecheck,
    onlyClaudeCode,
    descriptionDiffers,
    agree: onlyRoutecheck.length + onlyClaudeCode.length + descriptionDiffers.length === 0,
  }
}
