import path from 'node:path'
import { baselineWhere } from '../gate/baseline-ref.js'
import { gateOutcomeForRun } from '../gate/check.js'
import { RUN_FILES, writeAtomic } from '../run/files.js'
import { checkOutputFile } from '../run/out-folder.js'
import { readRuns } from '../run/read.js'
import { defineCommand } from './command.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

/**
 * `routecheck report RUN_DIR [--baseline FILE] [--baseline-ref REF]`: rebuilds RUN_DIR/report.html
 * from RUN_DIR/summary.json, routing nothing. With a baseline, the page leads
 * with the before/after the gate would show for this run: the same
 * comparison and rules, from the saved decisions.
 */
export const reportCommand = defineCommand({
  name: 'report',
  summary: "rebuild a run folder's report.html from its summary.json (optionally with a before/after)",
  args: { usage: 'RUN_DIR', what: 'one run folder', min: 1, max: 1 },
  description: `Rebuilds RUN_DIR/report.html from RUN_DIR/summary.json, sending nothing: one
self-contained page (no network, opens from file://) with the headline figures
and their intervals, the per-agent table, the confusion matrix with the
prompts behind each cell, the overlap between agents, and the misrouted cases.
eval and gate write it into every run folder; this command remakes it.

With --baseline (or --baseline-ref), the page leads with the gate's
before/after for this run. In a pull request, give the --baseline-ref the gate
was given (or set gate.baselineRef): the page then compares with the base
branch's baseline, as the gate judged, and says when the pull request changes it.`,
  options: pick(['baseline', 'baseline-ref', 'config'], {
    baseline: "add the before/after against this baseline (the gate's comparison and rules, from the run's saved decisions)",
    'baseline-ref':
      "read the baseline as it is at git revision REF, as gate --baseline-ref does (default: the config's gate.baselineRef); implies --baseline reports/baseline.json when that is not given",
    config: 'config file for the gate thresholds (default: routecheck.config.json, if present)',
  }),
  footer: 'Exit codes: 0 ok · 2 a missing or invalid run folder or baseline, a folder that cannot be written, or runs that cannot be compared · 3 report.html could not be written (a full disk)',
  async run(flags, io, [target]) {
    const [summary] = await readRuns([target!])
    const dir = target!.endsWith('.json') ? path.dirname(target!) : target!
    const html = path.join(dir, RUN_FILES.html)
    await checkOutputFile({ file: html, named: 'RUN_DIR', keep: [], folders: [] })
    const withGate = flags.baseline !== undefined || flags.baselineRef !== undefined
    const gate = withGate ? await gateOutcomeForRun(summary!, target!, { baseline: flags.baseline, baselineRef: flags.baselineRef, config: flags.config }) : undefined
    const { renderHtml } = await import('../report/html.js')
    const file = await writeAtomic(html, renderHtml(summary!, gate))
    const verdict = gate ? ` (gate ${gate.verdict.passed ? 'passed' : 'failed'} against ${baselineWhere(gate.baselineFile, gate.baselineRef)})` : ''
    io.out(`wrote ${file}${verdict}\n`)
    return EXIT.ok
  },
})
