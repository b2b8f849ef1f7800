import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { compareDataset, decideGate, diffAgents, type DatasetComparison, type GateVerdict, type SideCase } from '../gate/compare.js'
import { changeCoverage, coverageFix, namesText, type CoverageCase } from '../gate/coverage.js'
import { compareRetested, retestRepeats, type RetestTally } from '../gate/retest.js'
import { retestRunner, type RetestRunner } from '../gate/retest-routing.js'
import type { BaselineDataset } from '../gate/baseline.js'
import { descriptionNeighbours, newNearDuplicates } from '../gate/near-duplicates.js'
import { agentFingerprint, buildCatalogue, type Agent, type Catalogue } from '../load/catalogue.js'
import { didYouMean } from '../load/closest-names.js'
import type { Case, Dataset } from '../load/dataset.js'
import { InputError, UsageError } from '../load/input-error.js'
import { analyseOverlap, type OverlapCluster } from '../overlap/index.js'
import { loadPrices, usageCost } from '../route/cost.js'
import type { BatchSession } from '../route/batch-routing.js'
import { openJournal } from '../route/journal.js'
import { DEFAULT_RETRY, FatalRouterError, routeCases, type Attempt, type Budget } from '../route/run.js'
import { createToolCaller, DEFAULT_DRAFT_MODEL } from '../route/tool-call.js'
import { batchPlan, startBatchSession, toolCallBatch, type BatchPlan } from '../run/batch-run.js'
import { budgetFor, overlapOfRuns, prepareEval, repeatsOf, type EvalOptions, type RunEnv, type Setup } from '../run/evaluate.js'
import { writeAtomic, WriteError } from '../run/files.js'
import { checkOutputFile } from '../run/out-folder.js'
import { scoreCases } from '../score/metrics.js'
import { mcnemarExact } from '../score/stats.js'
import { voteByCase, type CaseVote } from '../score/votes.js'
import { unifiedDiff, withDescription } from './patch.js'
import { proposalOf, rewriteRequest, rewriteTool } from './rewriter.js'
import type { ImproveReport, ImproveRound } from './schema.js'
import { splitCases, type Half } from './split.js'

/**
 * The improve use case: route every case with the agents as they are
 * (round 0), then for a few rounds ask Claude for new descriptions of the
 * chosen agents, showing it the train half's results, and route every case
 * with each proposal (with --batch, each round's routing and each rewrite a
 * Message Batch, waited for in turn). A proposal is kept only if accuracy on
 * the held-out test half rises and `routecheck gate` would pass it against
 * round 0 on every case: its comparison, its re-test of a model router's
 * stable flips (the same function, with the proposal's descriptions) and its
 * rules, the near-duplicate rule included. The kept one with the best
 * held-out accuracy becomes a patch for the agent files, which are never
 * edited.
 */

export type ImproveRequest = EvalOptions & {
  /** the agents to rewrite; empty: the agents of overlap cluster `cluster` */
  agent: readonly string[]
  cluster?: number | undefined
  rounds?: number | undefined
  draftModel?: string | undefined
}

export type ImproveOutcome =
  | { kind: 'dry-run'; text: string }
  | { kind: 'fatal'; message: string; unreachable: boolean }
  | { kind: 'done'; report: ImproveReport; dir: string; patchFile?: string; patch?: string; incomplete: string[] }

/** Drafting five descriptions takes longer than routing one prompt; a draft request gets at least this long. */
const DRAFT_TIMEOUT_MS = 180_000

type Votes = Map<string, { expected: string[]; vote: CaseVote; prompt: string; id: string; dataset: string }>

const keyOf = (dataset: string, id: string) => `${dataset}\u0000${id}`

/** A catalogue's routing of every case; `retest`, the gate's re-test of its stable flips, for a model router; `close` the journal once judged. */
type Routed = { votes: Votes; errored: number; retest: RetestRunner | undefined; close: () => void }

