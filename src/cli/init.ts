import path from 'node:path'
import { FROM_DESCRIPTION_WARNING } from '../draft/examples.js'
import { loadWarningText } from '../load/catalogue.js'
import { UsageError } from '../load/input-error.js'
import { DEFAULT_CONFIG_FILE } from '../load/config.js'
import { GENERATED_DATASET, initProject, STARTER_DATASET } from '../run/init.js'
import { defineCommand } from './command.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

export const initCommand = defineCommand({
  name: 'init',
  summary: 'set routecheck up in a repository: find the agents, write the config and a starter dataset',
  description: `Finds the agents where Claude Code keeps them (.claude/agents, subfolders
included; else agents/), writes routecheck.config.json pointing at them and
at a starter dataset, writes that dataset, and prints the next three commands.

The starter dataset lets \`routecheck eval\` run at once, offline: the user
turns of the descriptions' own <example> blocks (tagged from-description: the
router reads those very words, so they flatter it) and six out-of-scope
prompts labelled none (so a router that delegates everything does not look
perfect). For an honest number, draft prompts the router has not seen with
\`routecheck generate\`, and review them.

Never overwrites a file: an existing config or dataset is exit 2 naming it,
unless --force.`,
  options: pick(['agents', 'config', 'dataset', 'force'], {
    config: `the config file to write (default: ${DEFAULT_CONFIG_FILE})`,
    dataset: `the starter dataset to write (default: ${STARTER_DATASET})`,
  }),
  footer: 'Exit codes: 0 written · 2 no agents found, a file exists (without --force), or bad input',
  async run(flags, io) {
    if ((flags.dataset?.length ?? 0) > 1) throw new UsageError('init writes one starter dataset: give --dataset once')
    const r = await initProject({ agents: flags.agents, config: flags.config, dataset: flags.dataset?.[0], force: flags.force }, io.env)
    const { loaded } = r
    for (const w of loaded.warnings) io.warn(`warning: ${loadWarningText(w)}\n`)
    for (const bad of loaded.invalid) io.warn(`warning: ${bad.file}:${bad.line}: ${bad.reason} (eval stops on it until it is fixed, or pass --skip-invalid)\n`)
    const folders = loaded.folders.map((f) => f.dir).join(' + ')
    const inSubfolder = (file: string) => loaded.folders.some((f) => {
      const rel = path.relative(f.dir, file)
      return !rel.startsWith('..') && path.dirname(rel) !== '.'
    })
    const nested = loaded.catalogue.agents.filter((a) => inSubfolder(a.file)).length
    const lines = [
      `found ${loaded.catalogue.agents.length} agents in ${folders}${nested > 0 ? ` (${nested} in subfolders)` : ''}${loaded.skipped.length > 0 ? `; passed over ${loaded.skipped.map((s) => s.file).join(', ')} (${loaded.skipped.length === 1 ? 'not an agent file' : 'not agent files'}, passed over as Claude Code does)` : ''}`,
      `${r.replaced.includes(r.configFile) ? 'replaced' : 'wrote'} ${r.configFile}`,
      `${r.replaced.includes(r.datasetFile) ? 'replaced' : 'wrote'} ${r.datasetFile}: ${r.fromExamples.length} prompts from the <example> blocks of ${r.withExamples.length} of ${loaded.catalogue.agents.length} agents (tagged from-description) and ${r.outOfScope.length} out-of-scope prompts (labelled none)`,
    ]
    if (r.userFolder) lines.push(`note: ${r.userFolder.dir} holds ${r.userFolder.agents} agent${r.userFolder.agents === 1 ? '' : 's'} of your own, which Claude Code lists beside these; the config leaves them out (it is shared), add --agents ${r.userFolder.dir} to a command to route over both`)
    io.out(`${lines.join('\n')}\n`)
    if (r.fromExamples.length > 0) io.warn(`warning: ${FROM_DESCRIPTION_WARNING}\n`)
    else io.warn(`note: no description has <example> blocks, so the starter dataset holds only the out-of-scope prompts: eval measures how often the router leaves them alone, nothing more; draft the rest with routecheck generate\n`)
    io.out(`
next:
  npx routecheck eval                  score the starter dataset now (offline, lexical router)
  npx routecheck generate --dry-run    see what drafting a real dataset with Claude would send and cost
  npx routecheck generate              draft it into ${GENERATED_DATASET} (needs ANTHROPIC_API_KEY), then review every row
`)
    return EXIT.ok
  },
})
