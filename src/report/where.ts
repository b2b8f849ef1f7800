import type { DecisionKinds } from '../score/kinds.js'

const share = (n: number, of: number) => `${Math.round((100 * n) / of)}%`

/** The parts of "where the prompts went", biggest first within each kind: e.g. built-in 22% (Explore 15%, general-purpose 7%). */
export function whereParts(k: DecisionKinds): string[] {
  const detail = (byName: Record<string, number>) => {
    const named = Object.entries(byName).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    return named.length === 0 ? '' : ` (${named.map(([name, n]) => `${name} ${share(n, k.cases)}`).join(', ')})`
  }
  return [
    `custom ${share(k.custom, k.cases)}`,
    `built-in ${share(k.builtin, k.cases)}${detail(k.builtinAgents)}`,
    `handled itself ${share(k.tool, k.cases)}${detail(k.tools)}`,
    `answered ${share(k.answer, k.cases)}`,
  ]
}

export function whereLine(k: DecisionKinds): string {
  return `where the prompts went: ${whereParts(k).join(' · ')} (of ${k.cases} decided cases)`
}
