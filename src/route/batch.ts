import { setTimeout as sleep } from 'node:timers/promises'
import type { Catalogue } from '../load/catalogue.js'
import { BATCH_LIMITS, type CacheTtl } from '../load/config.js'
import type { Case } from '../load/dataset.js'
import { BUILTIN_AGENTS } from '../load/builtin-agents.js'
import { attemptKey, batchCustomId, keyOfCustomId, type Journal } from './journal.js'
import { RouterError, type BatchRouting, type BatchStatus, type Decision, type Router, type Usage } from './router.js'
import { DEFAULT_RETRY, FatalRouterError, flagUnknownAgent, retryDelayMs, type Attempt, type RetryPolicy } from './run.js'

/**
 * --batch: a run's requests sent through the Message Batches API (half the price, results within
 * 24 hours) instead of one HTTP request each.
 *
 * The pending requests (not in the journal) are split into batches within the API's limits, each
 * request's custom_id being its journal key. Each batch's id goes to the journal the moment it is
 * created, so a run killed while it waits, run again, reattaches to its batches instead of
 * paying for them twice. Batches are polled every `pollMs`; an ended batch's results are streamed
 * and joined by custom_id, in whatever order they come, each decision journaled as it is read.
 * A request that errored, expired or was canceled is resubmitted once, in a new batch; after
 * that its failure is the case's error. Only then is the batch marked done in the journal.
 */

/** Submissions of one request before its failure is the case's error: the first, and one resubmission. */
export const MAX_SUBMISSIONS = 2

/** Error types of a batch request that a resubmission would meet again. */
const REFUSALS = new Set(['invalid_request_error', 'not_found_error', 'authentication_error', 'permission_error'])

/** `{"requests":[` … `]}` around a batch's entries, and each entry's `{"custom_id":"…","params":` … `}` and comma, besides the id. */
const BATCH_WRAPPER_BYTES = 16
const ENTRY_WRAPPER_BYTES = 26

export type BatchBudget = {
  maxUsd: number
  /** what a request is expected to cost at the batch rate; `first` writes the prompt cache */
  estimateUsd(prompt: string, first: boolean): number
  costOf(usage: Usage): number
}

export type BatchSettings = {
  pollMs: number
  cacheTtl: CacheTtl
  /** requests per batch, at most the API's 100,000 */
  maxRequests: number
  /** bytes per batch, at most the API's 256 MB (tests make it smaller) */
  maxBytes?: number
  /** tries of each call to the batch endpoints (create, poll, results) before it is given up */
  retry?: RetryPolicy
  journal?: Journal
  budget?: BatchBudget
  signal?: AbortSignal
  onEvent?: (event: BatchEvent) => void
}

export type BatchEvent =
  | { type: 'created'; id: string; requests: number; resubmitted: number; bytes: number }
  | { type: 'reattached'; id: string; requests: number; created: string }
  | { type: 'status'; id: string; status: BatchStatus; polls: number }
  | { type: 'joined'; id: string; succeeded: number; failed: number; resubmit: number; missing: number }
  | { type: 'gone'; id: string; requests: number; reason: string; /** the server does not know it: its requests are submitted afresh */ unknown: boolean }
  | { type: 'retry'; id: string | undefined; what: 'create' | 'poll' | 'results'; error: string; tries: number }

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

type Request = {
  customId: string
  key: string
  prompt: string
  /** batches it was submitted in */
  tries: number
  /** the batch holding it now */
  batch?: string
  state: 'queued' | 'submitted' | 'done'
  decision?: Decision
  error?: string
  errorKind?: string
  notSent?: boolean
  /** expected cost, held against --max-cost until its result is in */
  reservedUsd: number
  settled: Promise<void>
  settle: () => void
}

type LiveBatch = {
  id: string
  startedAt: number
  polls: number
  failures: number
  /** its results are all taken in (or it cannot be followed): it is polled no more */
  consumed: boolean
  /** resolves once it is consumed and the journal says so, or the run stopped */
  finished: Promise<void>
  finish: () => void
}

