#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { InputError, UsageError } from '../load/input-error.js'
import { evalCommand } from './eval.js'
import { baselineCommand, gateCommand } from './gate.js'
import { overlapCommand } from './overlap.js'
import { reportCommand } from './report.js'
import { parseFlags, type Flags } from './flags.js'
import { EXIT, type CommandIO } from './io.js'

const COMMON = `
Inputs:
  --config FILE          config file (default: routecheck.config.json, if present)
  --agents DIR           the catalogue folder (default: agents/)
  --dataset FILE         a .csv or .jsonl dataset; repeat for several (default: the config's list)
  --skip-invalid         load the agent files that parse, report the rest, go on
Router:
  --router NAME          lexical (offline, the default), anthropic, or ./my-router.mjs
  --model ID             anthropic model id
  --style STYLE          claude-code (default) or classifier
Run:
  --repeats K            route each case K times, majority vote (default 1 lexical, 3 model routers)
  --concurrency N        requests in flight (default 8)
  --timeout SECONDS      per request (default 60)
  --out DIR              the run folder (several datasets: DIR/<dataset-stem>/)
Output:
  --json                 print summary.json to stdout instead of the scorecard
  --no-color             plain text even on a terminal
`

const HELP: Record<string, string> = {
  main: `routecheck — how well does a router pick the right Claude Code subagent?

Usage: routecheck <command> [flags]

Commands:
  eval       route every dataset prompt, score it, write the run folder, print the scorecard
  overlap    find near-duplicate agents, with the evidence and what to do; lint the agent files
  baseline   run the datasets (or read run folders) and write reports/baseline.json
  gate       compare the agents as they are now with the baseline; exit 1 if routing got worse
  report     rebuild a run folder's report.html from its summary.json (optionally with a before/after)

Run "routecheck <command> --help" for a command's flags.
Exit codes: 0 ok · 1 gate failed · 2 bad input or usage · 3 run incomplete
`,
  eval: `Usage: routecheck eval [flags]

Routes every prompt of each dataset with the router, scores the decisions
against the labels, writes summary.json and results.jsonl to the run folder,
and prints a scorecard (stdout). Progress goes to stderr.
${COMMON}
Exit codes: 0 ok · 2 bad input or usage · 3 some cases have no decision
`,
  overlap: `Usage: routecheck overlap [RUN_DIR...] [flags]

Scores every pair of agents for overlap and prints the top pairs, the clusters
of near-duplicates (what each member has that the others lack, the prompts only
it wins, and a suggestion: merge or reword), and lint findings (descriptions
too short or too long, with their token cost; names that differ from the file
name; copied descriptions; files Claude Code would drop). With no run folder it
uses the descriptions alone; run folders (from eval) add confusion,
co-acceptance, split votes and low score margins.

  --agents DIR           the catalogue folder (default: agents/)
  --json                 print the report as JSON
  --skip-invalid         list files Claude Code would drop instead of failing on them
  --config FILE          config file (default: routecheck.config.json, if present)
`,
  baseline: `Usage: routecheck baseline [RUN_DIR...] [flags]

Runs the configured datasets (or reads the given run folders, which must have
been routed with the agents as they are now) and writes the baseline the gate
compares with: per dataset the per-case decisions and votes and the metrics,
the router, every agent's fingerprint and the near-duplicate pairs. Commit it.

  --baseline FILE        where to write it (default: reports/baseline.json)
${COMMON}`,
  gate: `Usage: routecheck gate [RUN_DIR...] [flags]

Routes the baseline's datasets with the agents as they are now (or reads the
given run folders) and compares them case by case with the baseline. Lists
changed, added and removed agents, per-agent F1 changes, flipped cases, the
exact McNemar p-value and a paired bootstrap interval of the accuracy change.
Fails (exit 1) when accuracy drops more than gate.maxAccuracyDrop, an agent
with support >= gate.minSupport loses more than gate.maxAgentF1Drop F1, more
than gate.maxStableFlips cases go right -> wrong with every repeat agreeing,
or a new near-duplicate pair appears. Flipped cases of model routers are
re-tested; a flip its re-test does not reproduce is flaky and does not count.

  --baseline FILE        the baseline (default: reports/baseline.json)
  --only-if-changed      exit 0 at once, sending nothing, when no agent's routing fields and no dataset changed
  --dataset FILE         compare only this dataset of the baseline (repeatable)
${COMMON}
With GITHUB_ACTIONS set it prints ::error annotations on the agent files that
go with the failures, and appends report.md to $GITHUB_STEP_SUMMARY.
Exit codes: 0 passed · 1 failed · 2 bad input, or runs that cannot be compared · 3 incomplete
`,
  report: `Usage: routecheck report RUN_DIR [--baseline FILE]

Rebuilds RUN_DIR/report.html from RUN_DIR/summary.json, sending nothing: one
self-contained page (no network, opens from file://) with the headline figures
and their intervals, the per-agent table, the confusion matrix with the
prompts behind each cell, the overlap between agents, and the misrouted cases.
eval and gate write it into every run folder; this command remakes it.

  --baseline FILE        add the before/after against this baseline (the gate's
                         comparison and rules, from the run's saved decisions)
  --config FILE          config file for the gate thresholds (default: routecheck.config.json, if present)

Exit codes: 0 ok · 2 a missing or invalid run folder or baseline, or runs that cannot be compared
`,
}

type Command = { run: (flags: Flags, io: CommandIO, args: string[]) => Promise<number>; takesArgs: boolean }

const COMMANDS: Record<string, Command> = {
  eval: { run: (flags, io) => evalCommand(flags, io), takesArgs: false },
  overlap: { run: overlapCommand, takesArgs: true },
  baseline: { run: baselineCommand, takesArgs: true },
  gate: { run: gateCommand, takesArgs: true },
  report: { run: reportCommand, takesArgs: true },
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const io: CommandIO = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    color: false,
    version: version(),
  }
  try {
    const { flags, positionals } = parseFlags(argv)
    const [name, ...rest] = positionals
    if (name === undefined) {
      io.out(HELP.main!)
      return flags.help ? EXIT.ok : EXIT.badInput
    }
    const command = COMMANDS[name]
    if (!command) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`)
    if (flags.help) {
      io.out(HELP[name] ?? HELP.main!)
      return EXIT.ok
    }
    if (rest.length > 0 && !command.takesArgs) throw new UsageError(`unexpected argument "${rest[0]}" (flags start with --; see routecheck ${name} --help)`)
    io.color = process.stdout.isTTY === true && !flags.json && !flags['no-color'] && process.env.NO_COLOR === undefined
    return await command.run(flags, io, rest)
  } catch (e) {
    if (e instanceof InputError) {
      io.err(`routecheck: bad input\n${e.message}\n`)
      return EXIT.badInput
    }
    if (e instanceof UsageError) {
      io.err(`routecheck: ${e.message}\n`)
      return EXIT.badInput
    }
    io.err(`routecheck: internal error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    return EXIT.internal
  }
}

process.exitCode = await main(process.argv.slice(2))
