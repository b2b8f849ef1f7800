import { loadAgentFolders, loadWarningText } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { renderOverlapText } from '../overlap/index.js'
import { overlapOfRuns } from '../run/evaluate.js'
import { readRuns } from '../run/read.js'
import { defineCommand } from './command.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

/** The overlap text wraps at the terminal's width, within these bounds (and at the default where there is no terminal). */
const WIDTH = { default: 100, max: 120 }

export const overlapCommand = defineCommand({
  name: 'overlap',
  summary: 'find near-duplicate agents, with the evidence and what to do; lint the agent files',
  args: { usage: '[RUN_DIR...]', what: 'run folders', min: 0, max: Infinity },
  description: `Scores every pair of agents for overlap and prints the top pairs, the clusters
of near-duplicates (what each member has that the others lack, the prompts only
it wins, and a suggestion: merge or reword), and lint findings (descriptions
too short or too long, with their token cost; names that differ from the file
name; copied descriptions; files Claude Code would drop). With no run folder it
uses the descriptions alone; run folders (from eval) add confusion,
co-acceptance, split votes and low score margins.`,
  options: pick(['config', 'agents', 'skip-invalid', 'json', 'no-color'], {
    'skip-invalid': 'list files Claude Code would drop instead of failing on them',
    json: 'print the report as JSON',
  }),
  footer: 'Exit codes: 0 ok · 2 bad input or usage',
  async run(flags, io, runDirs) {
    const { config } = await loadConfig(flags.config)
    const loaded = await loadAgentFolders(flags.agents ?? config.agents, { skipInvalid: flags.skipInvalid, env: io.env })
    for (const w of loaded.warnings) io.warn(`warning: ${loadWarningText(w)}\n`)
    const runs = await readRuns(runDirs)
    runs.forEach((r, i) => {
      if (r.catalogueFingerprint !== loaded.catalogue.fingerprint) io.warn(`note: ${runDirs[i]} was routed with other agent descriptions than ${(flags.agents ?? config.agents).join(' + ')} has now: its routing evidence is about those\n`)
    })
    const report = overlapOfRuns(
      loaded.catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file })),
      runs,
      loaded.invalid.map(({ file, line, reason }) => ({ file, line, reason })),
    )
    if (flags.json) io.out(`${JSON.stringify(report, null, 2)}\n`)
    else io.out(`${renderOverlapText(report, { color: io.color, width: Math.min(io.columns || WIDTH.default, WIDTH.max) })}\n`)
    return EXIT.ok
  },
})
