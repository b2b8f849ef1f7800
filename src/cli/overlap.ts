import { PROBE_BELOW_LINE, PROBE_PAIRS, PROBE_PROMPTS } from '../draft/probe.js'
import { loadAgentFolders, loadWarningText } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { UsageError } from '../load/input-error.js'
import { renderOverlapText } from '../overlap/index.js'
import { outputWidth } from '../report/terminal.js'
import { writeReports } from '../report/write.js'
import { overlapOfRuns } from '../run/evaluate.js'
import { PROBE_FOLDER, RUN_FILES } from '../run/files.js'
import { readRuns } from '../run/read.js'
import { DEFAULT_DRAFT_MODEL } from '../route/draft-defaults.js'
import { defineCommand } from './command.js'
import { fatalExit } from './eval.js'
import { EXIT, type CommandIO } from './io.js'
import { pick, type ParsedOptions } from './options.js'

/** The overlap text wraps at the terminal's width, within these bounds (and at the default where there is no terminal). */
const WIDTH = { default: 100, max: 120 }

/** The flags that only mean something with --probe: they say how probes are written and routed. */
const PROBE_ONLY = ['probe-from', 'probe-pairs', 'probe-prompts', 'draft-model', 'router', 'model', 'style', 'claude-bin', 'workspace', 'repeats', 'concurrency', 'timeout', 'max-cost', 'no-cache', 'batch', 'batch-poll', 'dry-run', 'out'] as const

const options = pick(['config', 'agents', 'skip-invalid', 'router', 'model', 'style', 'claude-bin', 'workspace', 'repeats', 'concurrency', 'timeout', 'max-cost', 'no-cache', 'batch', 'batch-poll', 'probe', 'probe-from', 'probe-pairs', 'probe-prompts', 'draft-model', 'dry-run', 'out', 'json', 'no-color'], {
  'skip-invalid': 'list files Claude Code would drop instead of failing on them',
  json: 'print the report as JSON (with --probe, its "probes" key holds every probed pair and prompt)',
  'draft-model': `with --probe: the model that drafts the probe prompts (default: the config's probe.model, else ${DEFAULT_DRAFT_MODEL})`,
  'dry-run': 'with --probe: print the pairs, the drafting and routing requests and their cost; send nothing, write nothing',
  out: `with --probe: the probe run's folder (default: <out>/${PROBE_FOLDER}/)`,
  'max-cost': 'with --probe: stop sending before drafting and routing together would cost more than this',
  'no-cache': 'with --probe: send every drafting and routing request again, though answered before',
  batch: 'with --probe: send the drafting requests, and the anthropic router\'s routing requests, through the Message Batches API, at half the price; results within 24 h (usually minutes). A rerun reattaches to its batches',
})

export const overlapCommand = defineCommand({
  name: 'overlap',
  summary: 'find near-duplicate agents, with the evidence and what to do; lint the agent files; --probe routes prompts aimed at them',
  args: { usage: '[RUN_DIR...]', what: 'run folders', min: 0, max: Infinity },
  description: `Scores every pair of agents for overlap and prints the top pairs, the clusters
of near-duplicates (what each member has that the others lack, the prompts only
it wins, and a suggestion: merge or reword), and lint findings (descriptions
too short or too long, with their token cost; names that differ from the file
name; copied descriptions; files Claude Code would drop). With no run folder it
uses the descriptions alone; run folders (from eval) add confusion,
co-acceptance, split votes and low score margins.

--probe gets routing evidence without a dataset: for the near-duplicate pairs
(and the ${PROBE_BELOW_LINE} just under the line, at most --probe-pairs in all) it drafts
prompts aimed squarely at each agent with Claude (generate's requests and
filters) or, with --probe-from examples, takes the descriptions' own <example>
turns; routes them with --router; and judges each pair by how often they
cross over. The probe run is written to <out>/${PROBE_FOLDER}/ (${RUN_FILES.probes}, summary.json,
report.html, report.md…); drafting and routing answers are cached, so a rerun
sends nothing it sent before.`,
  stoppable: true,
  options,
  footer: `Defaults with --probe: at most ${PROBE_PAIRS} pairs, ${PROBE_PROMPTS} prompts per agent, drafted by Claude (ANTHROPIC_API_KEY).
Exit codes: 0 ok · 2 bad input or usage · 3 with --probe, some prompts not drafted or not routed`,
  async run(flags, io, runDirs) {
    if (flags.probe) return probe(flags, io, runDirs)
    const given = PROBE_ONLY.filter((f) => isGiven(flags, f))
    if (given.length > 0) throw new UsageError(`${given.map((f) => `--${f}`).join(', ')} ${given.length === 1 ? 'says' : 'say'} how probes are drafted and routed: add --probe (overlap alone reads the descriptions and the run folders given)`)
    const { config } = await loadConfig(flags.config)
    const loaded = await loadAgentFolders(flags.agents ?? config.agents, { skipInvalid: flags.skipInvalid, env: io.env })
    for (const w of loaded.warnings) io.warn(`warning: ${loadWarningText(w)}\n`)
    const runs = await readRuns(runDirs)
    runs.forEach((r, i) => {
      if (r.catalogueFingerprint !== loaded.catalogue.fingerprint) io.warn(`note: ${runDirs[i]} was routed with other agent descriptions than ${(flags.agents ?? config.agents).join(' + ')} has now: its routing evidence is about those\n`)
    })
    // A probe run judges its pairs by probes; pooled with a dataset's cases, one advice would rest on two kinds of evidence.
    const probeRuns = runs.filter((r) => r.overlap.probes !== undefined)
    if (probeRuns.length > 0 && runs.length > 1) {
      throw new UsageError(`${runDirs.filter((_, i) => runs[i]!.overlap.probes !== undefined).join(', ')} ${probeRuns.length === 1 ? 'is a probe run' : 'are probe runs'} (overlap --probe): give it alone, not with other run folders, so each pair is judged by one kind of evidence`)
    }
    const probes = probeRuns[0]?.overlap.probes
    const report = overlapOfRuns(
      loaded.catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file })),
      runs.map((r) => (probes ? { ...r, cases: r.cases.map((c) => ({ ...c, prompt: c.prompt ?? '' })) } : r)),
      loaded.invalid.map(({ file, line, reason }) => ({ file, line, reason })),
      probes ? { ...probes, pairs: probes.pairs.map(({ a, b, flagged }) => ({ a, b, flagged })) } : undefined,
    )
    if (flags.json) io.out(`${JSON.stringify(report, null, 2)}\n`)
    else io.out(`${renderOverlapText(report, { color: io.color, width: Math.min(io.columns || WIDTH.default, WIDTH.max) })}\n`)
    return EXIT.ok
  },
})

