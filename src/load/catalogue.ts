import crypto from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import type { Dirent } from 'node:fs'
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { isFailure, NO_FRONTMATTER, readFrontmatter, type Frontmatter } from './frontmatter.js'
import { errnoCode, fsFailure, InputError, type Problem } from './input-error.js'

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

export type InvalidAgentFile = {
  file: string
  /** 1 for a problem with the whole file (`whole`) */
  line: number
  reason: string
  fix?: string
  /** the file as a whole: it cannot be read, a symlink to nothing or in a loop, no regular file */
  whole?: true
}

/**
 * What Claude Code passes over and nothing is lost by: a Markdown file that is no agent file at all (no
 * frontmatter: a README, notes), a second path to a file already read, a symlink to nothing not named `*.md`.
 */
export type SkippedFile = { file: string; reason: string; fix?: string }

export type LoadedCatalogue = {
  catalogue: Catalogue
  invalid: InvalidAgentFile[]
  skipped: SkippedFile[]
  warnings: LoadWarning[]
  /** the folders read, in precedence order */
  folders: AgentFolder[]
  /** agents passed over because a folder of higher precedence defines their name */
  shadowed: ShadowedAgent[]
}

/**
 * The routing fingerprint: what the router sees, with runs of whitespace
 * folded, so a re-wrapped or re-indented description is not a change (the
 * gate's --only-if-changed then sends nothing) while any change of words is.
 */
export function agentFingerprint(a: Pick<Agent, 'name' | 'description' | 'tools' | 'disallowedTools'>): string {
  const routing = { name: a.name, description: a.description.replace(/\s+/g, ' ').trim(), tools: a.tools ?? null, disallowedTools: a.disallowedTools ?? null }
  return sha256(JSON.stringify(routing))
}

// crypto.hash (Node 20.12+) hashes in one call, a quarter of createHash's cost: every journal lookup and append hashes a prompt.
const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash

export function sha256(text: string): string {
  return oneShot ? oneShot('sha256', text) : crypto.createHash('sha256').update(text).digest('hex')
}

export function buildCatalogue(agents: Agent[]): Catalogue {
  const sorted = [...agents].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { agents: sorted, fingerprint: sha256(sorted.map((a) => a.fingerprint).join('\n')) }
}

/** Parses one agent file's text; `file` is only used in messages. */
export function parseAgentFile(file: string, text: string): Agent | InvalidAgentFile {
  return parseAgent(file, text).result
}

/** The agent, and the line its body starts on. */
function parseAgent(file: string, text: string): { result: Agent | InvalidAgentFile; bodyLine: number } {
  const fm = readFrontmatter(text)
  if (isFailure(fm)) return { result: { file, ...fm }, bodyLine: 0 }
  return { result: agentOf(file, fm), bodyLine: fm.closeLine + 1 }
}

