import { sha256 } from '../load/catalogue.js'

/**
 * The train/test split of `improve`: deterministic (a case's half depends on
 * its dataset and id, never on row order or a clock) and stratified
 * by the first expected label, so every agent, and `none`, has cases on both
 * sides in the same proportion.
 */

export type Half = 'train' | 'test'

export type SplitCase = { key: string; expected: readonly string[] }

/**
 * Assigns each case to a half. Within a label, cases are ordered by a hash
 * of their key; a label's test count is its share of the running total, so
 * rounding never drifts across labels (30 labels of 3 cases split 45/45, not
 * 30/60).
 */
export function splitCases(cases: readonly SplitCase[], testShare: number): Map<string, Half> {
  const strata = new Map<string, SplitCase[]>()
  for (const c of cases) {
    const label = c.expected[0] ?? ''
    const list = strata.get(label)
    if (list) list.push(c)
    else strata.set(label, [c])
  }
  const out = new Map<string, Half>()
  let seen = 0
  for (const label of [...strata.keys()].sort()) {
    const list = strata.get(label)!
    const ordered = list.map((c) => ({ c, h: sha256(c.key) })).sort((x, y) => (x.h < y.h ? -1 : x.h > y.h ? 1 : 0))
    const test = Math.round((seen + list.length) * testShare) - Math.round(seen * testShare)
    ordered.forEach(({ c }, i) => out.set(c.key, i < test ? 'test' : 'train'))
    seen += list.length
  }
  return out
}
