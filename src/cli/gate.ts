import { appendFile } from 'node:fs/promises'
import path from 'node:path'
import { recordBaseline } from '../gate/record-baseline.js'
import { baselineRefNote } from '../gate/baseline-ref.js'
import { checkGate } from '../gate/check.js'
import { renderGateText } from '../report/gate-text.js'
import { githubAnnotations } from '../report/github.js'
import { renderMarkdown } from '../report/markdown.js'
import { writeReports } from '../report/write.js'
import { WriteError } from '../run/files.js'
import type { Summary } from '../run/record.js'
import { redact } from '../text/safe.js'
import { defineCommand } from './command.js'
import { BATCH_FLAGS, completionExit, fatalExit, ROUTING_FLAGS, runPrinter } from './eval.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

const promptsOf = (s: Summary) => s.cases.map((c) => ({ id: c.id, prompt: c.prompt ?? '' }))

const RUN_DIRS = { usage: '[RUN_DIR...]', what: 'run folders', min: 0, max: Infinity }

export const baselineCommand = defineCommand({
  name: 'baseline',
  summary: 'run the datasets (or read run folders) and write reports/baseline.json',
  args: RUN_DIRS,
  description: `Runs the configured datasets (or reads the given run folders, which must have
been routed with the agents as they are now) and writes the baseline the gate
compares with: per dataset the per-case decisions and votes and the metrics,
the router, every agent's fingerprint and the near-duplicate pairs. Commit it.`,
  stoppable: true,
  options: pick([...ROUTING_FLAGS, ...BATCH_FLAGS, 'out', 'baseline', 'allow-incomplete', 'no-color'], { baseline: 'where to write it (default: reports/baseline.json)' }),
  footer: 'Exit codes: 0 written · 2 bad input or usage · 3 some cases have no decision (no baseline written), or a file could not be written',
  async run(flags, io, runDirs) {
    const result = await recordBaseline({ ...flags, runDirs }, io, io.signal, { reports: async (s, staging, dataset) => void (await writeReports(staging, s, dataset.cases)) })
    if (result.kind === 'fatal') return fatalExit(result, io)
    if (result.kind === 'incomplete') return completionExit({ complete: false, notes: result.notes }, io)
    const { baseline, file } = result
    const cases = baseline.datasets.reduce((n, d) => n + d.cases.length, 0)
    io.out(`wrote ${file}: router ${baseline.router.id}, ${baseline.agents.length} agents, ${baseline.datasets.length} dataset(s), ${cases} cases\n`)
    for (const d of baseline.datasets) io.out(`  ${d.path}: accuracy ${d.metrics.accuracy.toFixed(3)}, primary ${d.metrics.primaryAccuracy.toFixed(3)}, macro-F1 ${d.metrics.macroF1.toFixed(3)}\n`)
    return EXIT.ok
  },
})

