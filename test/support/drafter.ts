import { createHash } from 'node:crypto'
import type { ServerOptions } from './messages-server.js'

/**
 * A deterministic stand-in for Claude drafting prompts (`routecheck
 * generate`), for the local Messages server's `tool` option. It reads what
 * each request asks for (prompts aimed at an agent, boundary prompts for a
 * pair, none, Explore) and answers with that many labelled prompts, each
 * made of words no other prompt has. Among an agent's prompts it plants what
 * generate must catch: a prompt copied from the agent's description
 * (leakage), a near-identical twin of the first prompt, a prompt labelled
 * only with an agent that does not exist, and a label in the wrong case.
 */

export const PLANTED = {
  /** this agent's prompts hold a leaked one (starting with `leak`, then twelve words of its description) and a twin of its first */
  leakAndTwinIn: 'code-reviewer',
  leak: 'as your description says',
  twin: 'please, ',
  /** this agent's prompts hold one labelled only `ghost`, and one labelled with its name in upper case and `ghost` */
  labelsIn: 'golang-pro',
  ghost: 'ghost-agent',
} as const

const word = (seed: string) => `w${createHash('sha256').update(seed).digest('hex').slice(0, 7)}`
const words = (seed: string, k: number) => Array.from({ length: k }, (_, i) => word(`${seed}#${i}`)).join(' ')

/** Every agent's description, from the system text's <agent name="…"> blocks. */
function descriptions(system: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of system.matchAll(/<agent name="([^"]+)">\n([\s\S]*?)\n<\/agent>/g)) out.set(m[1]!, m[2]!)
  return out
}

function systemText(body: any): string {
  return Array.isArray(body.system) ? body.system.map((b: any) => b.text ?? '').join('') : String(body.system ?? '')
}

type Drafted = { prompt: string; register: string; expected: string[]; note: string }

export const drafter: NonNullable<ServerOptions['tool']> = ({ name, body, prompt }) => {
  if (name !== 'record_prompts') return undefined
  const count = Number(/Write (\d+)/.exec(prompt)?.[1] ?? /Write (\d+) boundary/.exec(prompt)?.[1] ?? 0)
  const agents = descriptions(systemText(body))
  const batch = /Batch (\d+) of/.exec(prompt)?.[1] ?? '1'
  const prompts: Drafted[] = []
  const aimed = /the subagent "([^"]+)" should take/.exec(prompt)?.[1]
  const pair = /The subagents "([^"]+)" and "([^"]+)" overlap/.exec(prompt)
  if (aimed) {
    const registers = ['terse', 'vague', 'stack-trace', 'diff', 'long-context', 'typos']
    for (let k = 0; k < count; k++) {
      const seed = `${aimed}/${batch}/${k}`
      prompts.push({ prompt: `fix the ${words(seed, 4)} in our service`, register: registers[k % registers.length]!, expected: [aimed], note: `aimed at ${aimed}` })
    }
    // The planted faults take the place of some prompts (so the count asked for is kept), for two agents only:
    // the copy and the twin last, the labels first (so the mended row is the first of its register and kept).
    const description = agents.get(aimed) ?? ''
    if (aimed === PLANTED.leakAndTwinIn) {
      prompts.splice(count - 2, 2, { prompt: `${PLANTED.leak} ${description.split(/\s+/).slice(3, 15).join(' ')}`, register: 'vague', expected: [aimed], note: 'copied' }, { prompt: `${PLANTED.twin}${prompts[0]!.prompt}`, register: 'terse', expected: [aimed], note: 'a twin of the first' })
    }
    if (aimed === PLANTED.labelsIn) {
      prompts.splice(0, 2, { prompt: `check the ${words(`${aimed}/upper`, 3)} again`, register: 'terse', expected: [aimed.toUpperCase(), PLANTED.ghost], note: 'wrong case' }, { prompt: `route ${words(`${aimed}/ghost`, 3)}`, register: 'vague', expected: [PLANTED.ghost], note: 'no such agent' })
    }
  } else if (pair) {
    const [, a, b] = pair
    for (let k = 0; k < count; k++) {
      const side = k % 2 === 0 ? a! : b!
      prompts.push({ prompt: `on the boundary: ${words(`${a}|${b}/${batch}/${k}`, 4)} for ${side}`, register: 'long-context', expected: [side], note: `the deciding detail points to ${side}` })
    }
  } else if (prompt.includes('that no subagent should take')) {
    const registers = ['small-talk', 'general-knowledge', 'one-line-fix']
    for (let k = 0; k < count; k++) prompts.push({ prompt: `just chatting ${words(`none/${batch}/${k}`, 3)}`, register: registers[k % 3]!, expected: ['none'], note: 'nothing to delegate' })
  } else if (prompt.includes('Explore')) {
    for (let k = 0; k < count; k++) prompts.push({ prompt: `where is ${words(`explore/${batch}/${k}`, 3)} defined`, register: 'codebase-search', expected: ['Explore'], note: 'a search of the codebase' })
  }
  return { prompts }
}

/**
 * The drafter for `overlap --probe` demonstrations against the local server: each prompt aimed at
 * an agent also names three words of that agent's description, picked one at a time (never a
 * run of them, so no prompt is leakage), the way a user names the technology. The server's
 * word-overlap router then sends a prompt to the agent whose description holds most of its
 * words, so agents whose descriptions share their words get each other's prompts.
 */
export const topicalDrafter: NonNullable<ServerOptions['tool']> = (info) => {
  const answer = drafter(info) as { prompts: Drafted[] } | undefined
  const aimed = /the subagent "([^"]+)" should take/.exec(info.prompt)?.[1]
  if (!answer || !aimed) return answer
  const own = [...new Set((descriptions(systemText(info.body)).get(aimed) ?? '').toLowerCase().match(/[a-z][a-z0-9]{4,}/g) ?? [])].sort()
  if (own.length === 0) return answer
  answer.prompts.forEach((p, k) => {
    const picked = [0, 1, 2].map((i) => own[parseInt(createHash('sha256').update(`${aimed}/${k}/${i}`).digest('hex').slice(0, 8), 16) % own.length]!)
    p.prompt = `${[...new Set(picked)].join(', ')}: ${p.prompt}`
  })
  return answer
}
