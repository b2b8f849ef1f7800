import path from 'node:path'
import type { Catalogue } from '../load/catalogue.js'
import type { CacheTtl } from '../load/config.js'
import type { Dataset } from '../load/dataset.js'
import type { BatchSession } from '../route/batch-routing.js'
import { usageCost, type Price } from '../route/cost.js'
import { openJournal, type Journal } from '../route/journal.js'
import type { RequestEstimate, Router } from '../route/router.js'
import { DEFAULT_RETRY, type Attempt } from '../route/run.js'
import { batchDryRunLines, estimatedUsage, startBatchSession, type BatchPlan } from '../run/batch-run.js'
import { budgetFor, openRunJournal, type RunEnv, type Setup } from '../run/evaluate.js'
import type { BaselineDataset } from './baseline.js'
import type { DatasetComparison, Flip } from './compare.js'
import { flipsToRetest, RETEST_FIRST_REPEAT, retestFlips, retestJobs, retestRepeats, type Retest } from './retest.js'

/**
 * The re-tests of flips, routed: one runner for the gate (its run's datasets, or saved runs') and
 * for each of improve's rounds. Every dataset's re-tests go through one journal, under what the
 * cap left for them, and with --batch as one batch, submitted for every dataset before any is
 * waited for.
 */

/** What the re-tests spent and what they left unanswered, for the gate's notes and gate.json. */
export type RetestAccount = {
  /** re-test requests sent this time, and their cost (USD; the batch rate with --batch) */
  sent: number
  usd: number
  /** re-test requests with no answer: not sent (the cap, or a stop) or failed */
  notSent: number
  failed: number
  /** the missing requests' cost as a rerun would pay it: each at the dearest of these re-test requests and its own estimate as a cache write */
  finishUsd: number
}

export type RetestRunnerOptions = {
  router: Router
  /** the candidate catalogue: the flips are re-tested with the descriptions that flipped them */
  catalogue: Catalogue
  /** the datasets as loaded; a comparison names its dataset by path */
  datasets: readonly Dataset[]
  price: Price | undefined
  concurrency: number
  timeoutMs: number
  maxTries: number
  /** the candidate catalogue's journal, asked for at the first re-test (a gate with no stable flip opens none) */
  journal: () => Journal | undefined
  /** what --max-cost leaves for the re-tests (USD); undefined: no cap */
  leftUsd: number | undefined
  /** the cap as the user knows it, for the requests it stops */
  capName?: string | undefined
  /** --batch: the plan, and the session to add the re-tests to (improve's round); without one the re-tests start their own */
  batch?: { plan: BatchPlan; session?: BatchSession | undefined } | undefined
  /** the progress line of a dataset's re-test */
  label: (dataset: Dataset) => string
  /** each re-test request's price once paid (improve counts it into its round's routing) */
  onUsd?: ((usd: number) => void) | undefined
  signal?: AbortSignal | undefined
  env: Pick<RunEnv, 'warn' | 'progress'>
}

export type RetestRunner = {
  /** --batch: every dataset's re-test requests in one batch, submitted before any is waited for; live: nothing */
  beforeRetest: (firsts: ReadonlyArray<{ comparison: DatasetComparison; baseline: BaselineDataset }>) => Promise<void>
  retest: Retest
  account: () => RetestAccount
}

