import path from 'node:path'
import { CHARS_PER_TOKEN, estimateTokens } from '../text/tokens.js'
import { lintRules, type LintFinding, type OverlapAgent } from './schema.js'

/** What the agent lint needs to know besides the agents: text scores of the pairs already computed. */
export type LintSettings = {
  minDescriptionChars: number
  maxDescriptionChars: number
  nearExactText: number
}

/**
 * Phrases that tell a router when to pick an agent. Claude Code's own
 * template writes "Use this agent when…"; hand-written agents say
 * "Use PROACTIVELY for…", "use when…", "MUST BE USED…", "Invoke when…".
 */
const TRIGGER = /\b(use (this agent |this subagent |it )?(proactively|when|whenever|for|to|after|before|if)|must be used|invoke (it |this agent )?(when|for|after)|triggers? (for|when|on)|delegate (to it |here )?(when|for))\b/i

export function hasTrigger(description: string): boolean {
  return TRIGGER.test(description)
}

function normalise(description: string): string {
  return description.trim().replace(/\s+/g, ' ').toLowerCase()
}

/**
 * Agent lint: the cheap checks on each file's routing fields. `textPairs`
 * are the pairs the text signal already scored (name pairs and their score),
 * used for the near-exact rule without a second pass over the catalogue.
 */
export function lintAgents(
  agents: readonly OverlapAgent[],
  textPairs: ReadonlyArray<{ a: string; b: string; text: number }>,
  s: LintSettings,
): { lint: LintFinding[]; tokens: Record<string, number> } {
  const lint: LintFinding[] = []
  const tokens: Record<string, number> = {}
  const byName = new Map(agents.map((a) => [a.name, a]))
  const total = agents.reduce((sum, a) => sum + estimateTokens(a.description), 0)

  const sameText = new Map<string, OverlapAgent[]>()
  for (const a of agents) {
    const key = normalise(a.description)
    const list = sameText.get(key)
    if (list) list.push(a)
    else sameText.set(key, [a])
  }

  for (const a of agents) {
    const chars = a.description.trim().length
    const t = estimateTokens(a.description)
    tokens[a.name] = t
    const at = (rule: LintFinding['rule'], severity: LintFinding['severity'], message: string) => lint.push({ agent: a.name, file: a.file, rule, severity, message })

    if (chars < s.minDescriptionChars) {
      at(
        'description-too-short',
        'warning',
        chars === 0
          ? 'the description is empty: a router has nothing to match a prompt against'
          : `the description is ${chars} characters (under ${s.minDescriptionChars}): too little for a router to tell when this agent fits; say what it does and when to use it`,
      )
    } else if (a.description.length > s.maxDescriptionChars) {
      at(
        'description-too-long',
        'warning',
        `the description is ${a.description.length.toLocaleString('en-US')} characters ≈ ${t} tokens (over ${s.maxDescriptionChars.toLocaleString('en-US')} ≈ ${Math.ceil(s.maxDescriptionChars / CHARS_PER_TOKEN)}), ${pct(t, total)} of the catalogue's ${total} description tokens, paid on every routing call; keep the trigger and one short example, move the rest into the body`,
      )
    }

    const base = path.basename(a.file, '.md')
    if (base !== a.name) {
      at('name-file-mismatch', 'warning', `the name "${a.name}" differs from the file name "${path.basename(a.file)}"; Claude Code routes by the name, so people looking for the file will not find it — rename one to match the other`)
    }

    if (chars > 0 && !hasTrigger(a.description)) {
      at('missing-trigger', 'info', 'the description never says when to use the agent ("Use this agent when…", "Use PROACTIVELY for…"); routers lean on that sentence — add one up front')
    }

    const twins = (sameText.get(normalise(a.description)) ?? []).filter((o) => o !== a)
    if (chars > 0 && twins.length > 0) {
      at('duplicate-description', 'warning', `the description is the same as ${twins.map((o) => `${o.name} (${o.file})`).join(', ')}: a router cannot choose between them — merge them or rewrite one`)
    }
  }

  // Near-exact copies: one finding per agent, naming every agent it nearly copies.
  const near = new Map<string, Array<{ other: OverlapAgent; text: number }>>()
  for (const p of textPairs) {
    if (p.text < s.nearExactText) continue
    const a = byName.get(p.a)
    const b = byName.get(p.b)
    if (!a || !b || normalise(a.description) === normalise(b.description)) continue
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const list = near.get(x.name)
      if (list) list.push({ other: y, text: p.text })
      else near.set(x.name, [{ other: y, text: p.text }])
    }
  }
  for (const [name, twins] of near) {
    const x = byName.get(name)!
    lint.push({
      agent: x.name,
      file: x.file,
      rule: 'near-duplicate-description',
      severity: 'warning',
      message: `the description is nearly the same text as ${twins.map((t) => `${t.other.name}'s (${t.other.file}; text similarity ${t.text.toFixed(2)})`).join(', ')}: merge them or rewrite one to lead with what only it does`,
    })
  }

  const order = new Map(agents.map((a, i) => [a.name, i]))
  lint.sort((x, y) => order.get(x.agent)! - order.get(y.agent)! || lintRules.indexOf(x.rule) - lintRules.indexOf(y.rule))
  return { lint, tokens }
}

function pct(part: number, total: number): string {
  return `${Math.round((100 * part) / Math.max(1, total))}%`
}
