import { UsageError } from '../load/input-error.js'
import { outputWidth, renderCatalogue, renderFailures, renderRunsTable, renderScorecard } from '../report/terminal.js'
import { writeReports } from '../report/write.js'
import { combinedOverlap, completion, dryRunReport, prepareEval, runDatasets, type DatasetsRun } from '../run/evaluate.js'
import { checkFilter, filterSummary, isFiltering, type FilteredSummary, type RunFilter } from '../run/filter.js'
import { summaryJson, type Summary } from '../run/record.js'
import { defineCommand } from './command.js'
import { EXIT, type CommandIO } from './io.js'
import { pick } from './options.js'
import { phaseEnd } from '../text/timing.js'

/** The flags that say what to route and how: `eval`, `baseline` and `gate` share them. */
export const ROUTING_FLAGS = ['config', 'agents', 'dataset', 'skip-invalid', 'router', 'model', 'style', 'claude-bin', 'workspace', 'repeats', 'concurrency', 'timeout', 'max-cost', 'no-cache'] as const
/** The flags that send requests through the Message Batches API: the router's (eval, baseline, gate, improve) and Claude's drafting requests (generate, improve). */
export const BATCH_FLAGS = ['batch', 'batch-poll'] as const

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'route every dataset prompt, score it, write the run folder, print the scorecard',
  description: `Routes every prompt of each dataset with the router, scores the decisions
against the labels, writes summary.json, results.jsonl, report.html, report.md,
junit.xml and confusion.csv to the run folder, and prints a scorecard per
dataset (stdout), fitted to the terminal's width, then the overlap and lint of
the agents once. Progress goes to stderr.

The run folder is checked before the first request (a file, the agents folder,
a folder holding a dataset or files routecheck did not write, or one that
cannot be written is exit 2), written to a hidden sibling and put in place
whole when the run ends: it always holds one whole run.

--agent and --tag choose the cases shown and scored on screen (and by --json);
the run folder always holds the whole run, every case and the whole run's
scores, so the gate, compare and report read the same files either way.

--shard K/N routes the cases of shard K of N (by a hash of each case id), on
one of N machines; routecheck merge joins the N shard folders into the run.
With --max-cost it keeps to its share of that cap, which is the whole run's:
cap × this shard's estimated cost / every shard's (--dry-run prints them).`,
  stoppable: true,
  options: pick([...ROUTING_FLAGS, ...BATCH_FLAGS, 'shard', 'dry-run', 'out', 'json', 'no-color', 'only-failures', 'agent', 'tag'], { json: "print summary.json to stdout instead of the scorecard (with --agent or --tag, the chosen cases' summary, with a \"filter\" key)" }),
  footer: 'Exit codes: 0 ok · 2 bad input or usage · 3 some cases have no decision, or the run folder could not be written',
  async run(flags, io) {
    if (flags.onlyFailures && flags.json) throw new UsageError('--only-failures lists cases under the scorecard, and --json prints no scorecard; in the JSON, the misrouted cases are those with "correct": false')
    const setup = await prepareEval(flags, io)
    const filter: RunFilter = { agents: flags.agent, tags: flags.tag }
    if (isFiltering(filter)) {
      const tags = [...new Set(setup.datasets.flatMap((d) => d.cases.flatMap((c) => c.tags)))].sort()
      checkFilter(filter, { agents: setup.loaded.catalogue.agents.map((a) => a.name), tags })
    }
    try {
      if (flags.dryRun) {
        io.out(dryRunReport(setup))
        return EXIT.ok
      }
      const printer = runPrinter(flags, io, filter)
      const run = await runDatasets(setup, io, {
        signal: io.signal,
        reports: async (summary, staging, dataset) => void (await writeReports(staging, summary, dataset.cases)),
        onRun: async (summary, dir, _dataset, { dropped }) => printer.onRun(summary, dir, dropped),
      })
      if (run.fatal) return fatalExit(run.fatal, io)
      printer.finish(run.summaries)
      return completionExit(completion(run.summaries, flags.maxCost), io)
    } finally {
      await setup.folders?.discardAll()
      await setup.router.close?.()
    }
  },
})

/**
 * What eval prints: each run's scorecard as its folder lands (or, with
 * --json, every summary at the end), then the runs side by side and the
 * catalogue's overlap and lint once. `merge` prints the same.
 */
export function runPrinter(flags: { json: boolean; onlyFailures?: boolean }, io: CommandIO, filter: RunFilter = { agents: [], tags: [] }) {
  const style = { color: io.color, width: outputWidth(io.columns), terminal: io.columns !== undefined }
  const shown: FilteredSummary[] = []
  return {
    onRun(summary: Summary, dir: string, dropped: readonly string[]): void {
      const shard = summary.shard ? ` as shard ${summary.shard.index}/${summary.shard.count} (${summary.dataset.cases} of ${summary.shard.datasetCases} cases)` : ''
      io.warn(`wrote ${dir}/ (summary.json, results.jsonl, report.html, report.md, junit.xml) and confusion.csv${shard}${dropped.length > 0 ? `; removed ${dropped.join(', ')} from an earlier run` : ''}\n`)
      const view = isFiltering(filter) ? filterSummary(summary, filter) : summary
      shown.push(view)
      if (flags.json) return
      io.out(`\n${renderScorecard(view, style)}\n`)
      if (flags.onlyFailures) io.out(`\n${renderFailures(view, style)}\n`)
      phaseEnd('scorecard')
    },
    finish(summaries: readonly Summary[]): void {
      if (flags.json) io.out(shown.length === 1 ? summaryJson(shown[0]!) : `[\n${shown.map((s) => summaryJson(s).trimEnd()).join(',\n')}\n]\n`)
      else {
        if (summaries.length > 1) io.out(`\n${renderRunsTable(shown, style)}\n`)
        if (summaries.length > 0) io.out(`\n${renderCatalogue(combinedOverlap(summaries), summaries[0]!.invalidAgents, style)}\n`)
      }
      phaseEnd('print')
    },
  }
}

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
