import type { Catalogue } from '../load/catalogue.js'
import type { Case } from '../load/dataset.js'
import type { BatchSession } from '../route/batch-routing.js'
import type { Journal } from '../route/journal.js'
import type { Router } from '../route/router.js'
import { routeCases, type Attempt, type Budget, type RetryPolicy } from '../route/run.js'
import { voteByCase } from '../score/votes.js'
import type { BaselineDataset } from './baseline.js'
import { compareDataset, type DatasetComparison, type SideCase } from './compare.js'

/**
 * The gate's noise check, one function for `routecheck gate` and for
 * `improve`'s prediction of it: a model router's flip that every repeat
 * agreed on is routed again on fresh repeat indices, and a flip the re-test
 * does not reproduce is noise (flaky), held at its baseline decision by the
 * rules. Deterministic routers are never re-tested: their flips are real.
 */

/** Re-test repeat indices start here, past any run's own (at most MAX_REPEATS, 50): the journal holds them apart, so a rerun re-sends nothing and a run's own repeat never answers a re-test. */
export const RETEST_FIRST_REPEAT = 1000

/** Repeats of a re-test: at least 3, so that agreeing with a flip is more than one more coin landing the same way; never fewer than the run had. */
export const retestRepeats = (repeats: number): number => Math.max(3, repeats)

/** The flips a re-test can still call noise: those whose repeats all agreed. */
export const flipsToRetest = (comparison: DatasetComparison): string[] => comparison.flips.filter((f) => !f.flaky).map((f) => f.id)

/** Extra repeats of a dataset's flipped cases: each case id's votes. */
export type RetestVotes = ReadonlyMap<string, Record<string, number>>

/** How a caller re-tests one dataset's flips; `baseline.repeats` sets how many times. */
export type Retest = (comparison: DatasetComparison, baseline: BaselineDataset) => Promise<RetestVotes>

/** The stable flips re-tested and how many of them the re-test showed to be noise. */
export type RetestTally = { flips: number; noise: number }

export type RetestRouting = {
  router: Router
  /** the candidate catalogue: the flips are re-tested with the descriptions that flipped them */
  catalogue: Catalogue
  /** the candidate catalogue's run journal: a rerun finds the re-test's answers there */
  journal?: Journal | undefined
  concurrency: number
  timeoutMs: number
  retry: RetryPolicy
  signal?: AbortSignal | undefined
  /** --max-cost, live */
  budget?: Budget | undefined
  onAttempt?: ((attempt: Attempt) => void) | undefined
  /** --batch: the session the run's routing used; the re-test is one more batch of it */
  batches?: BatchSession | undefined
  warn: (text: string) => void
}

/** The requests a dataset's re-test sends: each stable flip's prompt at each fresh repeat (for a batch that holds several datasets' re-tests). */
export function retestJobs(cases: readonly Case[], comparison: DatasetComparison, repeats: number): Array<{ prompt: string; repeat: number }> {
  const ids = new Set(flipsToRetest(comparison))
  return cases.filter((c) => ids.has(c.id)).flatMap((c) => Array.from({ length: retestRepeats(repeats) }, (_, i) => ({ prompt: c.prompt, repeat: RETEST_FIRST_REPEAT + i })))
}

/** Routes each stable flip of `comparison` `retestRepeats(repeats)` more times, from RETEST_FIRST_REPEAT: their votes by case id. */
export async function retestFlips(cases: readonly Case[], comparison: DatasetComparison, repeats: number, routing: RetestRouting): Promise<Map<string, Record<string, number>>> {
  const ids = new Set(flipsToRetest(comparison))
  if (ids.size === 0) return new Map()
  const times = retestRepeats(repeats)
  routing.warn(`re-testing ${ids.size} flipped case(s) ${times} more times each to tell regressions from noise\n`)
  const retested = cases.filter((c) => ids.has(c.id))
  const attempts = routing.batches
    ? await routing.batches.route(retested, { repeats: times, firstRepeat: RETEST_FIRST_REPEAT, ...(routing.onAttempt ? { onAttempt: routing.onAttempt } : {}) })
    : await routeCases(retested, routing.catalogue, routing.router, {
        repeats: times,
        firstRepeat: RETEST_FIRST_REPEAT,
        concurrency: routing.concurrency,
        timeoutMs: routing.timeoutMs,
        retry: routing.retry,
        ...(routing.signal ? { signal: routing.signal } : {}),
        ...(routing.journal ? { journal: routing.journal } : {}),
        ...(routing.budget ? { budget: routing.budget } : {}),
        ...(routing.onAttempt ? { onAttempt: routing.onAttempt } : {}),
      })
  return new Map(voteByCase(retested, attempts).map((c) => [c.id, c.vote.votes]))
}

/** A stand-in re-test vote for a flip whose re-test is unfinished: no agent is named so, so it overturns the flip. */
const OVERTURNED = '\u0000overturned'

/**
 * One dataset as the gate judges it: compared with the baseline, its stable
 * flips re-tested (when `retest` is given), and compared again with the
 * re-test's votes. `first` is the comparison before the re-test, when the
 * caller has it already.
 *
 * A flip whose re-test has fewer answers than it asked for (--max-cost
 * stopped it, or requests failed), every answer agreeing with the flip, is
 * *untested*: not evidence either way. `comparison` judges each in the
 * candidate's favour (a broke flip held at its baseline decision as noise
 * would be, a fixed one counted), `against` in its disfavour (a broke flip
 * counted, a fixed one held); a rule that fails in the first fails whatever
 * the missing answers say, one that passes in the second passes so too.
 * `against` is absent when no flip is untested. A flip with any answer that
 * disagrees is noise already: more answers cannot make it agree.
 */
export async function compareRetested(
  baseline: BaselineDataset,
  candidate: readonly SideCase[],
  agentNames: readonly string[],
  retest: Retest | undefined,
  first: DatasetComparison = compareDataset(baseline, candidate, agentNames),
): Promise<{ comparison: DatasetComparison; against?: DatasetComparison; tally: RetestTally; untested: string[] }> {
  const votes = retest ? await retest(first, baseline) : new Map<string, Record<string, number>>()
  if (votes.size === 0) return { comparison: first, tally: { flips: 0, noise: 0 }, untested: [] }
  const judged = compareDataset(baseline, candidate, agentNames, votes)
  const noisy = new Set(judged.flaky)
  const times = retestRepeats(baseline.repeats)
  const answered = (id: string) => Object.values(votes.get(id) ?? {}).reduce((a, b) => a + b, 0)
  const asked = flipsToRetest(first).filter((id) => votes.has(id))
  const untested = asked.filter((id) => !noisy.has(id) && answered(id) < times)
  const retested = asked.filter((id) => !untested.includes(id))
  const tally = { flips: retested.length, noise: retested.filter((id) => noisy.has(id)).length }
  if (untested.length === 0) return { comparison: judged, tally, untested }
  const direction = new Map(first.flips.map((f) => [f.id, f.direction]))
  /** The untested flips of `held` direction overturned (held at the baseline decision), the others' answers as they are. */
  const resolved = (held: 'broke' | 'fixed') => {
    const assumed = new Map(votes)
    for (const id of untested) if (direction.get(id) === held) assumed.set(id, { [OVERTURNED]: 1 })
    const c = compareDataset(baseline, candidate, agentNames, assumed)
    const mark = new Set(untested)
    return { ...c, flips: c.flips.map((f) => (mark.has(f.id) ? { ...f, untested: true as const } : f)), flaky: c.flaky.filter((id) => !mark.has(id)), untested }
  }
  return { comparison: resolved('broke'), against: resolved('fixed'), tally, untested }
}
