import type { ServerOptions } from './messages-server.js'

/**
 * Deterministic stand-ins for Claude as `improve`'s rewriter, answering the
 * propose_descriptions tool from the request alone (test/support/messages-server.ts
 * calls them). `helpfulRewriter` does what a rewriter should: it opens each
 * agent's description with the words of the training requests that missed
 * it. `harmfulRewriter` gives every agent the same vague description.
 */

type Group = Array<{ name: string; description: string }>

/** The group's agents as the request shows them. */
export function groupOf(prompt: string): Group {
  const section = prompt.slice(0, prompt.indexOf('## How the router did'))
  return [...section.matchAll(/<agent name="([^"]+)">\n([\s\S]*?)\n<\/agent>/g)].map((m) => ({ name: m[1]!, description: m[2]! }))
}

/** The training misses the request lists: the first wanted agent and the prompt. */
export function missesOf(prompt: string): Array<{ wanted: string; prompt: string }> {
  const section = prompt.slice(prompt.indexOf('## Training requests it got wrong'), prompt.indexOf('## Training requests it gets right'))
  return [...section.matchAll(/^- \[[^\]]*\] wanted (\S+)(?: or \S+)* · got \S+ · "(.*)"$/gm)].map((m) => ({ wanted: m[1]!, prompt: m[2]! }))
}

const COMMON = new Set('this that with from have what when where which there their about into your after before does dont cant keeps still just only some them than then they were will would could should after because while using again'.split(' '))
const MAX = 1500

/** Opens each description with up to 12 words of its missed training requests (most frequent first), cut to 1,500 characters. */
export const helpfulRewriter: NonNullable<ServerOptions['tool']> = ({ prompt }) => {
  const misses = missesOf(prompt)
  return {
    agents: groupOf(prompt).map((a) => {
      const counts = new Map<string, number>()
      for (const m of misses.filter((x) => x.wanted === a.name)) {
        for (const w of new Set(m.prompt.toLowerCase().match(/[a-z][a-z0-9]{3,}/g) ?? [])) if (!COMMON.has(w)) counts.set(w, (counts.get(w) ?? 0) + 1)
      }
      const words = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, 12).map(([w]) => w)
      const lead = words.length > 0 ? `Handles ${words.join(', ')}. ` : ''
      const trigger = a.description.split(/<example>|\n\s*Examples?:/)[0]!.trim()
      return { name: a.name, description: `${lead}${trigger}`.slice(0, MAX).trim() }
    }),
    notes: 'opened each description with the words of its missed training requests',
  }
}

/** Every agent of the group gets one vague description: a router can no longer tell them apart. */
export const harmfulRewriter: NonNullable<ServerOptions['tool']> = ({ prompt }) => ({
  agents: groupOf(prompt).map((a) => ({ name: a.name, description: 'Use this agent for general software engineering tasks of any kind.' })),
})
