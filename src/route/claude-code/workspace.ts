import { rmSync } from 'node:fs'
import { copyFile, cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { Agent, AgentFolder, Catalogue } from '../../load/catalogue.js'
import { UsageError } from '../../load/input-error.js'

/**
 * Where the engine runs: a throwaway project folder whose .claude/agents/ holds the catalogue,
 * and a private HOME (and CLAUDE_CONFIG_DIR) so nothing of the user's ~/.claude takes part.
 * One per catalogue, shared by its cases: the project path and config dir appear in Claude
 * Code's system prompt, so keeping them fixed keeps every case's request the same but for the
 * prompt (and its prompt cache warm).
 */
export type Workspace = {
  root: string
  project: string
  home: string
  configDir: string
  /** the private ~/.claude/agents holds agents: the engine is asked to read the user's settings too */
  userAgents?: true
}

const live = new Set<string>()
let exitHookInstalled = false

/** A router that is never closed still leaves nothing behind in the temp folder. */
function removeOnExit(root: string): void {
  live.add(root)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const dir of live) rmSync(dir, { recursive: true, force: true })
  })
}

export async function createWorkspace(catalogue: Catalogue, opts: { from?: string; agentsFolders?: readonly AgentFolder[] } = {}): Promise<Workspace> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'routecheck-claude-code-'))
  removeOnExit(root)
  const ws: Workspace = { root, project: path.join(root, 'project'), home: path.join(root, 'home'), configDir: path.join(root, 'home', '.claude') }
  try {
    if (opts.from !== undefined) await copyProject(opts.from, ws.project)
    await mkdir(ws.configDir, { recursive: true })
    const agents = path.join(ws.project, '.claude', 'agents')
    // The catalogue under test replaces whatever agents the copied project had.
    await rm(agents, { recursive: true, force: true })
    if (opts.agentsFolders !== undefined) {
      // Each scope's folders side by side in Claude Code's own folder for that scope (it reads subfolders too).
      for (const [scope, target] of [['project', agents], ['user', path.join(ws.configDir, 'agents')]] as const) {
        const folders = opts.agentsFolders.filter((f) => f.scope === scope)
        for (const [i, f] of folders.entries()) await cp(f.dir, folders.length === 1 ? target : path.join(target, String(i + 1)), { recursive: true })
      }
      return opts.agentsFolders.some((f) => f.scope === 'user') ? { ...ws, userAgents: true } : ws
    }
    await mkdir(agents, { recursive: true })
    const used = new Set<string>()
    for (const agent of catalogue.agents) await placeAgent(agent, agents, used)
    return ws
  } catch (e) {
    await removeWorkspace(ws)
    throw e
  }
}

export async function removeWorkspace(ws: Workspace): Promise<void> {
  await rm(ws.root, { recursive: true, force: true })
  live.delete(ws.root)
}

/** A copy, so the engine can never change the real project; node_modules is left out (large, and never routing context). */
async function copyProject(from: string, to: string): Promise<void> {
  const source = path.resolve(from)
  if (!(await stat(source).catch(() => undefined))?.isDirectory()) throw new UsageError(`the claude-code workspace ${from} is not a folder`)
  await cp(source, to, { recursive: true, verbatimSymlinks: true, filter: (src) => path.basename(src) !== 'node_modules' })
}

/** The agent's own file, byte for byte; rebuilt from its parsed fields only when that file is gone. */
async function placeAgent(agent: Agent, dir: string, used: Set<string>): Promise<void> {
  let name = path.basename(agent.file)
  if (!name.endsWith('.md')) name = `${agent.name}.md`
  for (let i = 2; used.has(name); i++) name = `${agent.name}-${i}.md`
  used.add(name)
  const target = path.join(dir, name)
  try {
    await copyFile(agent.file, target)
  } catch {
    await writeFile(target, renderAgentFile(agent))
  }
}

function renderAgentFile(a: Agent): string {
  const lines = ['---', `name: ${JSON.stringify(a.name)}`, `description: ${JSON.stringify(a.description)}`]
  if (a.tools) lines.push(`tools: ${JSON.stringify(a.tools.join(', '))}`)
  if (a.disallowedTools) lines.push(`disallowedTools: ${JSON.stringify(a.disallowedTools.join(', '))}`)
  if (a.model) lines.push(`model: ${JSON.stringify(a.model)}`)
  return `${lines.join('\n')}\n---\n${a.body}`
}