export function createBatchSession(router: Router & { batch: BatchRouting }, catalogue: Catalogue, settings: BatchSettings): BatchSession {
  const { api } = router.batch
  const journal = settings.journal
  const policy = settings.retry ?? DEFAULT_RETRY
  const maxBytes = Math.min(settings.maxBytes ?? BATCH_LIMITS.maxBytes, BATCH_LIMITS.maxBytes)
  const maxRequests = Math.min(settings.maxRequests, BATCH_LIMITS.maxRequests)
  const signal = settings.signal ?? new AbortController().signal
  const emit = (e: BatchEvent) => settings.onEvent?.(e)
  const known = new Set([...catalogue.agents.map((a) => a.name), ...BUILTIN_AGENTS])

  const requests = new Map<string, Request>()
  const live = new Map<string, LiveBatch>()
  const order: string[] = []
  let fatal: Error | undefined
  let polling: Promise<void> | undefined
  let spentUsd = 0
  let reservedUsd = 0
  let estimated = 0
  let created = 0

  // Stopped while nothing polls (between batches): what is left is settled at once.
  signal.addEventListener(
    'abort',
    () => {
      if (polling) return
      stopped()
      for (const b of live.values()) b.finish()
    },
    { once: true },
  )
  /** requests an earlier `route` call already returned: a later dataset reads them as the journal's */
  const routed = new Set<string>()

  const finish = (r: Request, outcome: Pick<Request, 'decision' | 'error' | 'errorKind' | 'notSent'>) => {
    if (r.state === 'done') return
    Object.assign(r, outcome)
    r.state = 'done'
    reservedUsd -= r.reservedUsd
    r.reservedUsd = 0
    r.settle()
  }
  const failAll = (error: string) => {
    for (const r of requests.values()) if (r.state !== 'done') finish(r, { error })
  }

  const newRequest = (prompt: string, repeat: number): Request => {
    const key = attemptKey(prompt, repeat)
    let settle!: () => void
    const settled = new Promise<void>((resolve) => (settle = resolve))
    return { customId: batchCustomId(key), key, prompt, tries: 0, state: 'queued', reservedUsd: 0, settled, settle }
  }

  const reserve = (r: Request): boolean => {
    const budget = settings.budget
    if (!budget) return true
    const usd = budget.estimateUsd(r.prompt, estimated++ === 0)
    if (spentUsd + reservedUsd + usd > budget.maxUsd + 1e-12) return false
    r.reservedUsd = usd
    reservedUsd += usd
    return true
  }

  /** Calls a batch endpoint, retrying what can be retried; a bad key or model stops the run. */
  async function call<T>(what: 'create' | 'poll' | 'results', id: string | undefined, work: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await work()
      } catch (e) {
        if (signal.aborted) throw e
        const failure = e instanceof RouterError ? e : new RouterError('bad_request', e instanceof Error ? e.message : String(e), { retryable: false })
        if (failure.fatal) throw new FatalRouterError(failure.message)
        if (!failure.retryable || tries >= policy.maxTries) throw failure
        emit({ type: 'retry', id, what, error: failure.message, tries })
        await sleep(retryDelayMs(tries, failure.retryAfterMs, policy), undefined, { signal })
      }
    }
  }

  /** Sends every queued request, in as few batches as the limits allow. */
  async function flush(): Promise<void> {
    const queued = [...requests.values()].filter((r) => r.state === 'queued')
    const admitted = queued.filter((r) => {
      if (signal.aborted) return false
      if (reserve(r)) return true
      finish(r, { error: `not sent: --max-cost ${settings.budget!.maxUsd} USD would be passed`, notSent: true })
      return false
    })
    const { batches: chunks, tooLarge } = splitIntoBatches(admitted, (r) => router.batch.bytes(r.prompt, catalogue) + r.customId.length, { maxRequests, maxBytes })
    for (const r of tooLarge) finish(r, { error: `not sent: its request is larger than a batch may be (${maxBytes} bytes)`, errorKind: 'bad_request' })
    for (const c of chunks) await createBatch(c.items, c.bytes)
  }

  async function createBatch(batch: Request[], bytes: number): Promise<void> {
    if (signal.aborted) return
    // Built now, one batch at a time: a run of 100,000 cases never holds every request body at once.
    const entries = batch.map((r) => ({ custom_id: r.customId, params: router.batch.params(r.prompt, catalogue, settings.cacheTtl) }))
    let status: BatchStatus
    try {
      status = await call('create', undefined, () => api.create(entries, signal))
    } catch (e) {
      if (signal.aborted) return
      if (e instanceof FatalRouterError) throw e
      const message = (e as Error).message
      // Nothing reached the server yet: every later batch would fail alike.
      if (created === 0 && e instanceof RouterError && e.kind === 'connection') throw new FatalRouterError(`${message}; the first batch could not be created, so nothing was sent`, true)
      for (const r of batch) finish(r, { error: `the batch could not be created: ${message}`, errorKind: e instanceof RouterError ? e.kind : 'bad_request' })
      return
    }
    created++
    // The id goes to the journal before anything else: a kill from here on reattaches instead of paying twice.
    journal?.appendBatch({ id: status.id, customIds: batch.map((r) => r.customId) })
    const resubmitted = batch.filter((r) => r.tries > 0).length
    for (const r of batch) {
      r.tries++
      r.batch = status.id
      r.state = 'submitted'
    }
    track(status.id)
    emit({ type: 'created', id: status.id, requests: batch.length, resubmitted, bytes })
  }

  const track = (id: string) => {
    // An id seen before and taken in is a new batch under an old name (another server reusing ids): it is followed afresh.
    if (live.get(id)?.consumed === false) return
    let finish!: () => void
    const finished = new Promise<void>((resolve) => (finish = resolve))
    live.set(id, { id, startedAt: Date.now(), polls: 0, failures: 0, consumed: false, finished, finish })
    order.push(id)
  }
  const consumed = (batch: LiveBatch) => {
    batch.consumed = true
    batch.finish()
  }

  /** Reattaches the journal's batches, not yet taken in, that hold queued requests: they are not sent again. */
  function reattach(): void {
    if (!journal) return
    const queued = new Map([...requests.values()].filter((r) => r.state === 'queued').map((r) => [r.customId, r]))
    if (queued.size === 0) return
    for (const batch of journal.batches()) {
      if (batch.done || live.has(batch.id)) continue
      const held = batch.customIds.map((id) => requests.get(id)).filter((r): r is Request => r !== undefined && (r.state === 'queued' || (r.state === 'submitted' && queued.has(r.customId))))
      if (held.length === 0) continue
      for (const r of held) {
        // A request in two batches not yet taken in was resubmitted: the later batch holds it, its tries count both.
        if (r.state === 'queued') reserve(r)
        r.tries++
        r.batch = batch.id
        r.state = 'submitted'
      }
      track(batch.id)
      live.get(batch.id)!.startedAt = Date.parse(batch.created) || Date.now()
      emit({ type: 'reattached', id: batch.id, requests: held.length, created: batch.created })
    }
  }

  /** Polls the live batches until every one is taken in; each round waits pollMs. */
  function ensurePolling(): void {
    if (polling || fatal) return
    polling = (async () => {
      try {
        while ([...live.values()].some((b) => !b.consumed) && !signal.aborted) {
          for (const batch of [...live.values()].filter((b) => !b.consumed)) {
            if (signal.aborted) break
            await pollOnce(batch)
          }
          if ([...live.values()].some((b) => !b.consumed)) await sleep(settings.pollMs, undefined, { signal })
        }
      } catch (e) {
        if (!signal.aborted) fatal ??= e as Error
      } finally {
        polling = undefined
        if (fatal) failAll(fatal.message)
        else if (signal.aborted) stopped()
        // Nothing polls any more: whoever waits for a batch waits no longer.
        for (const b of live.values()) b.finish()
      }
    })()
  }

  const stopped = () => {
    for (const r of requests.values()) {
      if (r.state === 'done') continue
      finish(r, r.state === 'submitted' ? { error: `not finished: the run was stopped while batch ${r.batch} was processing; it goes on, and a rerun reattaches to it`, notSent: true } : { error: 'not sent: the run was stopped', notSent: true })
    }
  }

  async function pollOnce(batch: LiveBatch): Promise<void> {
    let status: BatchStatus
    try {
      status = await call('poll', batch.id, () => api.retrieve(batch.id, signal))
    } catch (e) {
      if (e instanceof FatalRouterError || signal.aborted) throw e
      return gone(batch, (e as Error).message, e instanceof RouterError && e.kind === 'not_found')
    }
    batch.polls++
    emit({ type: 'status', id: batch.id, status, polls: batch.polls })
    if (status.status !== 'ended') return
    try {
      await consume(batch, status)
    } catch (e) {
      if (e instanceof FatalRouterError || signal.aborted) throw e
      if (!(e instanceof RouterError)) throw e
      // The results could not be read: try again next round, up to the retry policy's tries.
      batch.failures++
      emit({ type: 'retry', id: batch.id, what: 'results', error: e.message, tries: batch.failures })
      if (batch.failures >= policy.maxTries || !e.retryable) await gone(batch, e.message, false)
    }
  }

  /**
   * A batch that cannot be followed. One the server does not know (deleted, another key) never
   * sent its requests as far as this run can tell: they are submitted afresh. One whose status or
   * results cannot be read is left in the journal, undone, for a rerun to reattach; its requests
   * are this run's errors.
   */
  async function gone(batch: LiveBatch, reason: string, unknown: boolean): Promise<void> {
    consumed(batch)
    const held = [...requests.values()].filter((r) => r.batch === batch.id && r.state === 'submitted')
    emit({ type: 'gone', id: batch.id, requests: held.length, reason, unknown })
    if (unknown) {
      journal?.batchDone(batch.id)
      for (const r of held) {
        r.tries--
        r.state = 'queued'
        reservedUsd -= r.reservedUsd
        r.reservedUsd = 0
        delete r.batch
      }
      await flushLater()
    } else for (const r of held) finish(r, { error: `batch ${batch.id}: ${reason}; run again to reattach to it`, errorKind: 'server' })
  }

  let flushing: Promise<void> = Promise.resolve()
  const flushLater = () => (flushing = flushing.then(flush))

  async function consume(batch: LiveBatch, status: BatchStatus): Promise<void> {
    const seen = new Set<string>()
    const latencyMs = Math.max(0, (status.endedAt ? Date.parse(status.endedAt) : Date.now()) - (Date.parse(status.createdAt) || batch.startedAt)) || 0
    let succeeded = 0
    let failed = 0
    let resubmit = 0
    for await (const result of api.results(batch.id, signal)) {
      const r = requests.get(result.customId)
      if (!r) {
        // Asked for by an earlier run, not this one: a success was paid for, so it is kept.
        if (result.outcome === 'succeeded' && journal && !journal.getKey(keyOfCustomId(result.customId))) {
          const decision = readDecision(result.message, batch.id, latencyMs)
          if (decision instanceof RouterError) continue
          journal.appendKey(keyOfCustomId(result.customId), decision)
        }
        continue
      }
      if (r.state === 'done' || seen.has(r.customId)) continue
      // A failure reported by an earlier batch than the one holding the request now was already resubmitted.
      if (r.batch !== batch.id && result.outcome !== 'succeeded') continue
      seen.add(r.customId)
      if (result.outcome === 'succeeded') {
        const decision = readDecision(result.message, batch.id, latencyMs)
        if (!(decision instanceof RouterError)) {
          succeeded++
          if (decision.usage) spentUsd += settings.budget?.costOf(decision.usage) ?? 0
          journal?.appendKey(r.key, decision)
          finish(r, { decision: flagUnknownAgent(decision, known) })
          continue
        }
        failed++
        if (failure(r, decision.message, decision.kind, true)) resubmit++
        continue
      }
      failed++
      const what = result.outcome === 'errored' ? `errored (${result.errorType}: ${result.error})` : result.outcome
      // A request the API refused (invalid, an unknown model, a key without access) would be refused again: not worth a resubmission.
      if (failure(r, `the batch request ${what} in ${batch.id}`, result.outcome === 'errored' ? result.errorType : result.outcome, !(result.outcome === 'errored' && REFUSALS.has(result.errorType)))) resubmit++
    }
    let missing = 0
    for (const r of requests.values()) {
      if (r.batch !== batch.id || r.state !== 'submitted' || seen.has(r.customId)) continue
      missing++
      if (failure(r, `batch ${batch.id} ended without a result for this request`, 'server', true)) resubmit++
    }
    emit({ type: 'joined', id: batch.id, succeeded, failed, resubmit, missing })
    // The resubmissions' batch goes to the journal before this one is marked done: a kill in between loses nothing.
    await flushLater()
    journal?.batchDone(batch.id)
    consumed(batch)
  }

  /** A failed request: queued for its one resubmission, or finished with the error. True when resubmitted. */
  function failure(r: Request, error: string, kind: string, resubmittable: boolean): boolean {
    if (resubmittable && r.tries < MAX_SUBMISSIONS) {
      r.state = 'queued'
      reservedUsd -= r.reservedUsd
      r.reservedUsd = 0
      return true
    }
    finish(r, { error: r.tries > 1 ? `${error} (after ${r.tries} submissions)` : error, errorKind: kind })
    return false
  }

  function readDecision(message: unknown, batchId: string, latencyMs: number): Decision | RouterError {
    try {
      const d = router.batch.read(message, catalogue)
      return { ...d, ...(d.usage ? { usage: { ...d.usage, batch: true } } : {}), batch: batchId, latencyMs }
    } catch (e) {
      return e instanceof RouterError ? e : new RouterError('bad_output', String(e))
    }
  }

  async function submit(jobs: readonly { prompt: string; repeat: number }[]): Promise<void> {
    if (fatal) throw fatal
    for (const { prompt, repeat } of jobs) {
      const key = attemptKey(prompt, repeat)
      const customId = batchCustomId(key)
      if (requests.has(customId) || journal?.getKey(key)) continue
      requests.set(customId, newRequest(prompt, repeat))
    }
    reattach()
    try {
      await flushLater()
    } catch (e) {
      fatal ??= e as Error
      failAll((e as Error).message)
      throw e
    }
    ensurePolling()
  }

  return {
    submit,
    batchIds: () => [...order],
    async route(cases, { repeats, firstRepeat = 0, onAttempt }) {
      const jobs = cases.flatMap((c) => Array.from({ length: repeats }, (_, i) => ({ prompt: c.prompt, repeat: firstRepeat + i })))
      await submit(jobs)
      const attempts: Attempt[] = []
      const waiting: Promise<void>[] = []
      const used: string[] = []
      for (const c of cases) {
        for (let repeat = firstRepeat; repeat < firstRepeat + repeats; repeat++) {
          const key = attemptKey(c.prompt, repeat)
          const request = requests.get(batchCustomId(key))
          const cached = request && !routed.has(request.customId) ? undefined : (request?.decision ?? journal?.getKey(key))
          const attempt: Attempt = { caseId: c.id, repeat, tries: 0 }
          attempts.push(attempt)
          if (cached || !request) {
            Object.assign(attempt, cached ? { decision: flagUnknownAgent(cached, known), cached: true } : { error: 'no request was made for this case', notSent: true })
            onAttempt?.(attempt)
            continue
          }
          used.push(request.customId)
          waiting.push(
            request.settled.then(() => {
              Object.assign(attempt, {
                tries: request.tries,
                ...(request.decision ? { decision: request.decision } : {}),
                ...(request.error !== undefined ? { error: request.error } : {}),
                ...(request.errorKind !== undefined ? { errorKind: request.errorKind } : {}),
                ...(request.notSent ? { notSent: true } : {}),
              })
              onAttempt?.(attempt)
            }),
          )
        }
      }
      await Promise.all(waiting)
      // The batches that answered are marked done in the journal before the caller goes on (and closes it).
      await Promise.all([...new Set(used.map((id) => requests.get(id)!.batch))].map((id) => (id === undefined ? undefined : live.get(id)?.finished)))
      if (fatal) throw fatal
      for (const id of used) routed.add(id)
      return attempts
    },
  }
}

