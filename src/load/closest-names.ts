import { distance } from 'fastest-levenshtein'

/**
 * Names close to `wanted`, best first: the did-you-mean of every "unknown
 * agent" message. Substring matches count as close because a typo in a long
 * name ("python-enginer") and a truncation ("python-backend") are both common.
 */
export function closestNames(wanted: string, known: readonly string[], max = 3): string[] {
  const w = wanted.toLowerCase()
  return known
    .map((name) => {
      const n = name.toLowerCase()
      const d = distance(w, n)
      const contains = n.includes(w) || w.includes(n)
      return { name, d, ok: contains || d <= Math.max(2, Math.floor(n.length / 3)) }
    })
    .filter((x) => x.ok)
    .sort((a, b) => a.d - b.d || a.name.localeCompare(b.name))
    .slice(0, max)
    .map((x) => x.name)
}

export function didYouMean(wanted: string, known: readonly string[]): string {
  const close = closestNames(wanted, known)
  return close.length > 0 ? `did you mean ${close.map((n) => `"${n}"`).join(' or ')}?` : ''
}

/** `--agent "x" is not an agent: did you mean "y"? (agents: …)`: the one wording of a flag naming no agent, with the names it takes. */
export function notAnAgentText(flag: string, wanted: string, known: readonly string[]): string {
  const hint = didYouMean(wanted, known)
  return `${flag} "${wanted}" is not an agent${hint ? `: ${hint}` : ''} (agents: ${known.join(', ')})`
}