type Flags = ParsedOptions<typeof options>

function isGiven(flags: Flags, flag: (typeof PROBE_ONLY)[number]): boolean {
  const value = (flags as Record<string, unknown>)[flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())]
  return value !== undefined && value !== false
}

async function probe(flags: Flags, io: CommandIO, runDirs: readonly string[]): Promise<number> {
  if (runDirs.length > 0) throw new UsageError(`--probe judges pairs by probe prompts, and ${runDirs.join(', ')} by a dataset's: give one or the other (routecheck overlap RUN_DIR reads a dataset's evidence; overlap --probe needs no dataset)`)
  const width = Math.min(io.columns || WIDTH.default, WIDTH.max)
  const style = { color: io.color, width: outputWidth(io.columns) }
  // Loaded when a probe runs: the tool caller brings @anthropic-ai/sdk with it, which no other command's start should pay.
  const [{ probeOverlap }, { renderProbeDone, renderProbeDryRun }] = await Promise.all([import('../run/probe.js'), import('../report/probe-text.js')])
  const outcome = await probeOverlap({ ...flags, from: flags.probeFrom, pairs: flags.probePairs, perAgent: flags.probePrompts }, io, {
    signal: io.signal,
    reports: async (summary, staging, dataset) => void (await writeReports(staging, summary, dataset.cases)),
    onRun: async (_summary, dir) => io.warn(`wrote ${dir}/ (${RUN_FILES.probes}, summary.json, results.jsonl, report.html, report.md, junit.xml) and confusion.csv\n`),
  })
  switch (outcome.kind) {
    case 'fatal':
      return fatalExit(outcome, io)
    case 'dry-run':
      if (flags.json) {
        io.out(
          `${JSON.stringify(
            {
              from: outcome.from,
              pairs: outcome.pairs,
              flaggedLeftOut: outcome.flaggedLeftOut,
              agents: outcome.agents,
              perAgent: outcome.perAgent,
              ...(outcome.drafting ? { drafting: { model: outcome.drafting.model, estimate: outcome.drafting.estimate, ...(outcome.drafting.batchLines ? { batch: outcome.drafting.batchLines } : {}), requests: outcome.drafting.plan.requests.map((p, i) => ({ target: p.target, prompts: p.asked, estimate: outcome.drafting!.perRequest[i], body: outcome.drafting!.bodies?.[i] })) } } : {}),
              ...(outcome.rows ? { rows: outcome.rows } : {}),
              routing: outcome.routing,
            },
            null,
            2,
          )}\n`,
        )
      } else io.out(`${renderProbeDryRun(outcome, style)}\n`)
      return EXIT.ok
    case 'done': {
      const report = outcome.summary.overlap
      if (flags.json) io.out(`${JSON.stringify(report, null, 2)}\n`)
      else io.out(`${renderOverlapText(report, { color: io.color, width })}\n`)
      io.warn(`${renderProbeDone(outcome, style)}\n`)
      for (const note of outcome.notes) io.warn(`${note}\n`)
      return outcome.complete ? EXIT.ok : EXIT.incomplete
    }
  }
}
