import { appendFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { buildBaseline, baselineSchema, type Baseline } from '../gate/baseline.js'
import { compareDataset, decideGate, diffAgents, hasChanges, type DatasetComparison } from '../gate/compare.js'
import { loadCatalogue, type Catalogue } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { loadDataset } from '../load/dataset.js'
import { UsageError } from '../load/input-error.js'
import { readJsonFile } from '../load/json-file.js'
import { analyseOverlap } from '../overlap/index.js'
import { routeCases } from '../route/run.js'
import { renderGateText, type GateOutcome } from '../report/gate-text.js'
import { renderMarkdown } from '../report/markdown.js'
import { writeAtomic, writeReports } from '../report/run-folder.js'
import { summarySchema, type Summary } from '../report/summary.js'
import { voteByCase } from '../score/votes.js'
import { completionExit, openRunJournal, prepareEval, runDatasets, type Setup } from './eval.js'
import type { Flags } from './flags.js'
import { EXIT, type CommandIO } from './io.js'

export const DEFAULT_BASELINE = 'reports/baseline.json'

/** Pairs the text signal alone calls near-duplicates: what the gate's fourth rule compares. */
export function nearDuplicatePairs(agents: ReadonlyArray<{ name: string; description: string; file: string }>): Array<[string, string]> {
  const report = analyseOverlap({ agents: agents.map(({ name, description, file }) => ({ name, description, file })) })
  return report.pairs.filter((p) => p.nearDuplicate).map((p) => [p.a, p.b] as [string, string])
}

/** Reads run folders (or their summary.json files) given on the command line. */
export async function readRuns(dirs: readonly string[]): Promise<Summary[]> {
  const summaries: Summary[] = []
  for (const dir of dirs) {
    const file = dir.endsWith('.json') ? dir : path.join(dir, 'summary.json')
    summaries.push(
      await readJsonFile(file, summarySchema, {
        unreadable: "cannot read the run's summary: {error}",
        notJson: "cannot read the run's summary: {error}",
        wrongShape: 'not a routecheck summary',
        fix: 'give a run folder written by routecheck eval (it holds summary.json)',
      }),
    )
  }
  return summaries
}

export function readBaseline(file: string): Promise<Baseline> {
  return readJsonFile(file, baselineSchema, {
    unreadable: 'the baseline file does not exist or cannot be read',
    unreadableFix: 'make one with `routecheck baseline` and commit it, or pass --baseline FILE',
    notJson: 'the baseline is not JSON: {error}',
    wrongShape: 'not a routecheck baseline',
    fix: 'regenerate it with `routecheck baseline`',
  })
}

/** `routecheck baseline`: run the configured datasets (or read runs) and write the baseline file. */
export async function baselineCommand(flags: Flags, io: CommandIO, runDirs: string[]): Promise<number> {
  const target = flags.baseline ?? DEFAULT_BASELINE
  let summaries: Summary[]
  let catalogue: Catalogue
  if (runDirs.length > 0) {
    const { config } = await loadConfig(flags.config)
    catalogue = (await loadCatalogue(flags.agents ?? config.agents)).catalogue
    summaries = await readRuns(runDirs)
    for (const [i, s] of summaries.entries()) {
      if (s.catalogueFingerprint !== catalogue.fingerprint) {
        throw new UsageError(`${runDirs[i]} was routed with other agent descriptions than ${flags.agents ?? config.agents} has now; run it again, or run routecheck baseline without run folders`)
      }
    }
  } else {
    const setup = await prepareEval(flags, io)
    const run = await runDatasets(setup, io, { scorecards: false })
    if (run.fatalExit !== undefined) return run.fatalExit
    const exit = completionExit(run.summaries, flags, io)
    if (exit !== EXIT.ok) {
      io.err('no baseline written: a baseline must have a decision for every case\n')
      return exit
    }
    summaries = run.summaries
    catalogue = setup.loaded.catalogue
  }
  const baseline = buildBaseline({ summaries, catalogue, nearDuplicatePairs: nearDuplicatePairs(catalogue.agents), toolVersion: io.version, createdAt: new Date() })
  await mkdir(path.dirname(target), { recursive: true })
  await writeAtomic(target, `${JSON.stringify(baseline, null, 2)}\n`)
  const cases = baseline.datasets.reduce((n, d) => n + d.cases.length, 0)
  io.out(`wrote ${target}: router ${baseline.router.id}, ${baseline.agents.length} agents, ${baseline.datasets.length} dataset(s), ${cases} cases\n`)
  for (const d of baseline.datasets) io.out(`  ${d.path}: accuracy ${d.metrics.accuracy.toFixed(3)}, primary ${d.metrics.primaryAccuracy.toFixed(3)}, macro-F1 ${d.metrics.macroF1.toFixed(3)}\n`)
  return EXIT.ok
}

/** `routecheck gate`: compare a candidate with the baseline and decide. */
export async function gateCommand(flags: Flags, io: CommandIO, runDirs: string[]): Promise<number> {
  const baselineFile = flags.baseline ?? DEFAULT_BASELINE
  const baseline = await readBaseline(baselineFile)
  const { config } = await loadConfig(flags.config)
  const current = await loadCatalogue(flags.agents ?? config.agents, { skipInvalid: true })
  const changes = diffAgents(baseline.agents, current.catalogue.agents, current.invalid)

  const wanted = pickDatasets(baseline, flags.dataset, baselineFile)
  if (flags['only-if-changed'] && !hasChanges(changes) && !(await datasetsChanged(wanted, baseline, current.catalogue))) {
    io.out(`gate: no agent's routing fields (name, description, tools) and no dataset changed since ${baselineFile}; nothing sent, nothing to check\n`)
    return EXIT.ok
  }

  let summaries: Summary[]
  let setup: Setup | undefined
  if (runDirs.length > 0) {
    summaries = await readRuns(runDirs)
  } else {
    setup = await prepareEval(flags, io, { skipInvalid: true, datasets: wanted.map((d) => d.path), alsoKnownAgents: baseline.agents.map((a) => a.name) })
    refuseMismatch(baseline, baselineFile, setup.router.id, setup.datasets)
    const repeatsOf = new Map(wanted.map((d) => [d.path, d.repeats]))
    const run = await runDatasets(setup, io, { scorecards: false, repeatsFor: (d) => repeatsOf.get(d.path) ?? 1 })
    if (run.fatalExit !== undefined) return run.fatalExit
    summaries = run.summaries
  }
  refuseMismatch(baseline, baselineFile, summaries[0]?.router.id ?? baseline.router.id, summaries.map((s) => ({ path: s.dataset.path, fingerprint: s.dataset.fingerprint })))

  const names = [...new Set([...baseline.agents.map((a) => a.name), ...current.catalogue.agents.map((a) => a.name)])].sort()
  const comparisons: DatasetComparison[] = []
  for (const s of summaries) {
    const base = baseline.datasets.find((d) => d.path === s.dataset.path)!
    const first = compareDataset(base, s.cases, names)
    const retest = setup && !setup.router.deterministic ? await retestFlips(setup, io, first, base.repeats) : new Map<string, Record<string, number>>()
    comparisons.push(retest.size > 0 ? compareDataset(base, s.cases, names, retest) : first)
  }
  const verdict = decideGate(comparisons, { before: baseline.nearDuplicatePairs, after: nearDuplicatePairs(current.catalogue.agents) }, config.gate)
  const outcome: GateOutcome = { baselineFile, routerId: baseline.router.id, changes, comparisons, verdict, baselineAgents: baseline.agents.map(({ name, description }) => ({ name, description })) }

  io.out(`${renderGateText(outcome, { color: io.color })}\n`)
  if (setup) {
    for (const [i, s] of summaries.entries()) {
      const dir = setup.plan.outFor(s.dataset.path)
      await writeReports(dir, s, setup.datasets[i]!.cases, outcome)
      await writeAtomic(path.join(dir, 'gate.json'), `${JSON.stringify({ passed: verdict.passed, failures: verdict.failures, changes, comparison: comparisons[i] }, null, 2)}\n`)
    }
  }
  if (process.env.GITHUB_ACTIONS === 'true') io.out(githubAnnotations(outcome, current.catalogue, current.invalid))
  if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, renderMarkdown(summaries, outcome))
  const incomplete = completionExit(summaries, flags, io)
  if (incomplete !== EXIT.ok) return incomplete
  return verdict.passed ? EXIT.ok : EXIT.gateFailed
}

