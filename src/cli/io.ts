/** Exit codes (DESIGN "CLI and exit codes"). */
export const EXIT = { ok: 0, gateFailed: 1, badInput: 2, incomplete: 3, internal: 70 } as const

/** Where a command writes: results to `out`, progress and warnings to `err`. */
export type CommandIO = {
  out: (text: string) => void
  err: (text: string) => void
  color: boolean
  version: string
}
