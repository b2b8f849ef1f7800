#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { InputError, UsageError } from '../load/input-error.js'
import { evalCommand } from './eval.js'
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
}

const COMMANDS: Record<string, (flags: Flags, io: CommandIO) => Promise<number>> = {
  eval: evalCommand,
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
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" (flags start with --; see routecheck ${name} --help)`)
    io.color = process.stdout.isTTY === true && !flags.json && !flags['no-color'] && process.env.NO_COLOR === undefined
    return await command(flags, io)
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
