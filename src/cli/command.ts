import type { CommandIO } from './io.js'
import type { OptionTable, ParsedOptions } from './options.js'

/** One command: its flags, its help, and what it does. main.ts builds the parser and the help from this. */
export type Command<T extends OptionTable = OptionTable> = {
  name: string
  /** one line, for `routecheck --help` */
  summary: string
  /** positional arguments: as the usage line shows them ("[RUN_DIR...]"), in words for errors, and how many; omitted: none */
  args?: { usage: string; what: string; min: number; max: number }
  /** what the command does, for its --help */
  description: string
  options: T
  /** it routes: Ctrl-C stops sending and writes what is done, instead of quitting */
  stoppable?: true
  /** lines after the flags: notes and exit codes */
  footer: string
  run: (flags: ParsedOptions<T>, io: CommandIO, args: string[]) => Promise<number>
}

/** Ties a command's flag table to its run function's parameter type. */
export const defineCommand = <T extends OptionTable>(command: Command<T>): Command<T> => command