export function retestRunner(o: RetestRunnerOptions): RetestRunner {
  const { router, catalogue, price } = o
  let session = o.batch?.session
  const account: RetestAccount = { sent: 0, usd: 0, notSent: 0, failed: 0, finishUsd: 0 }
  let dearestUsd = 0
  const missing: string[] = []
  const remaining = () => (o.leftUsd === undefined ? undefined : Math.max(0, o.leftUsd - account.usd))
  const datasetOf = (comparison: DatasetComparison) => o.datasets.find((d) => d.path === comparison.path)
  const onAttempt = (progress: ReturnType<RunEnv['progress']>) => (a: Attempt, prompt: string) => {
    const usd = price && a.decision?.usage && !a.cached ? usageCost(a.decision.usage, price) : undefined
    if (usd !== undefined) {
      account.usd += usd
      dearestUsd = Math.max(dearestUsd, usd)
      o.onUsd?.(usd)
    }
    if (!a.cached && !a.notSent) account.sent++
    if (!a.decision) {
      if (a.notSent) account.notSent++
      else account.failed++
      missing.push(prompt)
    }
    progress.tick({ failed: a.error !== undefined && !a.notSent, cached: a.cached === true, ...(usd !== undefined ? { usd } : {}) })
  }

  return {
    async beforeRetest(firsts) {
      if (!o.batch) return
      const jobs = firsts.flatMap(({ comparison, baseline }) => {
        const dataset = datasetOf(comparison)
        return dataset ? retestJobs(dataset.cases, comparison, baseline.repeats) : []
      })
      if (jobs.length === 0) return
      // One batch for every dataset's re-tests, kept to what the cap left at the batch rate (improve's round session keeps its own).
      session ??= await startBatchSession(
        { router, catalogue, plan: o.batch.plan, journal: o.journal(), price, maxCost: remaining(), capName: o.capName, maxTries: o.maxTries, signal: o.signal, warn: o.env.warn },
        [],
      )
      await session.submit(jobs)
    },
    async retest(comparison, baseline) {
      const dataset = datasetOf(comparison)
      if (!dataset) return new Map()
      const ids = new Set(flipsToRetest(comparison))
      if (ids.size === 0) return new Map()
      const flipped = dataset.cases.filter((c) => ids.has(c.id))
      const progress = o.env.progress(o.label(dataset), flipped.length * retestRepeats(baseline.repeats))
      const tick = onAttempt(progress)
      const promptOf = new Map(flipped.map((c) => [c.id, c.prompt]))
      const left = remaining()
      try {
        return await retestFlips(dataset.cases, comparison, baseline.repeats, {
          router,
          catalogue,
          journal: o.journal(),
          concurrency: o.concurrency,
          timeoutMs: o.timeoutMs,
          retry: { ...DEFAULT_RETRY, maxTries: o.maxTries },
          signal: o.signal,
          budget: session || left === undefined || !price ? undefined : budgetFor(left, price, router, catalogue, flipped, o.capName),
          batches: session,
          onAttempt: (a) => tick(a, promptOf.get(a.caseId) ?? ''),
          warn: o.env.warn,
        })
      } finally {
        progress.done()
      }
    },
    account: () => ({ ...account, finishUsd: finishCost(router, price, catalogue, o.batch?.plan, missing, dearestUsd) }),
  }
}

/** The gate's runner, and the journal it opens. */
export type GateRetest = RetestRunner & {
  /** whether the re-tests are journaled, so a rerun sends only what is missing */
  journal: boolean
  close: () => void
}

/**
 * The gate's re-tests: with the candidate's journal, and what the gate's run spent this time
 * (`spentUsd`: cost.usdThisRun over its datasets; for saved runs, what they spent when routed)
 * taken from --max-cost before the re-tests get the rest (the cap is the whole gate's).
 */
export function gateRetest(setup: Setup, env: RunEnv, spentUsd: number, signal?: AbortSignal): GateRetest {
  const { router, price, plan, loaded } = setup
  const maxCost = plan.options.maxCost
  let journal: Journal | undefined
  let opened = false
  const runner = retestRunner({
    router,
    catalogue: loaded.catalogue,
    datasets: setup.datasets,
    price,
    concurrency: plan.concurrency,
    timeoutMs: plan.timeoutMs,
    maxTries: plan.config.maxTries,
    // The run's journal: the gate's own run said what it holds (saved runs' re-tests say it here, once).
    journal: () => {
      if (!opened) journal = openRunJournal(setup, setup.folders ? { warn: () => {} } : env)
      opened = true
      return journal
    },
    leftUsd: maxCost === undefined ? undefined : Math.max(0, maxCost - spentUsd),
    capName: maxCost === undefined ? undefined : `--max-cost ${maxCost} USD`,
    batch: plan.batch ? { plan: plan.batch } : undefined,
    label: (dataset) => `re-test · ${path.basename(dataset.path)} · ${router.id}`,
    signal,
    env,
  })
  return { ...runner, journal: router.cacheKey !== undefined && !plan.options.noCache, close: () => journal?.close() }
}

/** The missing requests' price on a rerun: each at least the dearest re-test request paid, and at least its own estimate as a cache write (the first of a rerun writes the prompt cache again). */
function finishCost(router: Router, price: Price | undefined, catalogue: Catalogue, batch: BatchPlan | undefined, prompts: readonly string[], dearestUsd: number): number {
  if (!price || !router.estimate) return 0
  return prompts.reduce((n, p) => n + Math.max(dearestUsd, usageCost(estimatedUsage(router.estimate!(p, catalogue), true, batch?.cacheTtl ?? '5m', batch !== undefined), price)), 0)
}

