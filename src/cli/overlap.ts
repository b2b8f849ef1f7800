import { loadCatalogue } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { analyseOverlap, renderOverlapText } from '../overlap/index.js'
import type { Flags } from './flags.js'
import { readRuns } from './gate.js'
import { EXIT, type CommandIO } from './io.js'

/**
 * `routecheck overlap`: which agents are near-duplicates, with the evidence.
 * Text alone needs no router and no dataset; run folders given as arguments
 * add their routing signals (confusion, co-acceptance, split votes, margins).
 */
export async function overlapCommand(flags: Flags, io: CommandIO, runDirs: string[]): Promise<number> {
  const { config } = await loadConfig(flags.config)
  const loaded = await loadCatalogue(flags.agents ?? config.agents, { skipInvalid: flags['skip-invalid'] })
  const runs = await readRuns(runDirs)
  const cases = runs.flatMap((r) => r.cases)
  const report = analyseOverlap({
    agents: loaded.catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file })),
    ...(cases.length > 0 ? { cases } : {}),
    invalid: loaded.invalid.map(({ file, line, reason }) => ({ file, line, reason })),
  })
  if (flags.json) io.out(`${JSON.stringify(report, null, 2)}\n`)
  else io.out(`${renderOverlapText(report, { color: io.color, width: Math.min(process.stdout.columns || 100, 120) })}\n`)
  return EXIT.ok
}