function agentOf(file: string, fm: Frontmatter): Agent | InvalidAgentFile {
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

/** Something odd about a file that loads all the same: printed, never fatal. */
export type LoadWarning = { file: string; line?: number; message: string }

export const loadWarningText = (w: LoadWarning): string => `${w.file}${w.line !== undefined ? `:${w.line}` : ''}: ${w.message}`

/**
 * Reads one agent file's bytes as Claude Code does: UTF-8, invalid bytes as
 * U+FFFD (Claude Code lists them so), a UTF-16 file not at all. What loads
 * but is odd (bytes that are not UTF-8, control characters in the name or
 * description, a binary body) comes back as warnings.
 */
export function parseAgentBytes(file: string, bytes: Buffer): { result: Agent | InvalidAgentFile; warnings: LoadWarning[] } {
  const utf16 = utf16Text(bytes)
  if (utf16 !== undefined) {
    if (!FENCE_START.test(utf16)) return { result: { file, line: 1, reason: NO_FRONTMATTER }, warnings: [] }
    return {
      result: { file, line: 1, reason: 'the file is saved as UTF-16: Claude Code reads agent files as UTF-8 and passes over this one', fix: 'save it as UTF-8 (in PowerShell, `>` writes UTF-16: use Out-File -Encoding utf8)' },
      warnings: [],
    }
  }
  const { result, bodyLine } = parseAgent(file, bytes.toString('utf8'))
  if (isInvalid(result)) return { result, warnings: [] }
  const warnings: LoadWarning[] = []
  const lines = splitLines(bytes)
  const closeLine = bodyLine - 1
  const notUtf8 = lines.slice(1, closeLine - 1).flatMap((l, i) => (isUtf8(l) ? [] : [i + 2]))
  if (notUtf8.length > 0) {
    warnings.push({
      file,
      line: notUtf8[0]!,
      message: `the frontmatter holds bytes that are not UTF-8 (line${notUtf8.length > 1 ? 's' : ''} ${notUtf8.join(', ')}): Claude Code reads each as U+FFFD (\u{FFFD}) and lists the agent so, and so does routecheck; save the file as UTF-8`,
    })
  }
  for (const [key, line] of [['name', result.nameLine], ['description', result.descriptionLine]] as const) {
    const controls = [...new Set(result[key].match(CONTROL_CHARS) ?? [])]
    if (controls.length > 0) {
      warnings.push({
        file,
        line,
        message: `the ${key} holds control characters (${controls.map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`).join(', ')}): Claude Code passes them to the model as they are; remove them`,
      })
    }
  }
  const body = lines.slice(closeLine)
  if (body.some((l) => l.includes(0) || !isUtf8(l))) {
    warnings.push({
      file,
      line: bodyLine,
      message: 'the body after the frontmatter (the subagent\'s system prompt) is binary, not UTF-8 text: Claude Code still lists the agent, and so does routecheck; the router never sees the body',
    })
  }
  return { result, warnings }
}

const FENCE_START = /^---\s*\r?\n/
/** C0 controls but tab and line breaks, DEL, and C1 controls. */
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g

/** The start of a UTF-16 file's text (it has a byte-order mark, or `---` with NUL bytes between), else undefined. */
function utf16Text(bytes: Buffer): string | undefined {
  const le = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0x2d && bytes[1] === 0 && bytes[2] === 0x2d && bytes[3] === 0)
  const be = (bytes[0] === 0xfe && bytes[1] === 0xff) || (bytes[0] === 0 && bytes[1] === 0x2d && bytes[2] === 0 && bytes[3] === 0x2d)
  if (!le && !be) return undefined
  let text = ''
  for (let i = 0; i + 1 < Math.min(bytes.length, 64); i += 2) text += String.fromCharCode(le ? bytes[i]! | (bytes[i + 1]! << 8) : (bytes[i]! << 8) | bytes[i + 1]!)
  return text.replace(/^\uFEFF/, '')
}

function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = []
  let start = 0
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, i))
    start = i + 1
  }
  lines.push(bytes.subarray(start))
  return lines
}

/** A `*.md` path found in the folder, and the file it is (the same as `file` unless a symlink leads there). */
type Found = {
  file: string
  real: string
  /** no symlink on the way from the folder: the path kept when two paths lead to one file */
  direct: boolean
}

type Discovery = { found: Found[]; invalid: InvalidAgentFile[]; skipped: SkippedFile[] }

const AGENTS_FIX = 'pass --agents DIR with a folder of Claude Code subagent .md files'

/**
 * Walks the folder as Claude Code does (checked with `routecheck agents
 * --verify`): subfolders, dot-folders and folders named `*.md` included;
 * symlinks followed, to files and folders, inside the folder or out, since
 * Claude Code lists what they lead to; a file matched by the name it has in
 * the folder. What Claude Code passes over without a word is never passed
 * over silently here: a symlink to nothing, a symlink loop, a `*.md` that is
 * a pipe or a device, a folder that cannot be read.
 */
async function discover(dir: string): Promise<Discovery> {
  let rootReal: string
  try {
    if (!(await stat(dir)).isDirectory()) {
      throw new InputError([{ file: dir, message: 'the agents path is a file, not a folder', fix: AGENTS_FIX }])
    }
    rootReal = await realpath(dir)
  } catch (e) {
    if (e instanceof InputError) throw e
    const code = errnoCode(e)
    const message = code === 'ENOENT' || code === 'ENOTDIR' ? 'the agents folder does not exist' : `the agents folder cannot be read (${fsFailure(e)})`
    throw new InputError([{ file: dir, message, fix: AGENTS_FIX }])
  }
  const out: Discovery = { found: [], invalid: [], skipped: [] }
  const bad = (file: string, reason: string, fix: string) => out.invalid.push({ file, line: 1, reason, fix, whole: true })

  const walk = async (here: string, real: string, chain: ReadonlySet<string>): Promise<void> => {
    let entries: Dirent[]
    try {
      entries = await readdir(here, { withFileTypes: true })
    } catch (e) {
      bad(here, `this folder cannot be read (${fsFailure(e)}): Claude Code does not see the agents in it either`, 'make it readable (chmod a+rx) or remove it')
      return
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      const file = path.join(here, entry.name)
      const md = entry.name.endsWith('.md')
      let kind: 'file' | 'dir' | string = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : otherKind(entry)
      let target: string | undefined
      if (entry.isSymbolicLink()) {
        target = await readlink(file).catch(() => '?')
        try {
          const st = await stat(file)
          kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : otherKind(st)
        } catch (e) {
          const code = errnoCode(e)
          const reason =
            code === 'ELOOP'
              ? `a symlink loop: ${entry.name} → ${target} leads back to itself`
              : code === 'ENOENT' || code === 'ENOTDIR'
                ? `a symlink to ${target}, which does not exist`
                : `a symlink to ${target}, which cannot be read (${fsFailure(e)})`
          // A dangling *.md link is an agent file Claude Code drops without a word, and a loop is a loop; any other link to nothing is only noted.
          if (md || code === 'ELOOP') bad(file, `${reason}: Claude Code passes over it without a word`, 'remove the symlink, or point it at the agent file or folder it should lead to')
          else out.skipped.push({ file, reason, fix: 'remove the symlink, or point it at what it should lead to' })
          continue
        }
      }
      if (kind === 'dir') {
        const realDir = target === undefined ? path.join(real, entry.name) : await realpath(file)
        if (chain.has(realDir) || real === realDir || real.startsWith(realDir + path.sep)) {
          bad(file, `a symlink loop: it leads to ${target ?? realDir}, a folder that holds it, so the folder would be read again and again; Claude Code stops at the loop without a word`, 'remove the symlink, or point it at a folder outside the agents folder')
          continue
        }
        await walk(file, realDir, new Set([...chain, realDir]))
      } else if (!md) continue
      else if (kind === 'file') out.found.push({ file, real: target === undefined ? path.join(real, entry.name) : await realpath(file), direct: target === undefined && real === path.join(rootReal, path.relative(dir, here)) })
      else bad(file, `not a regular file but ${kind}: Claude Code reads no agent from it`, 'remove it, or replace it with the agent file')
    }
  }
  await walk(dir, rootReal, new Set([rootReal]))
  return out
}

function otherKind(x: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  return x.isFIFO() ? 'a named pipe' : x.isSocket() ? 'a socket' : x.isCharacterDevice() || x.isBlockDevice() ? 'a device' : 'something else'
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
  return loadAgentFolders([dir], opts)
}

/**
 * Where a folder sits in Claude Code's precedence: the user's own folder
 * (`~/.claude/agents`, or `$CLAUDE_CONFIG_DIR/agents`) ranks below any other,
 * a project's `.claude/agents` (code.claude.com/docs/en/sub-agents: "project-level
 * subagents take precedence over user-level subagents").
 */
export type AgentScope = 'project' | 'user'
export type AgentFolder = { dir: string; scope: AgentScope }

/** An agent Claude Code does not list because a folder of higher precedence defines its name. */
export type ShadowedAgent = { name: string; file: string; line: number; by: string }

/** The user-level agents folder Claude Code reads, for an environment. */
export function userAgentsFolder(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const config = env.CLAUDE_CONFIG_DIR?.trim()
  if (config) return path.join(config, 'agents')
  const home = env.HOME?.trim() || env.USERPROFILE?.trim()
  return home ? path.join(home, '.claude', 'agents') : undefined
}

/** Each folder's scope, and the folders in precedence order: project folders, then the user's; a folder given twice counts once. */
export async function rankAgentFolders(dirs: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<AgentFolder[]> {
  const real = async (p: string) => realpath(p).catch(() => path.resolve(p))
  const user = userAgentsFolder(env)
  const userReal = user === undefined ? undefined : await real(user)
  const seen = new Set<string>()
  const folders: AgentFolder[] = []
  for (const dir of dirs) {
    const r = await real(dir)
    if (seen.has(r)) continue
    seen.add(r)
    folders.push({ dir, scope: r === userReal ? 'user' : 'project' })
  }
  return [...folders.filter((f) => f.scope === 'project'), ...folders.filter((f) => f.scope === 'user')]
}

/**
 * Loads one or more agent folders into one catalogue, as Claude Code merges a
 * project's `.claude/agents` with the user's `~/.claude/agents`: where a name
 * is defined in both, the project's wins, and the user's file is listed in
 * `shadowed` with a warning naming both (`routecheck agents --verify` shows
 * Claude Code listing the project's). A name used twice within one scope (one
 * folder, or two project folders, which Claude Code would read as one) is an
 * error: Claude Code keeps whichever its walk meets last. With several
 * folders, one that holds no agent files is a warning as long as another has agents.
 */
export async function loadAgentFolders(
  dirs: readonly string[],
  opts: { skipInvalid?: boolean; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<LoadedCatalogue> {
  if (dirs.length === 0) throw new InputError([{ file: '(none)', message: 'no agents folder given', fix: AGENTS_FIX }])
  const folders = await rankAgentFolders(dirs, opts.env)
  const problems: Problem[] = []
  const loadedFolders: LoadedFolder[] = []
  for (const folder of folders) {
    try {
      loadedFolders.push(await loadFolder(folder.dir))
    } catch (e) {
      if (!(e instanceof InputError)) throw e
      problems.push(...e.problems)
    }
  }
  if (problems.length > 0) throw new InputError(problems)
  const agents: Agent[] = []
  const invalid = loadedFolders.flatMap((f) => f.invalid)
  const skipped = loadedFolders.flatMap((f) => f.skipped)
  const warnings = loadedFolders.flatMap((f) => f.warnings)
  const shadowed: ShadowedAgent[] = []
  const winner = new Map<string, { agent: Agent; scope: AgentScope }>()
  for (const [i, f] of loadedFolders.entries()) {
    const scope = folders[i]!.scope
    if (f.mdFiles === 0 && folders.length > 1) {
      warnings.push({ file: f.dir, message: 'the agents folder holds no .md files' })
    }
    for (const a of f.agents) {
      const first = winner.get(a.name)
      if (first?.scope === scope) {
        // One folder of Claude Code's (two --agents folders of one scope stand for one): which copy it keeps is its walk order's accident.
        problems.push({ file: a.file, line: a.nameLine, message: `duplicate agent name "${a.name}", also used by ${first.agent.file}`, fix: 'give each agent a unique `name:`; Claude Code would keep only one of them' })
        continue
      }
      if (first) {
        shadowed.push({ name: a.name, file: a.file, line: a.nameLine, by: first.agent.file })
        warnings.push({ file: a.file, line: a.nameLine, message: `the agent "${a.name}" is also defined in ${first.agent.file}, which wins (a project's agents take precedence over the user's ~/.claude/agents): Claude Code lists that one and not this, and so does routecheck` })
        continue
      }
      winner.set(a.name, { agent: a, scope })
      agents.push(a)
    }
  }
  // Names equal but for case: Claude Code lists both, as two agents; a router reading the list may not tell them apart.
  const byFolded = new Map<string, Agent>()
  for (const a of agents) {
    const other = byFolded.get(a.name.toLowerCase())
    if (other) {
      warnings.push({ file: a.file, line: a.nameLine, message: `the agent name "${a.name}" differs only in case from "${other.name}" in ${other.file}: Claude Code lists both, as two agents, which a router can hardly tell apart; rename one` })
    } else byFolded.set(a.name.toLowerCase(), a)
  }
  invalid.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
  skipped.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
  if (!opts.skipInvalid) {
    for (const x of invalid) problems.push({ ...placeOf(x), message: x.reason, fix: `${x.fix ?? 'fix the file'}, or pass --skip-invalid to go on without it` })
  }
  if (problems.length > 0) throw new InputError(problems)
  const where = folders.map((f) => f.dir).join(', ')
  if (loadedFolders.every((f) => f.mdFiles === 0)) {
    throw new InputError([{ file: where, message: `the agents folder${folders.length > 1 ? 's hold' : ' holds'} no .md files`, fix: AGENTS_FIX }])
  }
  if (agents.length === 0) {
    // Nothing to route over: list why for every file, even under --skip-invalid.
    throw new InputError([
      ...invalid.map((x) => ({ ...placeOf(x), message: x.reason, fix: x.fix ?? 'fix the file' })),
      ...skipped.map((x) => ({ file: x.file, message: x.reason, fix: x.fix ?? 'give it `---` frontmatter with `name:` and `description:`' })),
      { file: where, message: `no agent in the folder${folders.length > 1 ? 's' : ''} could be loaded`, fix: 'fix the files listed above' },
    ])
  }
  return { catalogue: buildCatalogue(agents), invalid, skipped, warnings, folders, shadowed }
}

type LoadedFolder = { dir: string; agents: Agent[]; invalid: InvalidAgentFile[]; skipped: SkippedFile[]; warnings: LoadWarning[]; /** `*.md` paths found */ mdFiles: number }

/** One folder's files, read and parsed; what to make of them (duplicates, precedence, emptiness) is the caller's. */
async function loadFolder(dir: string): Promise<LoadedFolder> {
  const { found, invalid, skipped } = await discover(dir)
  const mdFiles = found.length + invalid.length
  const agents: Agent[] = []
  const warnings: LoadWarning[] = []
  // One file reached by two paths (a symlink beside its target) is one agent, as Claude Code lists it once.
  const byReal = new Map<string, Found>()
  for (const f of [...found].sort((a, b) => Number(b.direct) - Number(a.direct) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    const first = byReal.get(f.real)
    if (first) skipped.push({ file: f.file, reason: `the same file as ${first.file} (through a symlink)`, fix: 'remove one of the two paths' })
    else byReal.set(f.real, f)
  }
  for (const { file } of [...byReal.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))) {
    let bytes: Buffer
    try {
      bytes = await readFile(file)
    } catch (e) {
      invalid.push({ file, line: 1, reason: `the file cannot be read (${fsFailure(e)}): Claude Code passes over it without a word`, fix: 'make it readable (chmod a+r) or remove it', whole: true })
      continue
    }
    const { result, warnings: odd } = parseAgentBytes(file, bytes)
    if (!isInvalid(result)) {
      agents.push(result)
      warnings.push(...odd)
    } else if (result.reason === NO_FRONTMATTER) skipped.push({ file, reason: 'not an agent file (no frontmatter)' })
    else invalid.push(result)
  }
  return { dir, agents, invalid, skipped, warnings, mdFiles }
}

/** A problem with a whole file (it cannot be read, a symlink to nothing) has no line. */
function placeOf(x: InvalidAgentFile): { file: string; line?: number } {
  return x.whole ? { file: x.file } : { file: x.file, line: x.line }
}
