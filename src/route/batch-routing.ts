import type { Catalogue } from '../load/catalogue.js'
import type { CacheTtl } from '../load/config.js'
import type { Case } from '../load/dataset.js'
import { BUILTIN_AGENTS } from '../load/builtin-agents.js'
import { createBatchEngine, type BatchReading, type BatchSettings } from './batch.js'
import { attemptKey, batchCustomId, batchTag, keyOfCustomId, type Journal } from './journal.js'
import { RouterError, type BatchRouting, type Decision, type Router, type Usage } from './router.js'
import { flagUnknownAgent, type Attempt } from './run.js'

/**
 * A router's requests through the batch engine (batch.ts): each request is a case's prompt at one
 * repeat, its custom_id its journal key and the journal's tag; the run journal is the ledger, and each decision is
 * journaled as it is read.
 */

export type RoutingBatchSettings = Omit<BatchSettings, 'ledger' | 'budget'> & {
  cacheTtl: CacheTtl
  journal?: Journal
  budget?: {
    maxUsd: number
    named?: string
    /** what a request is expected to cost at the batch rate; `first` writes the prompt cache */
    estimateUsd(prompt: string, first: boolean): number
    costOf(usage: Usage): number
  }
}

export type BatchSession = {
  /** submits every request of these jobs that the journal has not answered and no batch holds yet */
  submit(jobs: readonly { prompt: string; repeat: number }[]): Promise<void>
  /**
   * The cases' attempts, in case then repeat order, as routeCases returns them, once every one
   * has its result (what is not submitted yet is submitted first). `onAttempt` sees each as it
   * finishes.
   */
  route(cases: readonly Case[], opts: { repeats: number; firstRepeat?: number; onAttempt?: (a: Attempt) => void }): Promise<Attempt[]>
  /** the batches this session created or reattached, in that order */
  batchIds(): string[]
}

export function createBatchSession(router: Router & { batch: BatchRouting }, catalogue: Catalogue, settings: RoutingBatchSettings): BatchSession {
  const { journal, budget, cacheTtl, ...engineSettings } = settings
  const known = new Set([...catalogue.agents.map((a) => a.name), ...BUILTIN_AGENTS])
  const tag = batchTag(router.cacheKey, catalogue.fingerprint)
  const customIdOf = (prompt: string, repeat: number) => batchCustomId(attemptKey(prompt, repeat), tag)
  /** the prompt of each request held, by custom_id */
  const prompts = new Map<string, string>()
  /** requests an earlier `route` call already returned: a later dataset reads them as the journal's */
  const routed = new Set<string>()

  const read = (message: unknown, batchId: string, latencyMs: number): BatchReading<Decision> => {
    try {
      const d = router.batch.read(message, catalogue)
      const usage = d.usage ? { ...d.usage, batch: true } : undefined
      return { value: { ...d, ...(usage ? { usage } : {}), batch: batchId, latencyMs }, ...(usage ? { usage } : {}) }
    } catch (e) {
      return { error: e instanceof RouterError ? e : new RouterError('bad_output', String(e)) }
    }
  }

  const engine = createBatchEngine<Decision>(
    {
      api: router.batch.api,
      params: (id) => router.batch.params(prompts.get(id)!, catalogue, cacheTtl),
      bytes: (id) => router.batch.bytes(prompts.get(id)!, catalogue),
      read,
      keep(id, decision) {
        const key = keyOfCustomId(id, tag)
        if (key !== undefined) journal?.appendKey(key, decision)
      },
      keepUnclaimed(id, message, batchId, latencyMs) {
        // Asked for by an earlier run of this journal, not this one: a success was paid for, so it is kept.
        const key = keyOfCustomId(id, tag)
        if (key === undefined || !journal || journal.getKey(key)) return
        const reading = read(message, batchId, latencyMs)
        if ('value' in reading) journal.appendKey(key, reading.value)
      },
    },
    {
      ...engineSettings,
      ...(journal ? { ledger: journal } : {}),
      ...(budget ? { budget: { maxUsd: budget.maxUsd, ...(budget.named ? { named: budget.named } : {}), costOf: budget.costOf, estimateUsd: (id, first) => budget.estimateUsd(prompts.get(id)!, first) } } : {}),
    },
  )

  async function submit(jobs: readonly { prompt: string; repeat: number }[]): Promise<void> {
    const ids: string[] = []
    for (const { prompt, repeat } of jobs) {
      const customId = customIdOf(prompt, repeat)
      if (prompts.has(customId) || journal?.getKey(attemptKey(prompt, repeat))) continue
      prompts.set(customId, prompt)
      ids.push(customId)
    }
    await engine.submit(ids)
  }

  return {
    submit,
    batchIds: engine.batchIds,
    async route(cases, { repeats, firstRepeat = 0, onAttempt }) {
      const jobs = cases.flatMap((c) => Array.from({ length: repeats }, (_, i) => ({ prompt: c.prompt, repeat: firstRepeat + i })))
      await submit(jobs)
      const attempts: Attempt[] = []
      const waiting: Promise<void>[] = []
      const used: string[] = []
      for (const c of cases) {
        for (let repeat = firstRepeat; repeat < firstRepeat + repeats; repeat++) {
          const customId = customIdOf(c.prompt, repeat)
          const settling = engine.outcome(customId)
          const cached = settling && !routed.has(customId) ? undefined : (engine.settledOutcome(customId)?.value ?? journal?.getKey(attemptKey(c.prompt, repeat)))
          const attempt: Attempt = { caseId: c.id, repeat, tries: 0 }
          attempts.push(attempt)
          if (cached || !settling) {
            Object.assign(attempt, cached ? { decision: flagUnknownAgent(cached, known), cached: true } : { error: 'no request was made for this case', notSent: true })
            onAttempt?.(attempt)
            continue
          }
          used.push(customId)
          waiting.push(
            settling.then((outcome) => {
              Object.assign(attempt, {
                tries: outcome.tries,
                ...(outcome.value ? { decision: flagUnknownAgent(outcome.value, known) } : {}),
                ...(outcome.error !== undefined ? { error: outcome.error } : {}),
                ...(outcome.errorKind !== undefined ? { errorKind: outcome.errorKind } : {}),
                ...(outcome.notSent ? { notSent: true } : {}),
              })
              onAttempt?.(attempt)
            }),
          )
        }
      }
      await Promise.all(waiting)
      await engine.settle(used)
      for (const id of used) routed.add(id)
      return attempts
    },
  }
}
