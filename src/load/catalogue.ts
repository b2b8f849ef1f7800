import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { isFailure, NO_FRONTMATTER, readFrontmatter } from './frontmatter.js'
import { InputError, type Problem } from './input-error.js'

/** Claude Code accepts `tools: Read, Grep` and `tools: [Read, Grep]` alike. */
const toolList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((t) => t.trim()).filter((t) => t.length > 0))

export const agentFrontmatterSchema = z.looseObject({
  name: z
    .string({ error: 'needs a string `name`' })
    .trim()
    .min(1, 'has an empty `name`')
    .refine((n) => !n.includes(':'), 'has a `name` with ":", which Claude Code keeps for plugin agents (plugin:agent)'),
  // Claude Code lists a description trimmed.
  description: z
    .string({ error: 'needs a string `description`' })
    .trim()
    .refine((d) => d.length > 0, 'has an empty `description`'),
  tools: toolList.optional(),
  disallowedTools: toolList.optional(),
  model: z.string().optional(),
})

export type Agent = z.infer<typeof agentFrontmatterSchema> & {
  /** path as given by the user, for messages and reports */
  file: string
  /** lines of the `name:` and `description:` keys, for messages */
  nameLine: number
  descriptionLine: number
  /** the system prompt: kept, never shown to the router */
  body: string
  /** sha256 of the routing-relevant fields */
  fingerprint: string
  /** strict YAML failed and Claude Code's quoting retry was needed */
  quotingRetry: boolean
  /** a `---` inside a value ended the frontmatter on this line, as Claude Code reads it: the description is cut there */
  cutAt?: number
}

export type Catalogue = {
  /** sorted by name (code-unit order), so prompts built from it are byte-stable */
  agents: Agent[]
  fingerprint: string
}

export type InvalidAgentFile = { file: string; line: number; reason: string; fix?: string }

/** A Markdown file that is no agent file at all (no frontmatter: a README, notes): Claude Code passes over it, and so does routecheck. */
export type SkippedFile = { file: string; reason: string }

export type LoadedCatalogue = { catalogue: Catalogue; invalid: InvalidAgentFile[]; skipped: SkippedFile[] }

/**
 * The routing fingerprint: what the router sees, with runs of whitespace
 * folded, so a re-wrapped or re-indented description is not a change (the
 * gate's --only-if-changed then sends nothing) while any change of words is.
 */
export function agentFingerprint(a: Pick<Agent, 'name' | 'description' | 'tools' | 'disallowedTools'>): string {
  const routing = { name: a.name, description: a.description.replace(/\s+/g, ' ').trim(), tools: a.tools ?? null, disallowedTools: a.disallowedTools ?? null }
  return sha256(JSON.stringify(routing))
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

export function buildCatalogue(agents: Agent[]): Catalogue {
  const sorted = [...agents].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { agents: sorted, fingerprint: sha256(sorted.map((a) => a.fingerprint).join('\n')) }
}

/** Parses one agent file's text; `file` is only used in messages. */
export function parseAgentFile(file: string, text: string): Agent | InvalidAgentFile {
  const fm = readFrontmatter(text)
  if (isFailure(fm)) return { file, ...fm }
  const parsed = agentFrontmatterSchema.safeParse(fm.data)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const key = String(issue.path[0] ?? 'name')
    return {
      file,
      line: fm.keyLines[key] ?? 2,
      reason: `Claude Code would skip this agent: the frontmatter ${issue.message}${issue.path.length > 0 && !issue.message.includes('`') ? ` (at \`${key}\`)` : ''}`,
      fix: `add a \`${key}: …\` line with a non-empty text value`,
    }
  }
  const agent = parsed.data
  return {
    ...agent,
    file,
    nameLine: fm.keyLines.name ?? 2,
    descriptionLine: fm.keyLines.description ?? 2,
    body: fm.body,
    fingerprint: agentFingerprint(agent),
    quotingRetry: fm.quotingRetry,
    ...(fm.cutAt !== undefined ? { cutAt: fm.cutAt } : {}),
  }
}

function isInvalid(x: Agent | InvalidAgentFile): x is InvalidAgentFile {
  return 'reason' in x
}

/**
 * Loads every `*.md` under `dir`, subfolders included, as Claude Code
 * discovers agents (the extension is matched as Claude Code matches it: `.md`,
 * lower case). A file without frontmatter is no agent file: it is skipped and
 * listed. Files Claude Code would silently drop are never dropped silently:
 * they fail the load unless `skipInvalid`, and are returned in `invalid`
 * either way. Duplicate names always fail: which one Claude Code keeps is not
 * something a user should have to guess.
 */
export async function loadCatalogue(dir: string, opts: { skipInvalid?: boolean } = {}): Promise<LoadedCatalogue> {
  let entries: string[]
  try {
    entries = ((await readdir(dir, { recursive: true })) as string[]).filter((f) => f.endsWith('.md')).sort()
  } catch {
    throw new InputError([{ file: dir, message: 'the agents folder does not exist or cannot be read', fix: 'pass --agents DIR with a folder of Claude Code subagent .md files' }])
  }
  if (entries.length === 0) {
    throw new InputError([{ file: dir, message: 'the agents folder holds no .md files', fix: 'pass --agents DIR with a folder of Claude Code subagent .md files' }])
  }
  const agents: Agent[] = []
  const invalid: InvalidAgentFile[] = []
  const skipped: SkippedFile[] = []
  for (const entry of entries) {
    const file = path.join(dir, entry)
    const result = parseAgentFile(file, await readFile(file, 'utf8'))
    if (!isInvalid(result)) agents.push(result)
    else if (result.reason === NO_FRONTMATTER) skipped.push({ file, reason: 'not an agent file (no frontmatter)' })
    else invalid.push(result)
  }

  const problems: Problem[] = []
  const byName = new Map<string, Agent>()
  for (const a of agents) {
    const other = byName.get(a.name)
    if (other) {
      problems.push({
        file: a.file,
        line: a.nameLine,
        message: `duplicate agent name "${a.name}", also used by ${other.file}`,
        fix: 'give each agent a unique `name:`; Claude Code would keep only one of them',
      })
    } else byName.set(a.name, a)
  }
  if (!opts.skipInvalid) {
    for (const bad of invalid) problems.push({ file: bad.file, line: bad.line, message: bad.reason, fix: `${bad.fix ?? 'fix the file'}, or pass --skip-invalid to go on without it` })
  }
  if (problems.length > 0) throw new InputError(problems)
  if (agents.length === 0) {
    // Nothing to route over: list why for every file, even under --skip-invalid.
    throw new InputError([
      ...invalid.map((bad) => ({ file: bad.file, line: bad.line, message: bad.reason, fix: bad.fix ?? 'fix the file' })),
      ...skipped.map((x) => ({ file: x.file, message: x.reason, fix: 'give it `---` frontmatter with `name:` and `description:`' })),
      { file: dir, message: 'no agent in the folder could be loaded', fix: 'fix the files listed above' },
    ])
  }
  return { catalogue: buildCatalogue(agents), invalid, skipped }
}