/** A batch event as one line for the user (stderr in the CLI). */
export function describeBatchEvent(e: BatchEvent): string {
  switch (e.type) {
    case 'created':
      return `batch ${e.id}: created with ${e.requests} request(s)${e.resubmitted > 0 ? ` (${e.resubmitted} resubmitted)` : ''}, ${megabytes(e.bytes)}`
    case 'reattached':
      return `batch ${e.id}: reattached (created ${e.created} by an earlier run), ${e.requests} request(s) of this run; nothing sent again`
    case 'status': {
      const c = e.status.counts
      const counts = `${c.processing} processing · ${c.succeeded} succeeded · ${c.errored} errored · ${c.expired} expired · ${c.canceled} canceled`
      return `batch ${e.id}: ${e.status.status.replace('_', ' ')} · ${counts} (poll ${e.polls})`
    }
    case 'joined':
      return `batch ${e.id}: results joined: ${e.succeeded} succeeded, ${e.failed} failed${e.missing > 0 ? `, ${e.missing} missing` : ''}${e.resubmit > 0 ? `; ${e.resubmit} resubmitted (once)` : ''}`
    case 'gone':
      return `batch ${e.id}: ${e.reason}; its ${e.requests} request(s) ${e.unknown ? 'are submitted again' : 'are left for a rerun'}`
    case 'retry':
      return `batch ${e.id ?? '(new)'}: ${e.what} failed (${e.error}), try ${e.tries}; retrying`
  }
}

function megabytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} KB`
}

/**
 * Items in batches, in order, each within `maxRequests` and `maxBytes` (the request body: the
 * entries' JSON, `size` each, with their wrapping); an item that fits no batch on its own is
 * left out.
 */
export function splitIntoBatches<T>(items: readonly T[], size: (item: T) => number, limits: { maxRequests: number; maxBytes: number }): { batches: { items: T[]; bytes: number }[]; tooLarge: T[] } {
  const batches: { items: T[]; bytes: number }[] = []
  const tooLarge: T[] = []
  let current: { items: T[]; bytes: number } | undefined
  for (const item of items) {
    const bytes = size(item) + ENTRY_WRAPPER_BYTES
    if (BATCH_WRAPPER_BYTES + bytes > limits.maxBytes) {
      tooLarge.push(item)
      continue
    }
    if (!current || current.items.length >= limits.maxRequests || current.bytes + bytes > limits.maxBytes) {
      current = { items: [], bytes: BATCH_WRAPPER_BYTES }
      batches.push(current)
    }
    current.items.push(item)
    current.bytes += bytes
  }
  return { batches, tooLarge }
}
