import { readFileSync } from 'node:fs'
import { didYouMean } from '../load/closest-names.js'
import { InputError, UsageError } from '../load/input-error.js'
import { WriteError } from '../run/files.js'
import { inertWorkflowLines, redact, setSecrets, terminalText } from '../text/safe.js'
import type { Command } from './command.js'
import { agentsCommand } from './agents.js'
import { commentCommand } from './comment.js'
import { compareCommand } from './compare.js'
import { evalCommand } from './eval.js'
import { baselineCommand, gateCommand } from './gate.js'
import { improveCommand } from './improve.js'
import { EXIT, type CommandIO } from './io.js'
import { mergeCommand } from './merge.js'
import { GLOBAL_OPTIONS, OPTIONS, optionsHelp, parseOptions, type OptionTable } from './options.js'
import { generateCommand } from './generate.js'
import { initCommand } from './init.js'
import { overlapCommand } from './overlap.js'
import { createProgress } from './progress.js'
import { reportCommand } from './report.js'

export const COMMANDS: readonly Command[] = [initCommand, generateCommand, evalCommand, overlapCommand, improveCommand, baselineCommand, gateCommand, reportCommand, compareCommand, mergeCommand, agentsCommand, commentCommand] as unknown as readonly Command[]

const EVERY_FLAG = [...Object.keys(OPTIONS), ...Object.keys(GLOBAL_OPTIONS)]

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 3
  return `routecheck — how well does a router pick the right Claude Code subagent?

Usage: routecheck <command> [flags]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Run "routecheck <command> --help" for a command's flags; "routecheck --version" for the version.
Exit codes: 0 ok · 1 gate failed · 2 bad input or usage · 3 run incomplete, or its files could not be written
`
}

export function commandHelp(c: Command): string {
  return `Usage: routecheck ${c.name}${c.args ? ` ${c.args.usage}` : ''} [flags]

${c.description}

${optionsHelp(c.options)}

${c.footer}
`
}

export function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
}

/**
 * Everything a command prints passes through here: control characters out
 * (colour kept when on), and under GitHub Actions no line can act as a
 * workflow command; only `annotate` prints commands, already escaped.
 */
function safeOutput(io: CommandIO, color: boolean): Pick<CommandIO, 'out' | 'warn' | 'annotate'> {
  const actions = io.env.GITHUB_ACTIONS === 'true'
  const safe = (text: string) => (actions ? inertWorkflowLines(terminalText(redact(text), color)) : terminalText(redact(text), color))
  return { out: (t) => io.out(safe(t)), warn: (t) => io.warn(safe(t)), annotate: (t) => io.annotate(redact(t)) }
}

/** The command line's first word, if it is one (not a flag). */
function commandOf(argv: readonly string[]): { name: string | undefined; rest: string[] } {
  const [first, ...rest] = argv
  return first === undefined || first.startsWith('-') ? { name: undefined, rest: [...argv] } : { name: first, rest }
}

/** Runs one command line with the given I/O; returns the exit code. */
export async function run(argv: readonly string[], io: CommandIO): Promise<number> {
  setSecrets(io.env)
  const report = safeOutput(io, false).warn
  try {
    const { name, rest } = commandOf(argv)
    if (name === undefined) {
      const { flags } = parseOptions('', {} as OptionTable, rest, EVERY_FLAG)
      if (flags.version) io.out(`routecheck ${io.toolVersion}\n`)
      else io.out(mainHelp())
      return flags.help || flags.version ? EXIT.ok : EXIT.badInput
    }
    const command = COMMANDS.find((c) => c.name === name)
    if (!command) {
      const hint = didYouMean(name, COMMANDS.map((c) => c.name))
      throw new UsageError(`unknown command "${name}"${hint ? `: ${hint}` : ''} (commands: ${COMMANDS.map((c) => c.name).join(', ')})`)
    }
    const { flags, positionals } = parseOptions(command.name, command.options, rest, EVERY_FLAG)
    if (flags.help) {
      io.out(commandHelp(command))
      return EXIT.ok
    }
    if (flags.version) {
      io.out(`routecheck ${io.toolVersion}\n`)
      return EXIT.ok
    }
    const args = command.args ?? { usage: '', what: '', min: 0, max: 0 }
    if (positionals.length > args.max && args.max === 0) throw new UsageError(`unexpected argument "${positionals[0]}" (flags start with --; see routecheck ${name} --help)`)
    if (positionals.length > args.max || positionals.length < args.min) {
      throw new UsageError(`${name} takes ${args.what} (routecheck ${name} ${args.usage}); got ${positionals.length === 0 ? 'none' : positionals.length}`)
    }
    const plain = (flags as { json?: boolean }).json === true || (flags as { noColor?: boolean }).noColor === true || io.env.NO_COLOR !== undefined
    const color = io.color && !plain
    const stop = command.stoppable ? io.stoppable() : undefined
    try {
      return await command.run(flags, { ...io, ...safeOutput(io, color), color, ...(stop ? { signal: stop.signal } : {}) }, positionals)
    } finally {
      stop?.release()
    }
  } catch (e) {
    if (e instanceof InputError) {
      report(`routecheck: bad input\n${e.message}\n`)
      return EXIT.badInput
    }
    if (e instanceof UsageError) {
      report(`routecheck: ${e.message}\n`)
      return EXIT.badInput
    }
    if (e instanceof WriteError) {
      report(`routecheck: ${e.message}\n`)
      return EXIT.incomplete
    }
    report(`routecheck: internal error (please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    return EXIT.internal
  }
}
