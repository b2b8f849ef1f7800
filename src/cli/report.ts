import path from 'node:path'
import { compareDataset, decideGate, diffAgents } from '../gate/compare.js'
import { loadConfig } from '../load/config.js'
import { UsageError } from '../load/input-error.js'
import type { GateOutcome } from '../report/gate-text.js'
import { renderHtml } from '../report/html.js'
import { writeAtomic } from '../report/run-folder.js'
import type { Summary } from '../report/summary.js'
import type { Flags } from './flags.js'
import { nearDuplicatePairs, readBaseline, readRuns, refuseMismatch } from './gate.js'
import { EXIT, type CommandIO } from './io.js'

/**
 * `routecheck report RUN_DIR [--baseline FILE]`: rebuilds RUN_DIR/report.html
 * from RUN_DIR/summary.json, routing nothing. With a baseline, the page leads
 * with the before/after the gate would show for this run: the same
 * comparison and rules, from the saved decisions.
 */
export async function reportCommand(flags: Flags, io: CommandIO, args: string[]): Promise<number> {
  if (args.length !== 1) throw new UsageError(`report takes one run folder (routecheck report RUN_DIR [--baseline FILE]); got ${args.length === 0 ? 'none' : args.length}`)
  const target = args[0]!
  const [summary] = await readRuns([target])
  const dir = target.endsWith('.json') ? path.dirname(target) : target
  const gate = flags.baseline !== undefined ? await gateOutcome(summary!, flags.baseline, flags.config) : undefined
  const file = await writeAtomic(path.join(dir, 'report.html'), renderHtml(summary!, gate))
  const verdict = gate ? ` (gate ${gate.verdict.passed ? 'passed' : 'failed'} against ${flags.baseline})` : ''
  io.out(`wrote ${file}${verdict}\n`)
  return EXIT.ok
}

/** The gate's comparison of a saved run with the baseline, as `routecheck gate RUN_DIR` makes it. */
async function gateOutcome(summary: Summary, baselineFile: string, configFile: string | undefined): Promise<GateOutcome> {
  const baseline = await readBaseline(baselineFile)
  const { config } = await loadConfig(configFile)
  refuseMismatch(baseline, baselineFile, summary.router.id, [summary.dataset])
  const base = baseline.datasets.find((d) => d.path === summary.dataset.path)!
  const changes = diffAgents(baseline.agents, summary.agents, summary.invalidAgents)
  const names = [...new Set([...baseline.agents.map((a) => a.name), ...summary.agents.map((a) => a.name)])].sort()
  const comparison = compareDataset(base, summary.cases, names)
  // The gate's fourth rule looks at the descriptions alone; a summary without them cannot add a pair.
  const described = summary.agents.flatMap((a) => (a.description !== undefined ? [{ name: a.name, description: a.description, file: a.file }] : []))
  const after = described.length === summary.agents.length ? nearDuplicatePairs(described) : baseline.nearDuplicatePairs
  const verdict = decideGate([comparison], { before: baseline.nearDuplicatePairs, after }, config.gate)
  return {
    baselineFile,
    routerId: baseline.router.id,
    changes,
    comparisons: [comparison],
    verdict,
    baselineAgents: baseline.agents.map(({ name, description }) => ({ name, description })),
  }
}
