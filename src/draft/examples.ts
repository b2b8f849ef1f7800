import type { Agent, Catalogue } from '../load/catalogue.js'
import { FROM_DESCRIPTION_TAG, type DatasetRow } from '../load/dataset.js'
import { normalisedPrompt } from './similar.js'

/**
 * Rows from the `<example>` blocks of the descriptions: each `user:` turn,
 * labelled with the agent the example is about. Offline and free, but the
 * router reads these very words in the descriptions, so such rows measure
 * little beyond "the router can match a sentence it was shown": they are
 * tagged `from-description` (FROM_DESCRIPTION_TAG) and every command that writes them says so.
 */

/** The warning every command that writes such rows prints. */
export const FROM_DESCRIPTION_WARNING =
  'rows tagged from-description are the user turns of the descriptions\' own <example> blocks: the router reads these very words in the descriptions, so they flatter every router and measure little; draft prompts it has not seen with `routecheck generate`, or write your own'

export type ExampleTurn = {
  prompt: string
  /** 1-based: which <example> block of the description */
  example: number
  /** what the example's assistant and commentary say, where another agent may be named */
  rest: string
}

const EXAMPLE_BLOCK = /<example>([\s\S]*?)(?:<\/example>|$)/gi
const ROLE = /(^|[\s>\-*])(context|user|assistant)\s*:/gi
const QUOTES: ReadonlyArray<readonly [string, string]> = [['"', '"'], ["'", "'"], ['“', '”'], ['‘', '’'], ['`', '`']]

/** The `user:` turns of a description's `<example>` blocks, in order; the example's other text kept to find the agent it names. */
export function exampleTurns(description: string): ExampleTurn[] {
  const turns: ExampleTurn[] = []
  let example = 0
  for (const block of description.matchAll(EXAMPLE_BLOCK)) {
    example++
    // Commentary and markup such as <function call omitted> are the author's asides, not turns.
    const text = block[1]!.replace(/<commentary>[\s\S]*?(<\/commentary>|$)/gi, (m) => ` ${m.replace(/<\/?commentary>/gi, ' ')} `)
    const marks = [...text.matchAll(ROLE)].map((m) => ({ role: m[2]!.toLowerCase(), start: m.index + m[1]!.length, end: m.index + m[0].length }))
    const segments = marks.map((m, i) => ({ role: m.role, text: text.slice(m.end, marks[i + 1]?.start ?? text.length) }))
    const rest = segments
      .filter((s) => s.role !== 'user')
      .map((s) => s.text)
      .join(' ')
    for (const s of segments) {
      if (s.role !== 'user') continue
      const prompt = unquote(s.text.replace(/<[^>\n]*>/g, ' ').replace(/\s+/g, ' ').trim())
      if (prompt !== '') turns.push({ prompt, example, rest })
    }
  }
  return turns
}

function unquote(text: string): string {
  let t = text.replace(/^-\s+/, '').replace(/\s+-$/, '').trim()
  for (const [open, close] of QUOTES) {
    if (t.length >= 2 && t.startsWith(open) && t.endsWith(close)) {
      t = t.slice(open.length, t.length - close.length).trim()
      break
    }
  }
  return t
}

/**
 * The agent an example is about: the describing agent, unless the example's
 * assistant and commentary name exactly one other catalogue agent and never
 * the describing one (an example showing where a request goes instead).
 */
export function exampleLabel(owner: Agent, rest: string, catalogue: Catalogue): string {
  const named = (name: string) => new RegExp(`(^|[^\\w-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w-])`).test(rest)
  if (named(owner.name)) return owner.name
  const others = catalogue.agents.filter((a) => a.name !== owner.name && named(a.name))
  return others.length === 1 ? others[0]!.name : owner.name
}

/**
 * Dataset rows from every description's examples. A prompt found in several
 * descriptions (one example copied between agents) is one row accepting each
 * agent it was found for, in catalogue order. Ids are `<agent>-ex<N>`, N the
 * example's number in the description.
 */
export function rowsFromExamples(catalogue: Catalogue): DatasetRow[] {
  const byPrompt = new Map<string, DatasetRow>()
  const perExample = new Map<string, number>()
  for (const agent of catalogue.agents) {
    for (const turn of exampleTurns(agent.description)) {
      const label = exampleLabel(agent, turn.rest, catalogue)
      const key = normalisedPrompt(turn.prompt)
      const seen = byPrompt.get(key)
      if (seen) {
        if (!seen.expected.includes(label)) seen.expected.push(label)
        continue
      }
      // Named by the example's number in its description; a second user turn of one example gets a suffix.
      const base = `${agent.name}-ex${turn.example}`
      const n = (perExample.get(base) ?? 0) + 1
      perExample.set(base, n)
      const where = `${agent.file}:${agent.descriptionLine}`
      byPrompt.set(key, {
        id: n === 1 ? base : `${base}-${n}`,
        prompt: turn.prompt,
        expected: [label],
        tags: [FROM_DESCRIPTION_TAG],
        note:
          label === agent.name
            ? `the user turn of <example> ${turn.example} in ${agent.name}'s description (${where}); the router sees it`
            : `the user turn of <example> ${turn.example} in ${agent.name}'s description (${where}), whose assistant hands it to ${label}; the router sees it`,
      })
    }
  }
  return [...byPrompt.values()]
}