export const gateCommand = defineCommand({
  name: 'gate',
  summary: 'compare the agents as they are now with the baseline; exit 1 if routing got worse',
  args: RUN_DIRS,
  description: `Routes the baseline's datasets with the agents as they are now (or reads the
given run folders) and compares them case by case with the baseline. Lists
changed, added and removed agents, per-agent F1 changes, flipped cases, the
exact McNemar p-value and a paired bootstrap interval of the accuracy change.
Fails (exit 1) when accuracy drops more than gate.maxAccuracyDrop, an agent
with support >= gate.minSupport loses more than gate.maxAgentF1Drop F1, more
than gate.maxStableFlips cases go right -> wrong with every repeat agreeing,
or a new near-duplicate pair appears. Each agent the change edits or adds
is counted: cases labelled for it, those tagged from-description apart; one
with no case of its own is named on the verdict's line (no rule could see
it), and with gate.minChangedAgentCases > 0 one with fewer fails the gate.
Flipped cases of model routers are re-tested; a flip its re-test does not
reproduce is flaky and does not count.
--max-cost covers the run and the re-tests together, and --batch sends the
re-tests as one more batch; a flip whose re-test the cap stopped is no
evidence: the gate is incomplete (exit 3) unless the rules fail without it.
With run folders, --dry-run compares them (routing nothing) and prints the
re-test requests of their stable flips and their price.
Each dataset is routed with the baseline's repeats unless --repeats says
otherwise. The baseline is checked like any input: cut or edited cases,
undecided cases and agents it never had are exit 2.
In CI, give --baseline-ref with the base branch's commit: the baseline is
then read as it is there (git show REF:FILE), so a pull request that re-makes
it is still judged by the one it would replace, and a line says when it
changes it (the new one takes effect once merged). Where REF has none (the
pull request adopting routecheck) the working tree's is used, and a line says
so. A REF git does not know (a shallow clone) is exit 2 with the fetch that
fixes it.`,
  stoppable: true,
  options: pick(['baseline', 'baseline-ref', 'only-if-changed', 'allow-incomplete', 'config', 'agents', 'dataset', 'router', 'model', 'style', 'claude-bin', 'workspace', 'repeats', 'concurrency', 'timeout', 'max-cost', 'no-cache', ...BATCH_FLAGS, 'shard', 'dry-run', 'out', 'no-color'], {
    dataset: 'compare only this dataset of the baseline; repeat for several (default: all of them)',
    repeats: "route each case K times (default: the baseline's repeats)",
    shard: "route only shard K of N of the gate's run and judge nothing (a CI matrix job); routecheck merge joins the shards, routecheck gate MERGED_RUN_DIR... judges them (default --out: OUT/shard-K-of-N/)",
    'dry-run': "print the run's first request, requests and cost and its re-tests' bound; with RUN_DIR..., compare them and print the re-tests of their flips, counted and priced; send nothing",
  }),
  footer: `With GITHUB_ACTIONS set it prints ::error annotations on the agent files that
go with the failures, and appends report.md to $GITHUB_STEP_SUMMARY.
Exit codes: 0 passed (with --shard: routed) · 1 failed · 2 bad input, or runs that cannot be compared · 3 incomplete (cases with no decision, or flips not re-tested that the verdict hangs on), or a run folder could not be written`,
  async run(flags, io, runDirs) {
    const check = await checkGate({ ...flags, runDirs }, io, io.signal)
    const note = 'baselineRef' in check ? baselineRefNote(check.baselineRef) : undefined
    if (note) io.out(`${note}\n`)
    if (check.kind === 'unchanged') {
      io.out(`gate: no agent's routing fields (name, description, tools) and no dataset changed since ${check.baseline}; nothing sent, nothing to check\n`)
      return EXIT.ok
    }
    if (check.kind === 'fatal') return fatalExit(check, io)
    if (check.kind === 'dry-run') {
      io.out(check.text)
      return EXIT.ok
    }
    if (check.kind === 'shard') {
      const printer = runPrinter({ json: false }, io)
      await check.staged.finish(
        async (s, staging) => void (await writeReports(staging, s, promptsOf(s))),
        (s, dir, { dropped }) => printer.onRun(s, dir, dropped),
      )
      const [first] = check.summaries
      if (first?.shard) io.out(`\ngate: routed shard ${first.shard.index} of ${first.shard.count}, nothing judged; when all ${first.shard.count} are done: routecheck merge SHARD_DIR... --out DIR, then routecheck gate with DIR's run folders\n`)
      return completionExit(check.completion, io)
    }
    const { outcome, summaries } = check
    io.out(`${renderGateText(outcome, { color: io.color })}\n`)
    await check.staged?.finish(async (s, staging) => void (await writeReports(staging, s, promptsOf(s), outcome)))
    // Saved run folders (a merged CI matrix run) get the gate's reports too, for the step summary and the comment; the verdict stands either way.
    for (const [i, saved] of (check.savedDirs ?? []).entries()) {
      const dir = saved.endsWith('.json') ? path.dirname(saved) : saved
      try {
        await writeReports(dir, summaries[i]!, promptsOf(summaries[i]!), outcome)
      } catch (e) {
        if (!(e instanceof WriteError)) throw e
        io.warn(`note: the gate's reports were not written into ${dir} (${e.reason}); the verdict stands\n`)
      }
    }
    if (io.env.GITHUB_ACTIONS === 'true') io.annotate(githubAnnotations(outcome, check.catalogue, check.invalid))
    const stepSummary = io.env.GITHUB_STEP_SUMMARY
    if (stepSummary) await appendFile(stepSummary, redact(renderMarkdown(summaries, outcome))).catch((e: unknown) => Promise.reject(WriteError.of(stepSummary, e)))
    const incomplete = completionExit(check.completion, io)
    if (incomplete !== EXIT.ok) return incomplete
    return outcome.verdict.passed ? EXIT.ok : EXIT.gateFailed
  },
})
