import { stemmer } from 'stemmer'

/**
 * Turning prose into terms, shared by the lexical router and the overlap
 * signals so both read a description the same way.
 */

// Ordinary English function words.
const ENGLISH_STOP_WORDS = `a about above after again against all also am an and any are aren as at be because been
before being below between both but by can cannot could did do does doing don down during each either etc few for
from further get got had has have having he her here hers herself him himself his how i if in into is isn it its
itself just let lets like ll me might more most must my myself no nor not now of off on once one only or other
ought our ours ourselves out over own please re really s same shall she should so some such t than that the their
theirs them themselves then there these they this those through to too u under until up upon us ve very via was
we were what when where which while who whom why will with within without would yes yet you your yours yourself
yourselves im ive dont doesnt isnt cant wont thats whats hey hi thanks thx pls plz ok okay`

// Words every subagent description carries ("Use this agent when…", the
// <example> scaffolding); they say nothing about which agent fits a prompt.
const DESCRIPTION_SCAFFOLD_WORDS = `agent agents use using used user users assistant context commentary example examples
task tool tools launch launching proactively need needs needed want wants help helps ll since make sure
appropriate ideal choice specialist expert`

export const STOP_WORDS: ReadonlySet<string> = new Set(
  `${ENGLISH_STOP_WORDS} ${DESCRIPTION_SCAFFOLD_WORDS}`.split(/\s+/).filter(Boolean),
)

const WORD = /[a-z0-9][a-z0-9+#]*/g
const DIGITS = /^\d+$/

/**
 * Each word's term, or null for a word `terms` drops (too short, a stop word,
 * a number), remembered: prompts repeat their words (a run of 20,000 prompts
 * stems about 15,000 distinct words 300,000 times), so a word costs one lookup
 * instead of three tests and a stem. Numbers are dropped before the lookup
 * and never remembered: a run's ids and counts would fill it.
 */
const termCache = new Map<string, string | null>()
export function termOf(word: string): string | null {
  if (isNumber(word)) return null
  let term = termCache.get(word)
  if (term === undefined) {
    if (termCache.size >= 100_000) termCache.clear()
    term = word.length < 2 || STOP_WORDS.has(word) ? null : stemmer(word)
    termCache.set(word, term)
  }
  return term
}

/** All digits (tested with a regular expression only for words starting with one). */
export function isNumber(word: string): boolean {
  const first = word.charCodeAt(0)
  return first >= 48 && first <= 57 && DIGITS.test(word)
}

/** The text's words, lower-cased, as `terms` reads them (before stop words, numbers and stems). */
export function words(text: string): string[] {
  // match() with /g gives the words alone, without matchAll's match object per word.
  return text.toLowerCase().match(WORD) ?? []
}

/** Lower-cased words, stop words removed, Porter-stemmed. Keeps `c++`, `c#`. */
export function terms(text: string): string[] {
  const out: string[] = []
  for (const word of words(text)) {
    const term = termOf(word)
    if (term !== null) out.push(term)
  }
  return out
}

/** An agent's name as words: `python-backend-engineer` → python, backend, engineer. */
export function nameWords(name: string): string {
  return name.split(/[-_\s]+/).join(' ')
}

export function termCounts(list: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const t of list) counts.set(t, (counts.get(t) ?? 0) + 1)
  return counts
}

/** One kept word of a text: its stem, its lower-cased surface form, and which clause it sits in. */
export type TermToken = { term: string; word: string; clause: number }

// Punctuation that ends a clause: adjacent terms across it are not a phrase.
const CLAUSE_BREAK = /[.,;:!?()[\]{}<>"'`|\n\r]/

/**
 * The same terms as `terms(text)`, in the same order, each with the word it
 * came from and a clause number that grows at every punctuation mark, so
 * callers can form phrases (adjacent terms in one clause) and show a stem as
 * a readable word.
 */
export function termTokens(text: string): TermToken[] {
  const out: TermToken[] = []
  const lower = text.toLowerCase()
  let clause = 0
  let last = 0
  for (const match of lower.matchAll(WORD)) {
    const at = match.index ?? 0
    if (CLAUSE_BREAK.test(lower.slice(last, at))) clause++
    last = at + match[0].length
    const word = match[0]
    const term = termOf(word)
    if (term === null) continue
    out.push({ term, word, clause })
  }
  return out
}
