import { terms } from '../text/terms.js'

/**
 * When two drafted prompts are one prompt, and when a prompt copies the
 * description it is aimed at. Both filters protect the number a dataset
 * gives: a prompt counted twice weighs twice, and a prompt lifted from its
 * target's description is matched by every router that reads the
 * description (the lexical router most of all), flattering them all.
 */

/** Lower case, words only, single spaces: two prompts with this equal are the same prompt. */
export function normalisedPrompt(text: string): string {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).join(' ')
}

/**
 * Term-set Jaccard from which two prompts are near-identical. Within each
 * bundled dataset (352 and 138 hand-written prompts, every one a distinct
 * request) the most alike pair scores 0.33; rewordings ("fix the goroutine
 * leak in the worker pool" / "fix this goroutine leak in our worker pool")
 * score 1.0, one noun swapped ("…the orders endpoint…" / "…the users
 * endpoint…") 0.8, and a request with details added ("write tests for the
 * payment service" / "write integration tests for the payment service using
 * pytest") 0.67, which is kept.
 */
export const NEAR_IDENTICAL = 0.7

/** Stemmed content words of a prompt (stop words and scaffolding out): "Fixing the tests" and "fix tests" are one set. */
export function promptTerms(text: string): Set<string> {
  return new Set(terms(text))
}

/** 0 when either set is empty: prompts with no content words ("hi", "thanks!") are alike only when their words are equal. */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0
  let shared = 0
  for (const t of a) if (b.has(t)) shared++
  return shared / (a.size + b.size - shared)
}

/**
 * The prompts to drop as near-identical to an earlier one (the first of
 * each group is kept): the same words once normalised, or term sets at
 * NEAR_IDENTICAL or more. Returns, for each dropped index, the index kept.
 */
export function nearIdentical(prompts: readonly string[], threshold = NEAR_IDENTICAL): Map<number, number> {
  const dropped = new Map<number, number>()
  const keys = prompts.map(normalisedPrompt)
  const sets = prompts.map(promptTerms)
  // An inverted index over terms: only prompts sharing a term are compared.
  const byTerm = new Map<string, number[]>()
  const firstByKey = new Map<string, number>()
  for (let i = 0; i < prompts.length; i++) {
    const same = firstByKey.get(keys[i]!)
    if (same !== undefined) {
      dropped.set(i, same)
      continue
    }
    firstByKey.set(keys[i]!, i)
    const candidates = new Set<number>()
    for (const t of sets[i]!) for (const j of byTerm.get(t) ?? []) candidates.add(j)
    const match = [...candidates].sort((x, y) => x - y).find((j) => jaccard(sets[i]!, sets[j]!) >= threshold)
    if (match !== undefined) {
      dropped.set(i, match)
      continue
    }
    for (const t of sets[i]!) byTerm.set(t, [...(byTerm.get(t) ?? []), i])
  }
  return dropped
}

/**
 * For each prompt near-identical to one of `existing` (a dataset's rows that
 * `generate --append` adds to), the index of the first such row: by the same
 * rule as nearIdentical. Only rows sharing a term are compared, so a large
 * dataset costs a lookup per term, not a comparison per row.
 */
export function nearIdenticalTo(prompts: readonly string[], existing: readonly string[], threshold = NEAR_IDENTICAL): Map<number, number> {
  const found = new Map<number, number>()
  if (prompts.length === 0 || existing.length === 0) return found
  const keys = new Map<string, number>()
  const sets = existing.map(promptTerms)
  const byTerm = new Map<string, number[]>()
  existing.forEach((text, j) => {
    const key = normalisedPrompt(text)
    if (!keys.has(key)) keys.set(key, j)
    for (const t of sets[j]!) {
      const list = byTerm.get(t)
      if (list) list.push(j)
      else byTerm.set(t, [j])
    }
  })
  prompts.forEach((text, i) => {
    const same = keys.get(normalisedPrompt(text))
    if (same !== undefined) return void found.set(i, same)
    const own = promptTerms(text)
    const candidates = new Set<number>()
    for (const t of own) for (const j of byTerm.get(t) ?? []) candidates.add(j)
    const match = [...candidates].sort((x, y) => x - y).find((j) => jaccard(own, sets[j]!) >= threshold)
    if (match !== undefined) found.set(i, match)
  })
  return found
}

/**
 * Words in a row a prompt shares with a description from which it copies it.
 * Of the 422 hand-written prompts of the bundled datasets with an agent as
 * primary, none shares more than 5 words in a row with that agent's
 * description (9 in 10 share 2 or fewer) or more than 14% of its word
 * trigrams; the 17 user turns of the bundled descriptions' own examples share
 * 6 to 24 words in a row and all their trigrams.
 */
export const LEAKED_RUN = 7

/** Share of the prompt's word trigrams found in the description from which it is a copy even when no long run survives light rewording… */
export const LEAKED_TRIGRAM_SHARE = 0.5
/** …once at least this many trigrams are shared: a four-word prompt sharing two is a topic, not a copy. */
export const LEAKED_TRIGRAMS = 3

export type Leak = { run: number; trigramShare: number; sharedTrigrams: number; phrase: string }

const plainWords = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []

/** How much of a prompt is the description's own wording: the longest shared run of words, and the share of its trigrams the description holds. */
export function leakage(prompt: string, description: string): Leak {
  const p = plainWords(prompt)
  const d = plainWords(description)
  const at = new Map<string, number[]>()
  d.forEach((w, i) => at.set(w, [...(at.get(w) ?? []), i]))
  let best = 0
  let bestStart = 0
  for (let i = 0; i < p.length; i++) {
    for (const j of at.get(p[i]!) ?? []) {
      let k = 0
      while (i + k < p.length && j + k < d.length && p[i + k] === d[j + k]) k++
      if (k > best) {
        best = k
        bestStart = i
      }
    }
  }
  const grams = (ws: string[]) => ws.slice(0, Math.max(0, ws.length - 2)).map((_, i) => `${ws[i]} ${ws[i + 1]} ${ws[i + 2]}`)
  const inDescription = new Set(grams(d))
  const own = grams(p)
  const sharedTrigrams = own.filter((g) => inDescription.has(g)).length
  return { run: best, trigramShare: own.length === 0 ? 0 : sharedTrigrams / own.length, sharedTrigrams, phrase: p.slice(bestStart, bestStart + best).join(' ') }
}

export function isLeak(l: Leak): boolean {
  return l.run >= LEAKED_RUN || (l.sharedTrigrams >= LEAKED_TRIGRAMS && l.trigramShare >= LEAKED_TRIGRAM_SHARE)
}