export async function improveAgents(request: ImproveRequest, env: RunEnv, signal?: AbortSignal): Promise<ImproveOutcome> {
  if (request.cluster !== undefined && request.agent.length > 0) throw new UsageError('--cluster and --agent both choose the agents to rewrite; give one of them')
  // improve writes its own folder (the rounds' report and the patch), not run folders: checked here, before round 0 routes anything.
  // --batch applies to the rewriter whatever the router, and to the routing where the router can batch: checked here, not by prepareEval, which refuses routers that cannot.
  const setup = await prepareEval({ ...request, batch: false, batchPoll: undefined }, env, { noRunFolders: true })
  try {
    const batching = batchPlan(setup.plan.config, request)
    if (!request.dryRun) {
      const dir = request.out ?? path.join(setup.plan.config.out, 'improve')
      await checkOutputFile({ file: path.join(dir, REPORT_FILE), named: '--out', keep: setup.plan.datasets.map((d) => ({ path: d, what: 'the dataset' })), folders: [] })
    }
    return await improveWith(setup, batching, request, env, signal)
  } finally {
    await setup.router.close?.()
  }
}

async function improveWith(setup: Setup, batching: BatchPlan | undefined, request: ImproveRequest, env: RunEnv, signal: AbortSignal | undefined): Promise<ImproveOutcome> {
  const { plan, loaded, datasets, router, price } = setup
  const config = plan.config
  const catalogue = loaded.catalogue
  const names = catalogue.agents.map((a) => a.name)
  const rounds = request.rounds ?? config.improve.rounds
  const testShare = config.improve.testShare
  const repeats = repeatsOf(setup)
  const dir = request.out ?? path.join(config.out, 'improve')
  for (const n of request.agent) {
    if (!names.includes(n)) throw new UsageError(`--agent ${n}: no agent of that name in ${plan.agentsDirs.join(' + ')}${didYouMean(n, names) ? `; ${didYouMean(n, names)}` : ''}`)
  }
  const draftModel = request.draftModel ?? config.improve.model ?? DEFAULT_DRAFT_MODEL
  const prices = loadPrices(config.anthropic.prices)
  const maxCost = request.maxCost
  let routingUsd = 0
  let rewriterUsd = 0
  let retestUsd = 0
  const remaining = () => (maxCost === undefined ? undefined : Math.max(0, maxCost - routingUsd - rewriterUsd))
  const caller = (dryRun: boolean) =>
    createToolCaller({
      model: draftModel,
      env: env.env,
      timeoutMs: Math.max(plan.timeoutMs, DRAFT_TIMEOUT_MS),
      cacheDir: config.cacheDir,
      noCache: request.noCache ?? false,
      dryRun,
      prices,
      ...(remaining() !== undefined ? { maxUsd: remaining()! } : {}),
      ...(signal ? { signal } : {}),
      ...toolCallBatch(batching, env.warn),
    })

  const split = splitCases(
    datasets.flatMap((d) => d.cases.map((c) => ({ key: keyOf(d.path, c.id), expected: c.expected }))),
    testShare,
  )

  if (request.dryRun) return { kind: 'dry-run', text: dryRun(setup, batching, request, rounds, repeats, split, caller(true), draftModel) }
  // A missing key or a bad ANTHROPIC_BASE_URL fails here, before round 0 routes anything.
  caller(false)
  const batchRouting = batching !== undefined && router.batch !== undefined
  if (batching && !batchRouting) env.warn(`note: --batch sends the rewriter's requests as message batches; the ${router.id} router ${router.pricedModel ? 'cannot batch, so it routes live' : 'routes locally'}\n`)

  const retry = { ...DEFAULT_RETRY, maxTries: config.maxTries }
  /** Counts a finished request's price into the routing cost and ticks the progress line. */
  const tally = (progress: ReturnType<RunEnv['progress']>) => (a: Attempt) => {
    const usd = price && a.decision?.usage && !a.cached ? usageCost(a.decision.usage, price) : undefined
    if (usd !== undefined) routingUsd += usd
    progress.tick({ failed: a.error !== undefined && !a.notSent, cached: a.cached === true, ...(usd !== undefined ? { usd } : {}) })
  }
  /** --max-cost for a round's live routing: what the rewriter and the routing so far left of it, the first request priced as writing the prompt cache. */
  const liveBudget = (cat: Catalogue, cases: readonly Case[]): Budget | undefined => (maxCost !== undefined && price ? budgetFor(remaining()!, price, router, cat, cases) : undefined)

  /**
   * Routes every case with a catalogue, keeping its journal (and with --batch its session) open
   * for the gate's re-test of the flips, which routes with the same catalogue; `close` when judged.
   */
  const routeAll = async (cat: Catalogue, label: string): Promise<Routed> => {
    const votes: Votes = new Map()
    let errored = 0
    const journal = router.cacheKey && !request.noCache ? openJournal(config.cacheDir, router.cacheKey, cat.fingerprint) : undefined
    let session: BatchSession | undefined
    try {
      // --batch: the round's requests, every dataset's, in batches before the first is waited for; the session keeps --max-cost.
      session = batchRouting
        ? await startBatchSession(
            { router, catalogue: cat, plan: batching!, journal, price, maxCost: remaining(), maxTries: config.maxTries, signal, warn: env.warn },
            datasets.map((dataset) => ({ dataset, repeats })),
          )
        : undefined
      for (const d of datasets) {
        const progress = env.progress(`${label} · ${path.basename(d.path)}`, d.cases.length * repeats)
        const budget = session ? undefined : liveBudget(cat, d.cases)
        const onAttempt = tally(progress)
        try {
          const attempts = session
            ? await session.route(d.cases, { repeats, onAttempt })
            : await routeCases(d.cases, cat, router, {
                repeats,
                concurrency: plan.concurrency,
                timeoutMs: plan.timeoutMs,
                retry,
                warmUp: !router.deterministic,
                ...(signal ? { signal } : {}),
                ...(journal ? { journal } : {}),
                ...(budget ? { budget } : {}),
                onAttempt,
                onRetry: () => progress.retry(),
              })
          for (const v of voteByCase(d.cases, attempts)) {
            const c = d.cases.find((x) => x.id === v.id)!
            votes.set(keyOf(d.path, v.id), { ...v, prompt: c.prompt, dataset: d.path })
            if (v.vote.decision === null) errored++
          }
        } finally {
          progress.done()
        }
      }
    } catch (e) {
      journal?.close()
      throw e
    }
    // The gate's noise check: a model router's stable flips routed again with this catalogue, as `routecheck gate` would,
    // under what the rewriter and the routing so far left of --max-cost (with --batch, the round's session keeps it).
    const retest = router.deterministic
      ? undefined
      : retestRunner({
          router,
          catalogue: cat,
          datasets,
          price,
          concurrency: plan.concurrency,
          timeoutMs: plan.timeoutMs,
          maxTries: config.maxTries,
          journal: () => journal,
          leftUsd: remaining(),
          batch: session ? { plan: batching!, session } : undefined,
          label: (d) => `${label} · re-test · ${path.basename(d.path)}`,
          onUsd: (usd) => {
            routingUsd += usd
            retestUsd += usd
          },
          signal,
          env,
        })
    return { votes, errored, retest, close: () => journal?.close() }
  }

  // Named agents are checked against gate.minChangedAgentCases before round 0 is paid for; a cluster's once round 0 has found it.
  if (request.agent.length > 0) checkCoverage([...new Set(request.agent)].sort(), datasets, catalogue, config.gate.minChangedAgentCases, env)
  let base: Routed
  try {
    base = await routeAll(catalogue, 'round 0')
    base.close()
  } catch (e) {
    if (e instanceof FatalRouterError) return { kind: 'fatal', message: e.message, unreachable: e.unreachable }
    throw e
  }
  const incomplete: string[] = []
  if (base.errored > 0) incomplete.push(`round 0: ${base.errored} case(s) have no decision`)

  // The agents to rewrite: named, or a cluster of the overlap with round 0's routing, as `overlap RUN_DIR…` would number them.
  let cluster: number | undefined
  let group: string[]
  if (request.agent.length > 0) group = [...new Set(request.agent)].sort()
  else {
    cluster = request.cluster ?? 1
    const clusters = clustersOf(catalogue, datasets, base.votes)
    if (clusters.length === 0) throw new UsageError(`no cluster to improve: no two agents of ${plan.agentsDirs.join(' + ')} are near-duplicates; name the agents to rewrite with --agent`)
    if (cluster > clusters.length) throw new UsageError(`--cluster ${cluster}: the overlap has ${clusters.length} cluster${clusters.length === 1 ? '' : 's'} (see routecheck overlap)`)
    group = [...clusters[cluster - 1]!.members]
    checkCoverage(group, datasets, catalogue, config.gate.minChangedAgentCases, env)
  }

  const files = new Map<string, string>()
  for (const a of catalogue.agents.filter((x) => group.includes(x.name))) {
    try {
      files.set(a.name, await readFile(a.file, 'utf8'))
    } catch (e) {
      throw new InputError([{ file: a.file, message: `cannot read the agent file to patch it: ${(e as Error).message}`, fix: 'make the file readable' }])
    }
  }

  const halfFigures = (votes: Votes, half: Half) => {
    const cases = [...votes].filter(([k]) => split.get(k) === half).map(([k, v]) => ({ id: k, expected: v.expected, vote: v.vote }))
    const m = scoreCases(cases, names).metrics
    return { cases: cases.filter((c) => c.vote.decision !== null).length, accuracy: m.accuracy }
  }
  const describe = (cat: Catalogue) => Object.fromEntries(cat.agents.filter((a) => group.includes(a.name)).map((a) => [a.name, a.description]))

  type Evaluated = { round: number; catalogue: Catalogue; votes: Votes; record: ImproveRound }
  const evaluated: Evaluated[] = [
    {
      round: 0,
      catalogue,
      votes: base.votes,
      record: { round: 0, descriptions: describe(catalogue), train: halfFigures(base.votes, 'train'), test: halfFigures(base.votes, 'test'), accepted: false, reason: 'the descriptions as they are' },
    },
  ]
  const records: ImproveRound[] = [evaluated[0]!.record]

  for (let round = 1; round <= rounds; round++) {
    if (signal?.aborted) break
    // Start from the best on the train half: the rewriter never learns the test half's figures.
    const parent = [...evaluated].sort((x, y) => y.record.train!.accuracy - x.record.train!.accuracy || x.round - y.round)[0]!
    const toolCaller = caller(false)
    const ask = rewriteRequest({
      agents: parent.catalogue.agents.map((a) => ({ name: a.name, description: a.description })),
      group,
      train: [...parent.votes].filter(([k]) => split.get(k) === 'train').map(([, v]) => ({ id: v.id, prompt: v.prompt, expected: v.expected, decision: v.vote.decision })),
      history: evaluated.filter((e) => e.round > 0).map((e) => ({ round: e.round, trainAccuracy: e.record.train!.accuracy, from: records.find((r) => r.round === e.record.from)?.train?.accuracy ?? 0 })),
    })
    let answer
    try {
      ;[answer] = await toolCaller.askAll([ask], rewriteTool)
    } catch (e) {
      if (e instanceof FatalRouterError) return { kind: 'fatal', message: `the rewriter (${draftModel}): ${e.message}`, unreachable: e.unreachable }
      throw e
    } finally {
      rewriterUsd += toolCaller.spentUsd()
    }
    const record: ImproveRound = { round, from: parent.round, descriptions: {}, accepted: false }
    records.push(record)
    if (!answer?.value) {
      record.reason = `no proposal: ${answer?.error ?? 'no answer'}`
      if (answer?.notSent) break
      continue
    }
    if (answer.value.notes) record.notes = answer.value.notes
    const proposal = proposalOf(answer.value, group)
    if ('error' in proposal) {
      record.reason = proposal.error
      continue
    }
    const agents: Agent[] = parent.catalogue.agents.map((a) => {
      const description = proposal.descriptions.get(a.name)
      return description === undefined ? a : { ...a, description, fingerprint: agentFingerprint({ ...a, description }) }
    })
    const candidate = buildCatalogue(agents)
    record.descriptions = describe(candidate)
    const unreadable = group.map((m) => withDescription(catalogue.agents.find((a) => a.name === m)!.file, files.get(m)!, record.descriptions[m]!)).find((r) => 'error' in r)
    if (unreadable && 'error' in unreadable) {
      record.reason = unreadable.error
      continue
    }
    if (candidate.fingerprint === parent.catalogue.fingerprint) {
      record.reason = `the same descriptions as round ${parent.round}`
      continue
    }
    let routed: Routed
    let judged: Awaited<ReturnType<typeof gateVerdict>>
    try {
      routed = await routeAll(candidate, `round ${round}`)
      try {
        judged = await gateVerdict(datasets, base.votes, routed.votes, catalogue, candidate, names, config.gate, repeats, routed.retest)
      } finally {
        routed.close()
      }
    } catch (e) {
      if (e instanceof FatalRouterError) return { kind: 'fatal', message: e.message, unreachable: e.unreachable }
      throw e
    }
    const { verdict } = judged
    if (routed.errored > 0) incomplete.push(`round ${round}: ${routed.errored} case(s) have no decision`)
    const account = routed.retest?.account()
    const unanswered = account ? account.notSent + account.failed : 0
    if (unanswered > 0) incomplete.push(`round ${round}: ${unanswered} re-test request(s) of flipped cases have no answer (their flips are judged against the proposal: a broke flip counts, a fixed one does not)`)
    record.train = halfFigures(routed.votes, 'train')
    record.test = halfFigures(routed.votes, 'test')
    record.heldOut = heldOut(base.votes, routed.votes, split)
    if (judged.retest) record.retest = { ...judged.retest, repeats: retestRepeats(repeats) }
    record.gate = { passed: verdict.passed, failures: verdict.failures.map((f) => ({ rule: f.rule, message: `${f.dataset ? `${f.dataset}: ` : ''}${f.message}` })) }
    const rose = record.test.accuracy > evaluated[0]!.record.test!.accuracy
    record.accepted = rose && verdict.passed
    if (!record.accepted) record.reason = [rose ? '' : 'held-out accuracy did not rise', verdict.passed ? '' : `the gate would fail (${[...new Set(verdict.failures.map((f) => f.rule))].join(', ')})`].filter(Boolean).join('; ')
    evaluated.push({ round, catalogue: candidate, votes: routed.votes, record })
  }

  const winner = records.filter((r) => r.accepted).sort((x, y) => y.test!.accuracy - x.test!.accuracy || x.round - y.round)[0]
  const report: ImproveReport = {
    kind: 'routecheck-improve',
    tool: { name: 'routecheck', version: env.toolVersion },
    createdAt: env.now().toISOString(),
    router: { id: router.id },
    rewriter: { model: draftModel },
    agents: group,
    ...(cluster !== undefined ? { cluster } : {}),
    datasets: datasets.map((d) => d.path),
    split: { train: [...split.values()].filter((h) => h === 'train').length, test: [...split.values()].filter((h) => h === 'test').length, testShare, stratifiedBy: 'first expected label' },
    repeats,
    rounds: records,
    ...(winner ? { winner: winner.round, patch: PATCH_FILE } : {}),
    ...(routingUsd + rewriterUsd > 0 ? { cost: { rewriterUsd, routingUsd, ...(retestUsd > 0 ? { retestUsd } : {}) } } : {}),
  }

  await mkdir(dir, { recursive: true }).catch((e: unknown) => Promise.reject(WriteError.of(dir, e)))
  let patch: string | undefined
  if (winner) {
    patch = group
      .map((m) => {
        const file = catalogue.agents.find((a) => a.name === m)!.file
        const after = withDescription(file, files.get(m)!, winner.descriptions[m]!)
        return 'text' in after ? unifiedDiff(patchPath(file), files.get(m)!, after.text) : ''
      })
      .join('')
    await writeAtomic(path.join(dir, PATCH_FILE), patch)
  }
  await writeAtomic(path.join(dir, REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`)
  return { kind: 'done', report, dir, ...(patch !== undefined ? { patchFile: path.join(dir, PATCH_FILE), patch } : {}), incomplete }
}

export const PATCH_FILE = 'descriptions.patch'
export const REPORT_FILE = 'improve.json'

/** A file's path in the patch: relative to the working folder, with forward slashes, so `git apply` and `patch -p1` run from there find it. */
function patchPath(file: string): string {
  const rel = path.relative(process.cwd(), path.resolve(file))
  return rel.split(path.sep).join('/')
}

/** The clusters of the overlap with round 0's routing: the numbering `eval` and `overlap RUN_DIR…` print. */
function clustersOf(catalogue: Catalogue, datasets: readonly Dataset[], votes: Votes): OverlapCluster[] {
  const agents = catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file }))
  const runs = datasets.map((d) => ({
    dataset: { path: d.path },
    cases: d.cases.map((c) => {
      const v = votes.get(keyOf(d.path, c.id))!.vote
      return { id: c.id, expected: c.expected, tags: c.tags, decision: v.decision, votes: v.votes, ...(v.runnerUp !== undefined ? { runnerUp: v.runnerUp } : {}), ...(v.margin !== undefined ? { margin: v.margin } : {}) }
    }),
  }))
  return overlapOfRuns(agents, runs, []).clusters
}

/** The test half against round 0: right → wrong, wrong → right, and the exact McNemar p-value of that split. */
function heldOut(before: Votes, after: Votes, split: ReadonlyMap<string, Half>): { broke: number; fixed: number; mcnemarP: number } {
  let broke = 0
  let fixed = 0
  for (const [k, b] of before) {
    const a = after.get(k)
    if (split.get(k) !== 'test' || !a || b.vote.decision === null || a.vote.decision === null) continue
    const was = b.expected.includes(b.vote.decision)
    const now = a.expected.includes(a.vote.decision)
    if (was && !now) broke++
    if (!was && now) fixed++
  }
  return { broke, fixed, mcnemarP: mcnemarExact(broke, fixed) }
}

/**
 * gate.minChangedAgentCases applies to improve as to the gate: a patch that edits an agent with
 * fewer cases of its own fails the gate when applied. The count does not depend on the rewrite, so
 * it is known before any: with every agent of the group short, no rewrite could be kept (exit 2,
 * nothing asked of the rewriter); with some, only rewrites that leave those as they are can.
 */
function checkCoverage(group: readonly string[], datasets: readonly Dataset[], catalogue: Catalogue, minimum: number, env: RunEnv): void {
  if (minimum === 0) return
  // Every case counts as it will in the gate's run of the patch: labelled, and not from-description.
  const coverage = changeCoverage(
    { changed: group, added: [] },
    datasets.map((d) => ({ path: d.path, cases: d.cases.map((c) => ({ expected: c.expected, tags: c.tags, after: null })) })),
    (agent) => descriptionNeighbours(catalogue.agents, agent),
  )
  const short = coverage.filter((a) => a.ownCases < minimum)
  if (short.length === 0) return
  const counts = short.map((a) => `${a.agent} ${a.ownCases}`).join(', ')
  if (short.length === coverage.length) {
    throw new UsageError(`gate.minChangedAgentCases is ${minimum} and every agent to rewrite has fewer cases of its own (${counts}): the gate would fail any rewrite, so none could be kept; ${coverageFix(short)}`)
  }
  env.warn(`note: gate.minChangedAgentCases is ${minimum} and ${namesText(short.map((a) => a.agent))} ${short.length === 1 ? 'has' : 'have'} fewer cases of ${short.length === 1 ? 'its' : 'their'} own (${counts}): only a rewrite that leaves ${short.length === 1 ? 'it' : 'them'} as ${short.length === 1 ? 'it is' : 'they are'} can be kept\n`)
}

/**
 * What `routecheck gate` would say of the candidate against round 0 as the baseline, on every case
 * of every dataset: the gate's comparison, its re-test of a model router's stable flips (`retest`,
 * with the candidate catalogue) and its rules. Also how many flips were re-tested and how many
 * were noise.
 */
async function gateVerdict(
  datasets: readonly Dataset[],
  before: Votes,
  after: Votes,
  old: Catalogue,
  candidate: Catalogue,
  names: readonly string[],
  thresholds: Setup['plan']['config']['gate'],
  repeats: number,
  retest: RetestRunner | undefined,
): Promise<{ verdict: GateVerdict; retest?: RetestTally }> {
  const side = (v: Votes, d: Dataset): SideCase[] =>
    d.cases.map((c) => {
      const { vote } = v.get(keyOf(d.path, c.id))!
      return { id: c.id, expected: c.expected, decision: vote.decision, votes: vote.votes, split: vote.split, flipped: vote.flipped }
    })
  const sides = datasets.map((d) => {
    const cases = side(before, d).map((c) => ({ ...c, correct: c.decision === null ? null : c.expected.includes(c.decision) }))
    const scored = scoreCases(
      cases.map((c) => ({ id: c.id, expected: c.expected, vote: before.get(keyOf(d.path, c.id))!.vote })),
      names,
    ).metrics
    const baseline: BaselineDataset = { path: d.path, fingerprint: d.fingerprint, repeats, metrics: { accuracy: scored.accuracy, primaryAccuracy: scored.primaryAccuracy, macroF1: scored.macroF1, errored: scored.errored }, cases }
    const now = side(after, d)
    return { dataset: d, baseline, now, first: compareDataset(baseline, now, names) }
  })
  await retest?.beforeRetest(sides.map((x) => ({ comparison: x.first, baseline: x.baseline })))
  const comparisons: DatasetComparison[] = []
  const tally: RetestTally = { flips: 0, noise: 0 }
  for (const x of sides) {
    const judged = await compareRetested(x.baseline, x.now, names, retest?.retest, x.first)
    // A proposal is kept only if the gate would surely pass it: flips whose re-test is unfinished are judged against it.
    comparisons.push(judged.against ?? judged.comparison)
    tally.flips += judged.tally.flips
    tally.noise += judged.tally.noise
  }
  const described = (c: Catalogue) => c.agents.map((a) => ({ name: a.name, description: a.description, fingerprint: a.fingerprint }))
  // Every case is compared here (round 0 routed the same ones); the agents the proposal edits are the change.
  const decided = (d: Dataset): CoverageCase[] =>
    d.cases.flatMap((c) => {
      const b = before.get(keyOf(d.path, c.id))!.vote.decision
      const a = after.get(keyOf(d.path, c.id))!.vote.decision
      return b !== null && a !== null ? [{ expected: c.expected, tags: c.tags, before: b, after: a }] : []
    })
  const coverage = changeCoverage(
    diffAgents(described(old), described(candidate), []),
    datasets.map((d) => ({ path: d.path, cases: decided(d) })),
    (agent) => descriptionNeighbours(candidate.agents, agent),
  )
  return { verdict: decideGate(comparisons, newNearDuplicates(described(old), described(candidate)), thresholds, coverage), ...(retest ? { retest: tally } : {}) }
}

/** --dry-run: the first rewrite request and what the run would send, with the agents chosen from the descriptions alone. */
function dryRun(setup: Setup, batching: BatchPlan | undefined, request: ImproveRequest, rounds: number, repeats: number, split: ReadonlyMap<string, Half>, caller: ReturnType<typeof createToolCaller>, model: string): string {
  const { loaded, datasets, router, price } = setup
  const catalogue = loaded.catalogue
  const clusters = analyseOverlap({ agents: catalogue.agents.map((a) => ({ name: a.name, description: a.description, file: a.file })) }).clusters
  const group = request.agent.length > 0 ? [...new Set(request.agent)].sort() : (clusters[(request.cluster ?? 1) - 1]?.members ?? [])
  const lines: string[] = []
  if (group.length === 0) lines.push('no cluster on the descriptions alone: a routed run may join some; name the agents with --agent')
  else lines.push(`agents to rewrite${request.agent.length > 0 ? '' : ` (cluster ${request.cluster ?? 1} on the descriptions alone; the run picks it with routing evidence too)`}: ${group.join(', ')}`)
  const trainCases = datasets.flatMap((d) => d.cases.filter((c) => split.get(keyOf(d.path, c.id)) === 'train').map((c) => ({ id: c.id, prompt: c.prompt, expected: c.expected, decision: null })))
  const ask = rewriteRequest({ agents: catalogue.agents.map((a) => ({ name: a.name, description: a.description })), group, train: trainCases, history: [] })
  lines.push('', `First rewrite request (${model}):`, JSON.stringify(caller.preview(ask, rewriteTool), null, 2), '')
  const drafts = caller.estimate(Array.from({ length: rounds }, () => ask), rewriteTool)
  const cases = datasets.reduce((n, d) => n + d.cases.length, 0)
  const routing = cases * repeats * (rounds + 1)
  // The re-tests' bound: a round re-tests only its stable flips, unknown before it routes, and any case can flip; --max-cost holds the real spend.
  const retestTimes = router.deterministic ? 0 : retestRepeats(repeats)
  const retests = cases * retestTimes * rounds
  const batchRouting = batching !== undefined && router.batch !== undefined
  let perRepeatUsd = 0
  if (router.estimate && price) {
    for (const d of datasets) for (const c of d.cases) {
      const e = router.estimate(c.prompt, catalogue)
      perRepeatUsd += usageCost({ inputTokens: e.promptTokens, outputTokens: e.outputTokens, cacheReadTokens: e.prefixTokens, cacheWriteTokens: 0, ...(batchRouting ? { batch: true } : {}) }, price)
    }
  }
  const routingUsd = perRepeatUsd * repeats * (rounds + 1)
  const retestUsd = perRepeatUsd * retestTimes * rounds
  const priced = (usd: number) => (router.estimate ? `, ${price ? `≈$${usd.toFixed(4)} with the catalogue prefix read from the prompt cache${batchRouting ? ', at the batch rate' : ''}` : 'no price known for this model'}` : ', routed locally, no cost')
  const rewriterBatch = drafts.batchUsd !== undefined && drafts.batchMaxUsd !== undefined ? `; ≈$${drafts.batchUsd.toFixed(4)} at the batch rate (at most ≈$${drafts.batchMaxUsd.toFixed(4)}, each request writing its system text to the ${batching!.cacheTtl} cache)` : ''
  lines.push(
    `rewriter: up to ${drafts.requests} request(s), ≈${drafts.inputTokens.toLocaleString('en-US')} input tokens, ${drafts.usd !== undefined ? `≈$${drafts.usd.toFixed(4)}${rewriterBatch ? ` live${rewriterBatch}` : ''}` : 'no price known for this model'}`,
    `routing (${router.id}): up to ${routing.toLocaleString('en-US')} request(s) (${cases} cases × ${repeats} repeat${repeats === 1 ? '' : 's'} × ${rounds + 1} catalogues, round 0 included)${priced(routingUsd)}`,
    router.deterministic
      ? `re-tests: none (the ${router.id} router is deterministic: a flip is never noise)`
      : `re-tests of stable flips, as the gate makes them: up to ${retests.toLocaleString('en-US')} request(s) (${cases} cases × ${retestTimes} repeats × ${rounds} round${rounds === 1 ? '' : 's'}: the bound, every case flipping; a round re-tests only the cases it flipped)${priced(retestUsd)}`,
    ...(batching
      ? [
          batchRouting
            ? `batch: ${rounds + 1} routing batch(es) of up to ${(cases * repeats).toLocaleString('en-US')} requests (one a round), up to ${rounds} re-test batch(es) (one a round with a stable flip) and ${rounds} rewriter batch(es) of 1 request, each waited for before the next (a batch takes minutes, at most 24 h)`
            : `batch: ${rounds} rewriter batch(es) of 1 request, each waited for before its round routes (a batch takes minutes, at most 24 h); the ${router.id} router ${router.pricedModel ? 'cannot batch, so it routes live' : 'routes locally'}`,
        ]
      : []),
    `split: ${[...split.values()].filter((h) => h === 'train').length} train, ${[...split.values()].filter((h) => h === 'test').length} held out`,
    'dry run: nothing was sent.',
  )
  return `${lines.join('\n')}\n`
}
