import { UsageError } from '../load/input-error.js'
import { renderComparison } from '../report/compare-text.js'
import { compareRuns } from '../run/compare.js'
import { readRuns } from '../run/read.js'
import { defineCommand } from './command.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

export const compareCommand = defineCommand({
  name: 'compare',
  summary: 'how closely two runs of one dataset agree (say a cheap router against Claude Code)',
  args: { usage: 'RUN_DIR RUN_DIR', what: 'two run folders', min: 2, max: 2 },
  description: `Reads two run folders of the same dataset (from eval, with different routers)
and prints how often they decide alike, Cohen's kappa, each one's accuracy on
the cases both decided, an exact McNemar test of the accuracy gap, whether the
second is a fair stand-in for the first, and the cases where they part ways.
Sends nothing.`,
  options: pick(['json', 'no-color'], { json: 'print the comparison as JSON, every disagreement included' }),
  footer: 'Exit codes: 0 ok · 2 a missing or invalid run folder, or runs with no case in common',
  async run(flags, io, dirs) {
    const [a, b] = await readRuns(dirs)
    const comparison = compareRuns(a!, b!)
    if (comparison.compared === 0) {
      throw new UsageError(`${dirs[0]} and ${dirs[1]} have no decided case in common (same id, prompt and labels): compare two runs of one dataset`)
    }
    io.out(flags.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${renderComparison(comparison, { color: io.color, width: io.columns })}\n`)
    return EXIT.ok
  },
})