/** --dry-run: the re-tests' bound, as improve's dry run gives it: every case flipping, each re-tested max(3, repeats) times. */
export function retestDryRunLines(setup: Setup, repeatsOf: (dataset: { path: string }) => number): string[] {
  const { router, price, loaded, datasets, plan } = setup
  if (router.deterministic) return [`re-tests: none (the ${router.id} router is deterministic: a flip is never noise)`]
  let requests = 0
  let usd = 0
  for (const d of datasets) {
    const times = retestRepeats(repeatsOf(d))
    requests += d.cases.length * times
    if (price && router.estimate) for (const c of d.cases) usd += times * usageCost(estimatedUsage(router.estimate(c.prompt, loaded.catalogue), false, plan.batch?.cacheTtl ?? '5m', plan.batch !== undefined), price)
  }
  const cases = datasets.reduce((n, d) => n + d.cases.length, 0)
  const priced = router.estimate ? (price ? `, ≈$${usd.toFixed(4)} with the catalogue prefix read from the prompt cache${plan.batch ? ', at the batch rate' : ''}` : ', no price known for this model') : ''
  const cap = plan.options.maxCost === undefined ? [] : [`--max-cost ${plan.options.maxCost} USD covers the run and its re-tests together: the re-tests get what the run leaves of it`]
  return [
    `re-tests of stable flips: up to ${requests.toLocaleString('en-US')} request(s) (${cases} cases × max(3, repeats) repeats from repeat 1000: the bound, every case flipping; the gate re-tests only the cases it flipped${plan.batch ? ', as one more batch after the run' : ''})${priced}`,
    ...cap,
  ]
}

/** How many flip ids a dry run names before it says "…". */
const NAMED_FLIPS = 8

/** A dataset's flips against the baseline, as `gate RUN_DIR… --dry-run` names them before re-testing any. */
export function flipsLine(comparison: DatasetComparison): string {
  const stable = comparison.flips.filter((f) => !f.flaky)
  const flaky = comparison.flips.length - stable.length
  const named = (direction: Flip['direction']) => {
    const ids = stable.filter((f) => f.direction === direction).map((f) => f.id)
    return ids.length === 0 ? [] : [`${direction === 'broke' ? 'right → wrong' : 'wrong → right'}: ${ids.slice(0, NAMED_FLIPS).join(', ')}${ids.length > NAMED_FLIPS ? `, … (${ids.length})` : ''}`]
  }
  const which = [...named('broke'), ...named('fixed')]
  return `${comparison.path}: ${comparison.cases} case(s) compared, ${stable.length} stable flip(s)${which.length > 0 ? ` (${which.join('; ')})` : ''}${flaky > 0 ? `, ${flaky} flaky (repeats disagree: held at the baseline decision, not re-tested)` : ''}`
}

/**
 * `gate RUN_DIR… --dry-run`: the re-tests of saved runs' flips, known before anything is sent
 * (comparing saved runs with the baseline routes nothing). Per dataset the stable flips and the
 * re-test requests the journal does not answer, priced as the gate prices them (the catalogue
 * prefix written to the prompt cache once, then read; with --batch the batches and the batch
 * rate too), and what --max-cost leaves for them after `spentUsd`, what the runs spent.
 */
