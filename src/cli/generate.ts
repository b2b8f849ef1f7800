import { FROM_DESCRIPTION_WARNING } from '../draft/examples.js'
import { BOUNDARY_PER_PAIR, DEFAULT_PER_AGENT, NONE_SHARE } from '../draft/generate.js'
import { DEFAULT_DRAFT_MODEL, DRAFT_CONCURRENCY, DRAFT_TIMEOUT_S } from '../route/draft-defaults.js'
import { nothingNew, renderFromExamples, renderGenerated, renderGenerateDryRun } from '../report/generate-text.js'
import { outputWidth } from '../report/terminal.js'
import { GENERATED_DATASET } from '../run/init.js'
import { defineCommand } from './command.js'
import { BATCH_FLAGS, fatalExit } from './eval.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

export const generateCommand = defineCommand({
  name: 'generate',
  summary: 'draft a labelled dataset with Claude, for you to review; --from-examples offline',
  description: `Asks Claude (through the Messages API: ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL) to
draft test prompts for the agents and writes them as a dataset for a reviewer
to correct rather than write: for each agent, prompts in six registers (terse,
vague, a pasted stack trace, a diff, long context, typos); for each pair of
near-duplicate agents (routecheck overlap), boundary prompts that a good split
of the two descriptions must send one way; out-of-scope prompts labelled none;
and codebase searches for Claude Code's own Explore agent. Each prompt is
labelled with every acceptable agent, best first, and has a note saying why.

Prompts too alike are dropped (the first kept), and so are prompts that copy a
labelled agent's description (leakage flatters every router); each agent then
keeps --per-agent prompts, spread over the registers. Rows are tagged
"generated" and their register ("boundary" too, on the boundary).

--agent NAME (repeatable) drafts only for the agents a change touches: their
own prompts and the boundary prompts of their near-duplicate pairs, the rest
of the catalogue still in every request (labels may name any agent). none and
Explore prompts come only when named: --agent none, --agent Explore.

Every answer is kept in the cache folder, so a second run pays nothing for the
requests already answered. The output is never overwritten without --force;
--append adds the rows to the end of an existing dataset instead (its rows
kept byte for byte, ids past its own, prompts it already holds not added, so
a rerun appends nothing twice).

--batch sends the requests as Message Batches (half the price; results within
24 hours, usually minutes); a run stopped or killed while it waits, run again,
reattaches to its batches instead of submitting them again.

--from-examples instead takes, offline, the user turns of the descriptions'
<example> blocks (tagged from-description). The router reads those very
words, so they measure little.`,
  stoppable: true,
  options: pick(['config', 'agents', 'skip-invalid', 'agent', 'per-agent', 'model', 'dry-run', 'max-cost', ...BATCH_FLAGS, 'from-examples', 'out', 'append', 'force', 'concurrency', 'timeout', 'no-cache', 'json', 'no-color'], {
    agent: { group: 'Inputs', help: "draft only for this agent: its prompts and its near-duplicate pairs' boundary prompts; repeat for several. none and Explore prompts only when named (--agent none, --agent Explore). Default: every agent, none and Explore" },
    batch: 'send the drafting requests through the Message Batches API, at half the price; results within 24 h (usually minutes). A rerun reattaches to its batches',
    out: { value: 'FILE', help: `the dataset file to write, .csv or .jsonl (default: ${GENERATED_DATASET})` },
    model: `the model that drafts (default: ${DEFAULT_DRAFT_MODEL})`,
    'dry-run': 'print the requests, their tokens and estimated cost; send nothing, write nothing',
    concurrency: `requests in flight (default ${DRAFT_CONCURRENCY})`,
    timeout: `per request (default ${DRAFT_TIMEOUT_S})`,
    'no-cache': 'send every request again, though answered before (answers are still kept)',
    json: 'print what was written (or with --dry-run, every request body and the estimate) as JSON',
  }),
  footer: `Defaults: ${DEFAULT_PER_AGENT} prompts per agent, ${BOUNDARY_PER_PAIR} per near-duplicate pair, ${Math.round(NONE_SHARE * 100)}% of the agents' prompts as none, ${DEFAULT_PER_AGENT} for Explore.
Exit codes: 0 written (with --append, also: every prompt drafted already in the file) · 2 bad input, a file exists (without --force), a refused key or unknown model · 3 some requests failed or were not sent (--max-cost, Ctrl-C): what came back is written`,
  async run(flags, io) {
    // Loaded when the command runs: the drafting use case brings @anthropic-ai/sdk with it, which no other command's start should pay.
    const { generateDataset } = await import('../run/generate.js')
    const result = await generateDataset({ ...flags, fromExamples: flags.fromExamples }, io, io.signal)
    const style = { color: io.color, width: outputWidth(io.columns) }
    switch (result.kind) {
      case 'fatal':
        return fatalExit(result, io)
      case 'examples':
        if (flags.json) io.out(`${JSON.stringify({ file: result.file, written: !flags.dryRun, rows: result.rows }, null, 2)}\n`)
        else io.out(`${renderFromExamples(result, flags.dryRun)}\n`)
        io.warn(`warning: ${FROM_DESCRIPTION_WARNING}\n`)
        return EXIT.ok
      case 'dry-run':
        if (flags.json) io.out(`${JSON.stringify({ model: result.model, estimate: result.estimate, ...(result.batch ? { batch: result.batch.preview } : {}), ...(result.append ? { append: result.append } : {}), requests: result.plan.requests.map((p, i) => ({ target: p.target, prompts: p.asked, estimate: result.perRequest[i], body: result.bodies[i] })) }, null, 2)}\n`)
        else io.out(`${renderGenerateDryRun(result, style)}\n`)
        return EXIT.ok
      case 'drafted': {
        const a = result.assembled
        if (flags.json) {
          io.out(`${JSON.stringify({ file: result.file ?? null, ...(result.append ? { append: result.append } : {}), model: result.model, rows: a.rows.length, drafted: a.drafted, dropped: a.dropped, short: a.short, failed: a.failed, spentUsd: result.spentUsd, cachedRequests: result.cached, ...(result.batches ? { batches: result.batches } : {}) }, null, 2)}\n`)
        } else io.out(`${renderGenerated(result, style)}\n`)
        if (a.failed.length > 0) {
          io.warn(`routecheck: ${a.failed.length} of ${result.plan.requests.length} requests brought no prompts${a.failed.some((f) => f.notSent) ? ' (--max-cost or Ctrl-C stopped some before sending)' : ''}; run the same command again with --force: answered requests come from the cache, only the rest are sent\n`)
          return EXIT.incomplete
        }
        // A rerun of --append whose every prompt is in the dataset already has done its job.
        return result.file || nothingNew(result) ? EXIT.ok : EXIT.incomplete
      }
    }
  },
})