/** Whether any of the baseline's datasets reads differently now (a missing or unreadable one counts as changed). */
async function datasetsChanged(wanted: Baseline['datasets'], baseline: Baseline, catalogue: Catalogue): Promise<boolean> {
  const names = [...new Set([...baseline.agents.map((a) => a.name), ...catalogue.agents.map((a) => a.name)])]
  for (const d of wanted) {
    try {
      if ((await loadDataset(d.path, names)).fingerprint !== d.fingerprint) return true
    } catch {
      return true
    }
  }
  return false
}

function pickDatasets(baseline: Baseline, wanted: string[] | undefined, baselineFile: string): Baseline['datasets'] {
  if (!wanted) return baseline.datasets
  const norm = (p: string) => path.normalize(p)
  return wanted.map((w) => {
    const hit = baseline.datasets.find((d) => norm(d.path) === norm(w) || path.basename(d.path) === w)
    if (!hit) throw new UsageError(`${w} is not in ${baselineFile} (it has ${baseline.datasets.map((d) => d.path).join(', ')}); make a new baseline to add it`)
    return hit
  })
}

/** The gate compares like with like: the same router and the same labelled cases. */
export function refuseMismatch(baseline: Baseline, baselineFile: string, routerId: string, datasets: ReadonlyArray<{ path: string; fingerprint: string }>): void {
  if (routerId !== baseline.router.id) {
    throw new UsageError(`cannot compare: ${baselineFile} was made with router ${baseline.router.id}, this run uses ${routerId}; pass the same --router/--model/--style, or make a new baseline`)
  }
  for (const d of datasets) {
    const base = baseline.datasets.find((b) => b.path === d.path)
    if (!base) throw new UsageError(`cannot compare: ${d.path} is not in ${baselineFile}`)
    if (base.fingerprint !== d.fingerprint) {
      throw new UsageError(`cannot compare: ${d.path} changed since ${baselineFile} (its cases or labels differ); commit a new baseline made with routecheck baseline along with the dataset change`)
    }
  }
}