export function retestPlanLines(setup: Setup, firsts: ReadonlyArray<{ comparison: DatasetComparison; baseline: BaselineDataset }>, spentUsd: number): string[] {
  const { router, price, loaded, plan, datasets } = setup
  const catalogue = loaded.catalogue
  const journal = router.cacheKey && !plan.options.noCache ? openJournal(plan.config.cacheDir, router.cacheKey, catalogue.fingerprint, { readOnly: true }) : undefined
  const priced = price !== undefined && router.estimate !== undefined
  /** each pending request's estimate, in the order the gate sends them: the first writes the prompt cache */
  const pending: Array<{ prompt: string; repeat: number; estimate: RequestEstimate | undefined }> = []
  const costOf = (ttl: CacheTtl, batch: boolean) => pending.map((p, i) => (price ? usageCost(estimatedUsage(p.estimate, i === 0, ttl, batch), price) : 0))
  const lines: string[] = []
  for (const { comparison, baseline } of firsts) {
    const dataset = datasets.find((d) => d.path === comparison.path)
    const flips = flipsToRetest(comparison).length
    if (flips === 0) continue
    if (!dataset) {
      lines.push(`re-tests: ${comparison.path}: none (not among the datasets the flags and config name)`)
      continue
    }
    const jobs = retestJobs(dataset.cases, comparison, baseline.repeats)
    const todo = jobs.filter((j) => !journal?.get(j.prompt, j.repeat))
    const from = pending.length
    pending.push(...todo.map((j) => ({ ...j, estimate: router.estimate?.(j.prompt, catalogue) })))
    const usd = costOf('5m', false).slice(from).reduce((a, b) => a + b, 0)
    const tokens = pending.slice(from).reduce((n, p) => n + (p.estimate ? p.estimate.prefixTokens + p.estimate.promptTokens : 0), 0)
    const inJournal = jobs.length - todo.length
    lines.push(
      `re-tests: ${comparison.path}: ${todo.length} request(s) to send (${flips} stable flip(s) × ${retestRepeats(baseline.repeats)} repeats from repeat ${RETEST_FIRST_REPEAT}${inJournal > 0 ? `, ${inJournal} already in the journal` : ''})` +
        (router.estimate ? `, ≈${tokens.toLocaleString('en-US')} input tokens, ${price ? `≈$${usd.toFixed(4)}` : 'no price known for this model'}` : ''),
    )
  }
  const liveUsd = costOf('5m', false).reduce((a, b) => a + b, 0)
  if (plan.batch) lines.push(...batchDryRunLines(router, catalogue, plan.batch, price, journal, pending))
  const maxCost = plan.options.maxCost
  if (maxCost !== undefined && priced) {
    const left = Math.max(0, maxCost - spentUsd)
    const each = plan.batch ? costOf(plan.batch.cacheTtl, true) : costOf('5m', false)
    const need = each.reduce((a, b) => a + b, 0)
    let fit = 0
    for (let sum = 0; fit < each.length && sum + each[fit]! <= left; fit++) sum += each[fit]!
    lines.push(
      `--max-cost ${maxCost} USD: the runs spent $${spentUsd.toFixed(4)} when routed, which leaves $${left.toFixed(4)} for the re-tests; they need ≈$${need.toFixed(4)}${plan.batch ? ' at the batch rate' : ''}: ` +
        (fit === each.length
          ? 'room for all of them'
          : `room for about ${fit} of the ${each.length}; a flip left without its answers is not re-tested, and the gate is incomplete (exit 3) unless the rules fail without it`),
    )
  }
  const outputTokens = pending.find((p) => p.estimate)?.estimate?.outputTokens
  lines.push(
    `dry run: nothing was sent. Total: ${pending.length} re-test request(s)` +
      (priced ? `, ≈$${liveUsd.toFixed(4)} (tokens ≈ characters/4; output ≈${outputTokens ?? 0} tokens a request; the catalogue prefix written to the prompt cache once, then read)` : '') +
      '.',
  )
  return lines
}

/** The re-tests' unfinished business in words: how many flips lack their answers, and how a rerun finishes them. */
export function retestNotes(a: RetestAccount, untested: number, verdict: 'failed' | 'passed' | 'incomplete', opts: { maxCost: number | undefined; journal: boolean; spentUsd: number }): string[] {
  if (untested === 0) return []
  const why = [a.notSent > 0 ? `${a.notSent} not sent${opts.maxCost !== undefined ? ` (--max-cost ${opts.maxCost} USD would be passed)` : ''}` : '', a.failed > 0 ? `${a.failed} failed` : ''].filter(Boolean).join(', ')
  const what = `${untested} flipped case(s) were not re-tested: ${a.notSent + a.failed} re-test request(s) have no answer (${why}), and a flip not re-tested is no evidence of a regression nor proof of noise`
  const then =
    verdict === 'failed'
      ? 'the rules fail on what was re-tested, whatever those answers say'
      : verdict === 'passed'
        ? 'the rules pass whatever those answers say'
        : 'the rules pass with them as noise and fail if they hold, so the gate has no verdict: it is incomplete (exit 3), not failed'
  const rerun =
    opts.maxCost === undefined
      ? 'Run again to retry them; finished requests are not sent twice.'
      : opts.journal
        ? `Run again with --max-cost ${ceilCents(a.finishUsd)} to finish them: the run and the answered re-tests are in the journal, so only the ${a.notSent + a.failed} missing request(s) are sent (≈$${a.finishUsd.toFixed(4)}).`
        : `Run again with --max-cost ${ceilCents(opts.spentUsd + a.finishUsd)} to finish them (with --no-cache nothing is kept, so the run is routed again).`
  return [`${what}; ${then}. ${rerun}`]
}

/** A cap a user types: USD rounded up to the cent, never down. */
const ceilCents = (usd: number) => (Math.ceil(usd * 100 - 1e-9) / 100).toFixed(2)
