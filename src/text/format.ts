/** How numbers and emphasis read everywhere routecheck prints: the terminal, report.md, report.html. */

/** Two decimals, the precision of every rate and F1 routecheck shows; '–' for a figure that does not exist. */
export const f2 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2))

/** A change with its sign, using a true minus so columns of deltas line up. */
export const signed = (x: number, digits = 3): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`

/** A proportion as a percentage with one decimal. */
export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`

/** ANSI SGR colour on a terminal that wants it; the text unchanged otherwise. */
export type Paint = (code: number, text: string) => string
export const painter = (color: boolean): Paint => (color ? (code, text) => `\u001b[${code}m${text}\u001b[0m` : (_code, text) => text)

/** Per-agent F1 changes smaller than this are rounding noise and are not listed as "moved". */
export const MOVED_F1 = 0.005

/**
 * When accuracy beats primary accuracy by this much, many prompts were
 * credited to a second label: the scorecard and the report say so, since the
 * headline then flatters the router's first choice.
 */
export const ACCURACY_GAP_CALLOUT = 0.15

/** In place of none recall when no prompt is labelled none: a 0.00 there would read as a failure. */
export const NO_NONE_CASES = 'none recall — (no prompt labelled none)'

/** A word as a POSIX shell reads it: as it is when it holds only safe characters, else in single quotes. For commands routecheck prints for the user to run. */
export const shellWord = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)