/**
 * Routes each flipped case `repeats` more times, on fresh repeat indices. A
 * model router's flip that its own re-test does not reproduce is noise.
 */
async function retestFlips(setup: Setup, io: CommandIO, comparison: DatasetComparison, repeats: number): Promise<Map<string, Record<string, number>>> {
  const ids = new Set(comparison.flips.filter((f) => !f.flaky).map((f) => f.id))
  const dataset = setup.datasets.find((d) => d.path === comparison.path)
  if (ids.size === 0 || !dataset) return new Map()
  const times = Math.max(3, repeats)
  io.err(`re-testing ${ids.size} flipped case(s) ${times} more times each to tell regressions from noise\n`)
  const retested = dataset.cases.filter((c) => ids.has(c.id))
  const journal = openRunJournal(setup, io)
  try {
    const attempts = await routeCases(retested, setup.loaded.catalogue, setup.router, {
      repeats: times,
      firstRepeat: 1000,
      concurrency: setup.plan.concurrency,
      timeoutMs: setup.plan.timeoutMs,
      ...(journal ? { journal } : {}),
    })
    return new Map(voteByCase(retested, attempts).map((c) => [c.id, c.vote.votes]))
  } finally {
    journal?.close()
  }
}

/**
 * GitHub workflow commands: an error on each changed agent file that goes
 * with a failed rule, so the pull request's diff shows where to look.
 */
export function githubAnnotations(o: GateOutcome, catalogue: Catalogue, invalid: ReadonlyArray<{ file: string; line: number; reason: string }>): string {
  const esc = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
  const touched = new Set([...o.changes.changed, ...o.changes.added])
  const fileOf = new Map(catalogue.agents.map((a) => [a.name, a]))
  const lines: string[] = []
  for (const bad of invalid) lines.push(`::error file=${bad.file},line=${bad.line},title=routecheck: agent dropped::${esc(bad.reason)}`)
  for (const f of o.verdict.failures) {
    const involved = f.agents.filter((a) => touched.has(a))
    const targets = involved.length > 0 ? involved : [...touched]
    for (const name of targets) {
      const agent = fileOf.get(name)
      if (agent) lines.push(`::error file=${agent.file},line=${agent.descriptionLine},title=routecheck gate: ${f.rule}::${esc(f.message)}`)
    }
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : ''
}
