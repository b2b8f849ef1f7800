import { renderRunsTable, renderScorecard } from '../report/terminal.js'
import { writeReports } from '../report/write.js'
import { completion, dryRunReport, prepareEval, runDatasets, type DatasetsRun } from '../run/evaluate.js'
import { summaryJson } from '../run/record.js'
import { defineCommand } from './command.js'
import { EXIT, type CommandIO } from './io.js'
import { pick } from './options.js'

/** The flags that say what to route and how: `eval`, `baseline` and `gate` share them. */
export const ROUTING_FLAGS = ['config', 'agents', 'dataset', 'skip-invalid', 'router', 'model', 'style', 'claude-bin', 'workspace', 'repeats', 'concurrency', 'timeout', 'max-cost', 'no-cache'] as const

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'route every dataset prompt, score it, write the run folder, print the scorecard',
  description: `Routes every prompt of each dataset with the router, scores the decisions
against the labels, writes summary.json, results.jsonl, report.html, report.md
and junit.xml to the run folder, and prints a scorecard (stdout). Progress
goes to stderr.`,
  stoppable: true,
  options: pick([...ROUTING_FLAGS, 'dry-run', 'out', 'json', 'no-color'], { json: 'print summary.json to stdout instead of the scorecard' }),
  footer: 'Exit codes: 0 ok · 2 bad input or usage · 3 some cases have no decision',
  async run(flags, io) {
    const setup = await prepareEval(flags, io)
    try {
      if (flags.dryRun) {
        io.out(dryRunReport(setup))
        return EXIT.ok
      }
      const run = await runDatasets(setup, io, {
        signal: io.signal,
        onRun: async (summary, dir, dataset) => {
          await writeReports(dir, summary, dataset.cases)
          io.warn(`wrote ${dir}/ (summary.json, results.jsonl, report.html, report.md, junit.xml)\n`)
          if (!flags.json) io.out(`\n${renderScorecard(summary, { color: io.color })}\n`)
        },
      })
      if (run.fatal) return fatalExit(run.fatal, io)
      const { summaries } = run
      if (flags.json) io.out(summaries.length === 1 ? summaryJson(summaries[0]!) : `[\n${summaries.map((s) => summaryJson(s).trimEnd()).join(',\n')}\n]\n`)
      else if (summaries.length > 1) io.out(`\n${renderRunsTable(summaries, { color: io.color })}\n`)
      return completionExit(completion(summaries, flags.maxCost), io)
    } finally {
      await setup.router.close?.()
    }
  },
})

/** A router that cannot succeed at all: a bad key or unknown model is bad input (2); an unreachable server leaves the run incomplete (3). */
export function fatalExit(fatal: NonNullable<DatasetsRun['fatal']>, io: CommandIO): number {
  io.warn(`routecheck: ${fatal.message}\n`)
  return fatal.unreachable ? EXIT.incomplete : EXIT.badInput
}

/** Exit 3, with what to do, when some case has no decision; else 0. */
export function completionExit(done: { complete: boolean; notes: readonly string[] }, io: CommandIO): number {
  for (const note of done.notes) io.warn(`${note}\n`)
  return done.complete ? EXIT.ok : EXIT.incomplete
}
