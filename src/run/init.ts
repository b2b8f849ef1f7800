import { existsSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { exampleTurns, rowsFromExamples } from '../draft/examples.js'
import { outOfScopeStarterRows } from '../draft/starter.js'
import { loadAgentFolders, userAgentsFolder, type LoadedCatalogue } from '../load/catalogue.js'
import { DEFAULT_CONFIG_FILE } from '../load/config.js'
import { formatDatasetCsv, type DatasetRow } from '../load/dataset.js'
import { InputError, type Problem } from '../load/input-error.js'
import { writeAtomic } from './files.js'

/**
 * `routecheck init`: from a repository with agents to a first scorecard. It
 * finds the agents where Claude Code keeps them, writes routecheck.config.json
 * and a starter dataset that `eval` scores at once, offline, and never
 * overwrites a file unless asked to.
 */

/** Where init looks for agents, in order: Claude Code's project folder, then a plain agents/ folder. */
export const AGENT_FOLDER_CANDIDATES = [path.join('.claude', 'agents'), 'agents'] as const
export const STARTER_DATASET = path.join('routecheck', 'starter.csv')
/** Where `generate` writes by default, beside the starter. */
export const GENERATED_DATASET = path.join('routecheck', 'generated.csv')

export type InitRequest = {
  agents?: string[] | undefined
  /** the config file to write (default routecheck.config.json) */
  config?: string | undefined
  /** the starter dataset to write (default routecheck/starter.csv) */
  dataset?: string | undefined
  force: boolean
}

export type InitResult = {
  configFile: string
  datasetFile: string
  loaded: LoadedCatalogue
  fromExamples: DatasetRow[]
  outOfScope: DatasetRow[]
  /** agents whose descriptions gave rows */
  withExamples: string[]
  /** files that existed and were replaced (--force) */
  replaced: string[]
  /** the user's own ~/.claude/agents, when it holds agents: Claude Code lists them too, but a shared config should not name a personal folder */
  userFolder?: { dir: string; agents: number }
}

export async function initProject(request: InitRequest, env: Readonly<Record<string, string | undefined>>): Promise<InitResult> {
  const configFile = request.config ?? DEFAULT_CONFIG_FILE
  const datasetFile = request.dataset ?? STARTER_DATASET
  const agents = request.agents ?? [findAgentsFolder()]
  const existing = [configFile, datasetFile].filter((f) => existsSync(f))
  if (existing.length > 0 && !request.force) {
    throw new InputError(existing.map((file): Problem => ({ file, message: 'already exists; routecheck init never overwrites a file', fix: `pass --force to replace it, or ${file === configFile ? '--config' : '--dataset'} FILE to write elsewhere` })))
  }
  const loaded = await loadAgentFolders(agents, { skipInvalid: true, env })
  const fromExamples = rowsFromExamples(loaded.catalogue)
  const outOfScope = outOfScopeStarterRows()
  const base = path.dirname(configFile)
  const relative = (p: string) => (path.isAbsolute(p) ? p : path.relative(base, p) || '.')
  const config = { agents: agents.length === 1 ? relative(agents[0]!) : agents.map(relative), datasets: [relative(datasetFile)], router: 'lexical' }
  await mkdir(path.dirname(datasetFile), { recursive: true })
  await writeAtomic(datasetFile, formatDatasetCsv([...fromExamples, ...outOfScope]))
  await mkdir(base, { recursive: true })
  await writeAtomic(configFile, `${JSON.stringify(config, null, 2)}\n`)
  const user = userAgentsFolder(env)
  const userAgents = user !== undefined && !agents.some((a) => path.resolve(a) === path.resolve(user)) ? await agentCount(user, env) : 0
  return {
    configFile,
    datasetFile,
    loaded,
    fromExamples,
    outOfScope,
    withExamples: loaded.catalogue.agents.filter((a) => exampleTurns(a.description).length > 0).map((a) => a.name),
    replaced: existing,
    ...(userAgents > 0 ? { userFolder: { dir: user!, agents: userAgents } } : {}),
  }
}

/** The first of AGENT_FOLDER_CANDIDATES that is a folder here, or exit 2 naming where it looked. */
function findAgentsFolder(): string {
  const found = AGENT_FOLDER_CANDIDATES.find((c) => statSync(c, { throwIfNoEntry: false })?.isDirectory())
  if (found) return found
  throw new InputError([
    {
      file: process.cwd(),
      message: `no agents found here: neither ${AGENT_FOLDER_CANDIDATES.join(' nor ')} is a folder`,
      fix: 'run routecheck init in the repository root (where .claude/ is), or pass --agents DIR',
    },
  ])
}

/** How many agents a folder holds; 0 when it cannot be loaded at all. */
async function agentCount(dir: string, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  try {
    return (await loadAgentFolders([dir], { skipInvalid: true, env })).catalogue.agents.length
  } catch {
    return 0
  }
}
