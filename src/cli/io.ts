import type { RunEnv } from '../run/evaluate.js'

/** Exit codes (DESIGN "CLI and exit codes"). */
export const EXIT = { ok: 0, gateFailed: 1, badInput: 2, incomplete: 3, internal: 70 } as const

/**
 * Everything a command touches outside its arguments: where it writes
 * (results to `out`; progress and warnings to `warn`), the environment, the
 * terminal's width and the clock. The CLI fills it from the process; a test
 * can run a command in-process with its own.
 */
export type CommandIO = RunEnv & {
  out: (text: string) => void
  /** GitHub workflow commands routecheck means to give, escaped by their own rules; printed on stdout as they are */
  annotate: (text: string) => void
  color: boolean
  /** stdout's width when it is a terminal */
  columns: number | undefined
  /** aborted when the user asks a routing command to stop (Ctrl-C): finish what is in flight, write what is done */
  signal: AbortSignal
  /** catch the stop request for the length of one routing command; outside one, Ctrl-C quits at once */
  stoppable: () => { signal: AbortSignal; release: () => void }
}
