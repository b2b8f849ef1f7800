import { writeReports } from '../report/write.js'
import { completion } from '../run/evaluate.js'
import { mergeShards, shardSpendText } from '../run/merge.js'
import { defineCommand } from './command.js'
import { completionExit, runPrinter } from './eval.js'
import { pick } from './options.js'

/** `routecheck merge DIR...`: the shards of a run routed on N machines (eval --shard K/N), joined into one run folder per dataset. */
export const mergeCommand = defineCommand({
  name: 'merge',
  summary: 'join the shard run folders of eval --shard K/N into one run folder per dataset',
  args: { usage: 'SHARD_DIR...', what: 'shard run folders (or folders holding them)', min: 1, max: Infinity },
  description: `Joins shard run folders (eval --shard K/N or gate --shard K/N, one per machine)
into one run folder per dataset: summary.json, results.jsonl, report.html,
report.md, junit.xml and confusion.csv, scored, analysed and written exactly as
the unsharded run would have been (timings apart), so gate, compare and report
read it like any other. Sends nothing.

Each SHARD_DIR is a shard's run folder, or a folder holding its run folders (a
run of several datasets). The shards must be one run cut in N: the same agents,
router and settings, routecheck version, dataset and repeats, every shard 1 to
N given once; anything else is exit 2 naming the folders. The merged folders go
where eval would put the run's (--out DIR: DIR itself for one dataset, else
DIR/<dataset-stem>/; default: the config's out).

Shards routed with --max-cost (the whole run's cap, each shard keeping to
its share) are merged like any others; merge prints what they spent against
the cap, and the note of a capped run when their shares stopped requests.`,
  options: pick(['config', 'out', 'json', 'no-color', 'only-failures'], {
    out: "where the merged run folders go (default: the config's out, reports/latest/<dataset-stem>/; one dataset: DIR itself)",
    json: 'print the merged summary.json to stdout instead of the scorecard',
  }),
  footer: 'Exit codes: 0 ok · 2 bad input: shards of different runs, missing or overlapping shards · 3 some cases have no decision, or a run folder could not be written',
  async run(flags, io, dirs) {
    const printer = runPrinter(flags, io)
    const { summaries, spend } = await mergeShards({ dirs, config: flags.config, out: flags.out }, io, {
      reports: async (summary, staging, dataset) => void (await writeReports(staging, summary, dataset.cases)),
      onRun: (summary, dir, dropped) => printer.onRun(summary, dir, dropped),
    })
    printer.finish(summaries)
    if (spend) io.warn(`${shardSpendText(spend)}\n`)
    // Shards stopped on their shares of --max-cost leave the merged run as the capped unsharded run would be: the same note, the same exit.
    return completionExit(completion(summaries, spend ? Math.max(...spend.runCapsUsd) : undefined), io)
  },
})
