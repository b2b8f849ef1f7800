import { renderImprove } from '../improve/render.js'
import { outputWidth } from '../report/terminal.js'
import { defineCommand } from './command.js'
import { BATCH_FLAGS, fatalExit, ROUTING_FLAGS } from './eval.js'
import { EXIT } from './io.js'
import { pick } from './options.js'

export const improveCommand = defineCommand({
  name: 'improve',
  summary: 'rewrite near-duplicate agents with Claude; keep a rewrite only if held-out routing proves it better',
  description: `For a cluster of near-duplicate agents (or the agents named with --agent),
Claude proposes descriptions that open with what only each agent does, keeping
each agent's job. Each round routes every case of the datasets with the
proposal. The cases are split, deterministically and stratified by their first
expected label, into a train half, whose results the rewriter sees, and a
held-out half, which picks the winner. A rewrite is kept only if held-out
accuracy rises and the gate's rules (accuracy drop, agent F1 drop, stable
flips, new near-duplicates) pass against the descriptions as they are, a
model router's stable flips first re-tested as the gate re-tests them (a
flip the re-test does not reproduce is noise). The
winner is written as a unified diff for the agent files (descriptions.patch),
never applied, with improve.json holding every round's descriptions and
figures and the exact McNemar p-value on the held-out half.

--batch sends each rewrite, and each round's routing and re-tests where the
router is anthropic, as Message Batches at half the price. The rounds depend on each
other, so the batches are waited for one after another: minutes to hours.`,
  stoppable: true,
  options: pick([...ROUTING_FLAGS, ...BATCH_FLAGS, 'agent', 'cluster', 'rounds', 'draft-model', 'dry-run', 'out', 'json', 'no-color'], {
    agent: 'an agent to rewrite; repeat for several (default: the agents of --cluster)',
    out: 'the folder for descriptions.patch and improve.json (default: <out>/improve/)',
    json: 'print improve.json to stdout instead of the table',
    batch: "send the rewriter's requests, and the anthropic router's, through the Message Batches API, at half the price; each round waits for its batches. A rerun reattaches to them",
  }),
  footer: 'Exit codes: 0 done (a patch written or not) · 2 bad input or usage · 3 some cases have no decision',
  async run(flags, io) {
    // Loaded when the command runs: it brings @anthropic-ai/sdk with it, which no other command's start should pay.
    const { improveAgents } = await import('../improve/run.js')
    const outcome = await improveAgents(flags, io, io.signal)
    if (outcome.kind === 'dry-run') {
      io.out(outcome.text)
      return EXIT.ok
    }
    if (outcome.kind === 'fatal') return fatalExit(outcome, io)
    if (flags.json) io.out(`${JSON.stringify(outcome.report, null, 2)}\n`)
    else io.out(`${renderImprove(outcome.report, { dir: outcome.dir, patchFile: outcome.patchFile }, { color: io.color, width: outputWidth(io.columns) })}\n`)
    for (const note of outcome.incomplete) io.warn(`${note}: the figures leave them out; run again to retry them (finished requests are not sent twice)\n`)
    return outcome.incomplete.length > 0 ? EXIT.incomplete : EXIT.ok
  },
})
