import { setTimeout as sleep } from 'node:timers/promises'
import { BATCH_LIMITS, type CacheTtl } from '../load/config.js'
import { addUsage, capName } from './cost.js'
import type { BatchIntent, BatchLedger } from './journal.js'
import { RouterError, type BatchApi, type BatchCounts, type BatchStatus, type Usage } from './router.js'
import { DEFAULT_RETRY, FatalRouterError, longestRetryDelayMs, retryDelayMs, type RetryPolicy } from './run.js'

/**
 * --batch: requests sent through the Message Batches API (half the price, results within 24 hours)
 * instead of one HTTP request each. One engine serves every kind of request: the routers'
 * (batch-routing.ts) and Claude's drafting calls (tool-call.ts). A request is its custom_id; the
 * caller says how to build its params, how large they are, and how to read a result.
 *
 * The submitted requests are split into batches within the API's limits. Before a batch's upload
 * starts, the ledger (the run journal, or the drafting calls' own) notes the intent: its
 * custom_ids, their count, the time. Its id goes to the ledger the moment it is created, settling
 * the intent, so a run killed while it waits, run again, reattaches to its batches instead of
 * paying for them twice. A run killed during an upload leaves its intent unsettled: run again, it
 * lists the account's batches created around the intent's time, and reattaches the one of the
 * intent's request count no ledger line names; with none the upload never reached the API, with
 * several it does not guess and submits anew, naming them.
 * Batches are polled every `pollMs`; an ended batch's results are streamed and joined by
 * custom_id, in whatever order they come, each kept (`keep`) as it is read. A request that
 * errored, expired or was canceled, or whose result cannot be read (a malformed reply), is
 * resubmitted once, in a new batch; after that its failure is its outcome. Only then is the batch
 * marked done in the ledger.
 */

/** Submissions of one request before its failure is its outcome: the first, and one resubmission. */
export const MAX_SUBMISSIONS = 2

/** Refusals that no request of the run could escape (the model, the key), with what to check: a batch that met only these stops the run. */
const RUN_REFUSALS: Record<string, string | undefined> = {
  not_found_error: 'pick another model with --model',
  authentication_error: 'check ANTHROPIC_API_KEY',
  permission_error: "check that ANTHROPIC_API_KEY's workspace may use the model and the Message Batches API",
}
/** Error types of a batch request that a resubmission would meet again: those, and a request the API found invalid. */
const REFUSALS = new Set(['invalid_request_error', ...Object.keys(RUN_REFUSALS)])

/**
 * A batch's created_at is the API's clock, an intent's time this machine's: a batch created up to
 * this long before its intent was noted can still be that upload's.
 */
export const INTENT_CLOCK_SLACK_MS = 60_000

/**
 * How long after its intent an upload could still have made its batch: every try of the create
 * call (`policy.maxTries`) running to its timeout, with the longest wait between two tries.
 */
export function uploadWindowMs(createTimeoutMs: number, policy: RetryPolicy): number {
  return policy.maxTries * createTimeoutMs + (policy.maxTries - 1) * longestRetryDelayMs(policy)
}

/** Every request a batch holds, whatever became of it: its size as the list reports it. */
export const batchRequests = (c: BatchCounts): number => c.processing + c.succeeded + c.errored + c.canceled + c.expired

/**
 * The listed batches that may be an interrupted upload: created within its window (from
 * INTENT_CLOCK_SLACK_MS before the intent to `windowMs` after it), holding as many requests, and
 * named by no ledger line (`claimed`). The list says nothing of custom_ids: a batch of the same
 * size from another client in that window is indistinguishable, hence one candidate or none.
 */
export function uploadCandidates(intent: Pick<BatchIntent, 'created' | 'requests'>, listed: readonly BatchStatus[], claimed: ReadonlySet<string>, windowMs: number): BatchStatus[] {
  const at = Date.parse(intent.created)
  return listed.filter((b) => {
    const created = Date.parse(b.createdAt)
    return !claimed.has(b.id) && batchRequests(b.counts) === intent.requests && created >= at - INTENT_CLOCK_SLACK_MS && created <= at + windowMs
  })
}

/** The ledger's unsettled intents holding any of these requests: the interrupted uploads a run would look for before submitting them. */
export function interruptedUploads(ledger: Pick<BatchLedger, 'intents'> | undefined, pending: ReadonlySet<string>): BatchIntent[] {
  return (ledger?.intents() ?? []).filter((i) => i.customIds.some((id) => pending.has(id)))
}

/** --dry-run's note of them (it lists nothing): what it would do first. */
export function interruptedUploadsNote(uploads: readonly Pick<BatchIntent, 'requests' | 'created'>[]): string {
  if (uploads.length === 0) return ''
  return `; ${uploads.length} interrupted upload(s) (${uploads.map((u) => `${u.requests} requests at ${u.created}`).join(', ')}) would be looked for first among the account's batches, and a batch found reattached instead of submitting its requests`
}

/** `{"requests":[` … `]}` around a batch's entries, and each entry's `{"custom_id":"…","params":` … `}` and comma, besides the id. */
const BATCH_WRAPPER_BYTES = 16
const ENTRY_WRAPPER_BYTES = 26

/** --batch and --batch-poll over the config's `batch`: how a run's batches are sized, cached and polled. */
export type BatchPlan = { pollMs: number; cacheTtl: CacheTtl; maxRequests: number }

/** How one kind of request goes into a batch and comes back. */
export type BatchSpec<V> = {
  api: BatchApi
  /** the Messages API params of a request, built when its batch is created (one batch's bodies at a time) */
  params(customId: string): object
  /** an upper bound of those params' size as JSON, in bytes, without building them */
  bytes(customId: string): number
  /** a succeeded result's message: its value, or the error that makes it a failure (resubmitted once); `usage` was paid either way */
  read(message: unknown, batchId: string, latencyMs: number): BatchReading<V>
  /** a value the moment it is read, before its batch is marked done (the run journal, the answer store), with every submission's usage */
  keep?(customId: string, value: V, usage: Usage | undefined): void
  /** a succeeded result for a request this run did not ask for (an earlier run's, in a reattached batch): it was paid for, so it is kept */
  keepUnclaimed?(customId: string, message: unknown, batchId: string, latencyMs: number): void
}

export type BatchReading<V> = { value: V; usage?: Usage } | { error: RouterError; usage?: Usage }

/** What became of one request. */
export type BatchOutcome<V> = {
  value?: V
  /** every submission's usage, added up */
  usage?: Usage
  error?: string
  errorKind?: string
  /** never answered: the budget ran out, or the run stopped before the batch ended */
  notSent?: boolean
  /** batches it was submitted in */
  tries: number
}

export type BatchBudget = {
  maxUsd: number
  /** the cap as the user knows it, for the message of a request not sent */
  named?: string
  /** what a request is expected to cost at the batch rate; `first` writes the prompt cache */
  estimateUsd(customId: string, first: boolean): number
  costOf(usage: Usage): number
}

export type BatchSettings = {
  pollMs: number
  /** requests per batch, at most the API's 100,000 */
  maxRequests: number
  /** bytes per batch, at most the API's 256 MB (tests make it smaller) */
  maxBytes?: number
  /** tries of each call to the batch endpoints (create, poll, results, list) before it is given up; with the create call's timeout, how long an interrupted upload is looked for */
  retry?: RetryPolicy
  /** where batches are noted on creation and found again by a rerun; none: no reattaching */
  ledger?: BatchLedger
  budget?: BatchBudget
  signal?: AbortSignal
  onEvent?: (event: BatchEvent) => void
}

export type BatchEvent =
  | { type: 'created'; id: string; requests: number; resubmitted: number; bytes: number }
  | { type: 'reattached'; id: string; requests: number; created: string }
  /** an interrupted upload's batch, found among the account's: `requests` is its size, `created` the API's time */
  | { type: 'recovered'; id: string; requests: number; created: string }
  /** the batch an upload of this run made although its create call failed (`error`), found in the list before the create was tried again */
  | { type: 'found'; id: string; requests: number; created: string; error: string }
  /**
   * An interrupted upload with no batch to reattach: none in its window (it never reached the API),
   * several (no guessing: `candidates` may be it), or the list could not be read (`error`). Its
   * requests are submitted anew.
   */
  | { type: 'upload'; found: 'none' | 'several' | 'unchecked' | 'expired'; requests: number; intended: string; from: string; to: string; candidates: { id: string; created: string }[]; error?: string }
  | { type: 'status'; id: string; status: BatchStatus; polls: number }
  /** `notHeld`: requests a recovered batch did not answer, so it did not hold them after all: submitted again, not counted as a try */
  | { type: 'joined'; id: string; succeeded: number; failed: number; resubmit: number; missing: number; notHeld: number }
  | { type: 'gone'; id: string; requests: number; reason: string; /** the server does not know it: its requests are submitted afresh */ unknown: boolean }
  | { type: 'retry'; id: string | undefined; what: 'create' | 'poll' | 'results' | 'list'; error: string; tries: number }

export type BatchEngine<V> = {
  /** holds these requests (those not held yet), reattaches the ledger's batches holding any, and submits the rest */
  submit(customIds: readonly string[]): Promise<void>
  /** a held request's outcome, once it has one */
  outcome(customId: string): Promise<BatchOutcome<V>> | undefined
  /** a held request's outcome if it has one already */
  settledOutcome(customId: string): BatchOutcome<V> | undefined
  /**
   * Resolves once these requests have their outcomes and the batches that held them are marked
   * done in the ledger (or the run stopped), so the caller can close the ledger; rejects with
   * what stopped the run (a refused key) if anything did.
   */
  settle(customIds: readonly string[]): Promise<void>
  /** the batches this engine created or reattached, in that order */
  batchIds(): string[]
}

type Entry<V> = {
  customId: string
  /** batches it was submitted in */
  tries: number
  /** the batch holding it now */
  batch?: string
  state: 'queued' | 'submitted' | 'done'
  /** in a batch being uploaded: no id back yet */
  uploading?: boolean
  outcome?: BatchOutcome<V>
  usage?: Usage
  /** expected cost, held against --max-cost until its result is in */
  reservedUsd: number
  settled: Promise<BatchOutcome<V>>
  resolve: (outcome: BatchOutcome<V>) => void
}

type LiveBatch = {
  id: string
  startedAt: number
  polls: number
  failures: number
  /** its results are all taken in (or it cannot be followed): it is polled no more */
  consumed: boolean
  /** resolves once it is consumed and the ledger says so, or the run stopped */
  finished: Promise<void>
  finish: () => void
  /** found after an interrupted upload: the custom_ids that upload held; a result for any other is not this run's, a held request it does not answer is submitted again */
  recovered?: ReadonlySet<string>
}

export function createBatchEngine<V>(spec: BatchSpec<V>, settings: BatchSettings): BatchEngine<V> {
  const { api } = spec
  const ledger = settings.ledger
  const policy = settings.retry ?? DEFAULT_RETRY
  const maxBytes = Math.min(settings.maxBytes ?? BATCH_LIMITS.maxBytes, BATCH_LIMITS.maxBytes)
  const maxRequests = Math.min(settings.maxRequests, BATCH_LIMITS.maxRequests)
  const signal = settings.signal ?? new AbortController().signal
  const emit = (e: BatchEvent) => settings.onEvent?.(e)

  const entries = new Map<string, Entry<V>>()
  const live = new Map<string, LiveBatch>()
  const order: string[] = []
  let fatal: Error | undefined
  let polling: Promise<void> | undefined
  let spentUsd = 0
  let reservedUsd = 0
  let estimated = 0
  let created = 0
  /** intents looked into by this run (or noted by it): each is looked for once */
  const handledIntents = new Set<string>()

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

  const finish = (r: Entry<V>, outcome: Omit<BatchOutcome<V>, 'tries' | 'usage'>) => {
    if (r.state === 'done') return
    r.outcome = { ...outcome, tries: r.tries, ...(r.usage ? { usage: r.usage } : {}) }
    r.state = 'done'
    reservedUsd -= r.reservedUsd
    r.reservedUsd = 0
    r.resolve(r.outcome)
  }
  const failAll = (error: string) => {
    for (const r of entries.values()) if (r.state !== 'done') finish(r, { error })
  }

  const newEntry = (customId: string): Entry<V> => {
    let resolve!: (outcome: BatchOutcome<V>) => void
    const settled = new Promise<BatchOutcome<V>>((r) => (resolve = r))
    return { customId, tries: 0, state: 'queued', reservedUsd: 0, settled, resolve }
  }

  const reserve = (r: Entry<V>): boolean => {
    const budget = settings.budget
    if (!budget) return true
    const usd = budget.estimateUsd(r.customId, estimated++ === 0)
    if (spentUsd + reservedUsd + usd > budget.maxUsd + 1e-12) return false
    r.reservedUsd = usd
    reservedUsd += usd
    return true
  }

  /**
   * A signal for one call to a batch endpoint, aborted with the run's. The SDK adds a listener to
   * the signal a call is given and never removes it: on the run's own signal, an hour of polls
   * would pile up one a poll (Node warns from 11 on).
   */
  function callSignal(): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController()
    const follow = () => controller.abort(signal.reason)
    if (signal.aborted) follow()
    else signal.addEventListener('abort', follow, { once: true })
    return { signal: controller.signal, release: () => signal.removeEventListener('abort', follow) }
  }

  /**
   * Calls a batch endpoint, retrying what can be retried; a bad key or model stops the run.
   * `beforeRetry` may answer instead of the next try (a create whose batch turns out to exist).
   */
  async function call<T>(what: 'create' | 'poll' | 'results' | 'list', id: string | undefined, work: (signal: AbortSignal) => Promise<T>, beforeRetry?: (failure: RouterError) => Promise<T | undefined>): Promise<T> {
    for (let tries = 1; ; tries++) {
      const one = callSignal()
      try {
        return await work(one.signal)
      } catch (e) {
        if (signal.aborted) throw e
        const failure = e instanceof RouterError ? e : new RouterError('bad_request', e instanceof Error ? e.message : String(e), { retryable: false })
        if (failure.fatal) throw new FatalRouterError(failure.message)
        if (!failure.retryable || tries >= policy.maxTries) throw failure
        const answer = await beforeRetry?.(failure)
        if (answer !== undefined) return answer
        emit({ type: 'retry', id, what, error: failure.message, tries })
        await sleep(retryDelayMs(tries, failure.retryAfterMs, policy), undefined, { signal })
      } finally {
        one.release()
      }
    }
  }

  /** Sends every queued request, in as few batches as the limits allow, once any interrupted upload that may hold them is looked for. */
  async function flush(): Promise<void> {
    await resolveIntents()
    const queued = [...entries.values()].filter((r) => r.state === 'queued')
    const admitted = queued.filter((r) => {
      if (signal.aborted) return false
      if (reserve(r)) return true
      finish(r, { error: `not sent: ${capName(settings.budget!)} would be passed`, notSent: true })
      return false
    })
    const { batches: chunks, tooLarge } = splitIntoBatches(admitted, (r) => spec.bytes(r.customId) + r.customId.length, { maxRequests, maxBytes })
    for (const r of tooLarge) finish(r, { error: `not sent: its request is larger than a batch may be (${maxBytes} bytes)`, errorKind: 'bad_request' })
    for (const c of chunks) await createBatch(c.items, c.bytes)
  }

  async function createBatch(batch: Entry<V>[], bytes: number): Promise<void> {
    if (signal.aborted) return
    // Built now, one batch at a time: a run of 100,000 cases never holds every request body at once.
    const requests = batch.map((r) => ({ custom_id: r.customId, params: spec.params(r.customId) }))
    // Noted, and synced, before the upload starts: a kill before the id comes back leaves this for a rerun to look for.
    const intent = ledger?.appendIntent(requests.map((q) => q.custom_id))
    if (intent) handledIntents.add(intent.nonce)
    for (const r of batch) r.uploading = true
    let status: BatchStatus
    let found = false
    // A create that timed out, was cut off or met a 5xx may have made its batch: the list is read before it is tried again, so one run never pays for an upload twice.
    const madeAnyway = async (failure: RouterError): Promise<BatchStatus | undefined> => {
      if (!intent || !UNCERTAIN_CREATE.has(failure.kind)) return undefined
      const made = await madeByIntent(intent)
      if (made) emit({ type: 'found', id: made.id, requests: requests.length, created: made.createdAt, error: failure.message })
      found = made !== undefined
      return made
    }
    try {
      status = await call('create', undefined, (one) => api.create(requests, one), madeAnyway)
    } catch (e) {
      // Stopped mid-upload, they stay uploading: what the run says of them.
      if (!signal.aborted) for (const r of batch) r.uploading = false
      // Stopped mid-upload, timed out, cut off, or a server error: the API may have made the batch, so the intent stays for a rerun to look for.
      // Any other failure is the API's answer that it made none.
      if (intent && !signal.aborted && !(e instanceof RouterError && UNCERTAIN_CREATE.has(e.kind))) ledger?.intentDone(intent.nonce)
      if (signal.aborted) return
      if (e instanceof FatalRouterError) throw e
      const message = (e as Error).message
      // Nothing reached the server yet: every later batch would fail alike.
      if (created === 0 && e instanceof RouterError && e.kind === 'connection') throw new FatalRouterError(`${message}; the first batch could not be created, so nothing was sent`, true)
      for (const r of batch) finish(r, { error: `the batch could not be created: ${message}`, errorKind: e instanceof RouterError ? e.kind : 'bad_request' })
      return
    }
    created++
    for (const r of batch) r.uploading = false
    // The id goes to the ledger before anything else: a kill from here on reattaches instead of paying twice.
    ledger?.appendBatch({ id: status.id, customIds: batch.map((r) => r.customId), ...(intent ? { intent: intent.nonce } : {}), ...(found ? { recovered: true } : {}) })
    const resubmitted = batch.filter((r) => r.tries > 0).length
    for (const r of batch) {
      r.tries++
      r.batch = status.id
      r.state = 'submitted'
    }
    track(status.id, found ? batch.map((r) => r.customId) : undefined)
    if (!found) emit({ type: 'created', id: status.id, requests: batch.length, resubmitted, bytes })
  }

  /**
   * The batch an upload of this run made although its create call failed: the one candidate in the
   * list (as a rerun looks for it), or undefined when there is none, several, or the list cannot
   * be read (the create is then tried again, as before).
   */
  async function madeByIntent(intent: BatchIntent): Promise<BatchStatus | undefined> {
    const one = callSignal()
    try {
      const listed = await api.listSince(Date.parse(intent.created) - INTENT_CLOCK_SLACK_MS, one.signal)
      const candidates = uploadCandidates(intent, listed, new Set(ledger?.batches().map((b) => b.id)), uploadWindowMs(api.createTimeoutMs, policy))
      return candidates.length === 1 ? candidates[0] : undefined
    } catch {
      return undefined
    } finally {
      one.release()
    }
  }

  const track = (id: string, recovered?: readonly string[]) => {
    // An id seen before and taken in is a new batch under an old name (another server reusing ids): it is followed afresh.
    if (live.get(id)?.consumed === false) return
    let finish!: () => void
    const finished = new Promise<void>((resolve) => (finish = resolve))
    live.set(id, { id, startedAt: Date.now(), polls: 0, failures: 0, consumed: false, finished, finish, ...(recovered ? { recovered: new Set(recovered) } : {}) })
    order.push(id)
  }
  const consumed = (batch: LiveBatch) => {
    batch.consumed = true
    batch.finish()
  }

  /** Reattaches the ledger's batches, not yet taken in, that hold queued requests: they are not sent again. */
  function reattach(): void {
    if (!ledger) return
    const queued = new Map([...entries.values()].filter((r) => r.state === 'queued').map((r) => [r.customId, r]))
    if (queued.size === 0) return
    for (const batch of ledger.batches()) {
      if (batch.done || live.has(batch.id)) continue
      const held = batch.customIds.map((id) => entries.get(id)).filter((r): r is Entry<V> => r !== undefined && (r.state === 'queued' || (r.state === 'submitted' && queued.has(r.customId))))
      if (held.length === 0) continue
      for (const r of held) {
        // A request in two batches not yet taken in was resubmitted: the later batch holds it, its tries count both.
        if (r.state === 'queued') reserve(r)
        r.tries++
        r.batch = batch.id
        r.state = 'submitted'
      }
      track(batch.id, batch.recovered ? batch.customIds : undefined)
      live.get(batch.id)!.startedAt = Date.parse(batch.created) || Date.now()
      emit({ type: 'reattached', id: batch.id, requests: held.length, created: batch.created })
    }
  }

  /**
   * Looks for the batches of uploads a killed run left without an id (the ledger's unsettled
   * intents that hold queued requests) among the account's, before anything is submitted. One
   * candidate is reattached: its batch line settles the intent, and it is followed as any
   * reattached batch, except that what it does not answer is submitted again (its custom_ids are
   * the intent's, presumed). None: the upload never reached the API. Several: no guessing.
   */
  async function resolveIntents(): Promise<void> {
    if (!ledger || signal.aborted) return
    const queued = new Set([...entries.values()].filter((r) => r.state === 'queued').map((r) => r.customId))
    const unsettled = ledger.intents().filter((i) => !handledIntents.has(i.nonce) && i.customIds.some((id) => queued.has(id)))
    if (unsettled.length === 0) return
    for (const i of unsettled) handledIntents.add(i.nonce)
    const windowMs = uploadWindowMs(api.createTimeoutMs, policy)
    const window = (i: BatchIntent) => ({ requests: i.requests, intended: i.created, from: iso(Date.parse(i.created) - INTENT_CLOCK_SLACK_MS), to: iso(Date.parse(i.created) + windowMs) })
    // An upload older than the API keeps results is past reading: not worth a walk through months of the list.
    const open = unsettled.filter((i) => {
      if (Date.now() - Date.parse(i.created) <= BATCH_RESULTS_KEPT_MS) return true
      ledger.intentDone(i.nonce)
      emit({ type: 'upload', found: 'expired', ...window(i), candidates: [] })
      return false
    })
    if (open.length === 0) return
    const since = Math.min(...open.map((i) => Date.parse(i.created))) - INTENT_CLOCK_SLACK_MS
    let listed: BatchStatus[]
    try {
      listed = await call('list', undefined, (one) => api.listSince(since, one))
    } catch (e) {
      if (signal.aborted) return
      if (e instanceof FatalRouterError) throw e
      // Left unsettled: a later run may read the list. This one submits anew, as before intents were noted.
      for (const i of open) emit({ type: 'upload', found: 'unchecked', ...window(i), candidates: [], error: (e as Error).message })
      return
    }
    const claimed = new Set(ledger.batches().map((b) => b.id))
    for (const intent of open) {
      const candidates = uploadCandidates(intent, listed, claimed, windowMs)
      for (const c of candidates) claimed.add(c.id)
      const [found] = candidates
      if (candidates.length !== 1 || !found) {
        ledger.intentDone(intent.nonce)
        emit({ type: 'upload', found: candidates.length === 0 ? 'none' : 'several', ...window(intent), candidates: candidates.map((c) => ({ id: c.id, created: c.createdAt })) })
        continue
      }
      ledger.appendBatch({ id: found.id, customIds: intent.customIds, intent: intent.nonce, recovered: true })
      const held = intent.customIds.map((id) => entries.get(id)).filter((r): r is Entry<V> => r?.state === 'queued')
      for (const r of held) {
        reserve(r)
        r.tries++
        r.batch = found.id
        r.state = 'submitted'
      }
      track(found.id, intent.customIds)
      live.get(found.id)!.startedAt = Date.parse(found.createdAt) || Date.now()
      emit({ type: 'recovered', id: found.id, requests: intent.requests, created: found.createdAt })
    }
  }

  /** Polls the live batches until every one is taken in; each round waits pollMs. */
  function ensurePolling(): void {
    // Nothing to poll: a loop started now would end before `polling` is set, leaving it set for good, and no later batch would be polled.
    if (polling || fatal || ![...live.values()].some((b) => !b.consumed)) return
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
    for (const r of entries.values()) {
      if (r.state === 'done') continue
      finish(
        r,
        r.state === 'submitted'
          ? { error: `not finished: the run was stopped while batch ${r.batch} was processing; it goes on, and a rerun reattaches to it`, notSent: true }
          : r.uploading && ledger
            ? { error: 'not finished: the run was stopped while its batch was uploading; a rerun looks for that batch among the account\'s before sending it again', notSent: true }
            : { error: 'not sent: the run was stopped', notSent: true },
      )
    }
  }

  async function pollOnce(batch: LiveBatch): Promise<void> {
    let status: BatchStatus
    try {
      status = await call('poll', batch.id, (one) => api.retrieve(batch.id, one))
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
   * results cannot be read is left in the ledger, undone, for a rerun to reattach; its requests
   * fail in this run.
   */
  async function gone(batch: LiveBatch, reason: string, unknown: boolean): Promise<void> {
    consumed(batch)
    const held = [...entries.values()].filter((r) => r.batch === batch.id && r.state === 'submitted')
    emit({ type: 'gone', id: batch.id, requests: held.length, reason, unknown })
    if (unknown) {
      ledger?.batchDone(batch.id)
      for (const r of held) requeue(r)
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
    let refusal: { errorType: string; error: string } | undefined
    const reading = callSignal()
    try {
      for await (const result of api.results(batch.id, reading.signal)) {
        // A recovered batch answering a custom_id its upload did not hold is not that upload (another client's batch of the same size): its answers are not this run's.
        if (batch.recovered && !batch.recovered.has(result.customId)) continue
        const r = entries.get(result.customId)
        if (!r) {
          if (result.outcome === 'succeeded') spec.keepUnclaimed?.(result.customId, result.message, batch.id, latencyMs)
          continue
        }
        if (r.state === 'done' || seen.has(r.customId)) continue
        // A failure reported by an earlier batch than the one holding the request now was already resubmitted.
        if (r.batch !== batch.id && result.outcome !== 'succeeded') continue
        seen.add(r.customId)
        if (result.outcome === 'succeeded') {
          const reading = spec.read(result.message, batch.id, latencyMs)
          if (reading.usage) {
            r.usage = addUsage(r.usage, reading.usage)
            spentUsd += settings.budget?.costOf(reading.usage) ?? 0
          }
          if ('value' in reading) {
            succeeded++
            spec.keep?.(r.customId, reading.value, r.usage)
            finish(r, { value: reading.value })
            continue
          }
          failed++
          if (failure(r, reading.error.message, reading.error.kind, true)) resubmit++
          continue
        }
        failed++
        if (result.outcome === 'errored' && RUN_REFUSALS[result.errorType]) refusal ??= result
        const what = result.outcome === 'errored' ? `errored (${result.errorType}: ${result.error})` : result.outcome
        // A request the API refused (invalid, an unknown model, a key without access) would be refused again: not worth a resubmission.
        if (failure(r, `the batch request ${what} in ${batch.id}`, result.outcome === 'errored' ? result.errorType : result.outcome, !(result.outcome === 'errored' && REFUSALS.has(result.errorType)))) resubmit++
      }
    } finally {
      reading.release()
    }
    let missing = 0
    let notHeld = 0
    for (const r of entries.values()) {
      if (r.batch !== batch.id || r.state !== 'submitted' || seen.has(r.customId)) continue
      if (batch.recovered) {
        // Presumed held, not answered: the batch was not (all of) the upload after all. Submitted again, as if never sent.
        notHeld++
        requeue(r)
        continue
      }
      missing++
      if (failure(r, `batch ${batch.id} ended without a result for this request`, 'server', true)) resubmit++
    }
    emit({ type: 'joined', id: batch.id, succeeded, failed, resubmit, missing, notHeld })
    // The resubmissions' batch goes to the ledger before this one is marked done: a kill in between loses nothing.
    await flushLater()
    ledger?.batchDone(batch.id)
    // As a live run stops at its first 401 or 404: a key or model the API refused for a whole batch would be refused for every other.
    // Set before the batch counts as consumed, so whoever waits on it sees the run stopped.
    if (refusal && succeeded === 0) fatal ??= new FatalRouterError(`the API refused every request of batch ${batch.id} (${refusal.errorType}: ${refusal.error}); ${RUN_REFUSALS[refusal.errorType]}`)
    consumed(batch)
    if (fatal) throw fatal
  }

  /** A request its batch never held after all: queued again, that submission not counted. */
  function requeue(r: Entry<V>): void {
    r.tries--
    r.state = 'queued'
    reservedUsd -= r.reservedUsd
    r.reservedUsd = 0
    delete r.batch
  }

  /** A failed request: queued for its one resubmission, or finished with the error. True when resubmitted. */
  function failure(r: Entry<V>, error: string, kind: string, resubmittable: boolean): boolean {
    if (resubmittable && r.tries < MAX_SUBMISSIONS) {
      r.state = 'queued'
      reservedUsd -= r.reservedUsd
      r.reservedUsd = 0
      return true
    }
    finish(r, { error: r.tries > 1 ? `${error} (after ${r.tries} submissions)` : error, errorKind: kind })
    return false
  }

  async function submit(customIds: readonly string[]): Promise<void> {
    if (fatal) throw fatal
    for (const id of customIds) if (!entries.has(id)) entries.set(id, newEntry(id))
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
    outcome: (id) => entries.get(id)?.settled,
    settledOutcome: (id) => entries.get(id)?.outcome,
    batchIds: () => [...order],
    async settle(customIds) {
      const held = customIds.map((id) => entries.get(id)).filter((r): r is Entry<V> => r !== undefined)
      await Promise.all(held.map((r) => r.settled))
      // The batches that answered are marked done in the ledger before the caller goes on (and closes it).
      await Promise.all([...new Set(held.map((r) => r.batch))].map((id) => (id === undefined ? undefined : live.get(id)?.finished)))
      if (fatal) throw fatal
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
    case 'recovered':
      return `batch ${e.id}: reattached from an interrupted upload (${e.requests} requests, created ${e.created})`
    case 'found':
      return `batch ${e.id}: made by an upload whose create call failed (${e.error}); followed, not created again (${e.requests} requests, created ${e.created})`
    case 'upload': {
      const upload = `batch upload of ${e.requests} request(s) at ${e.intended}, interrupted`
      if (e.found === 'none') return `${upload}: no batch of ${e.requests} requests created from ${e.from} to ${e.to}, so it never reached the API; its requests are submitted now`
      if (e.found === 'expired') return `${upload}: over 29 days ago, so a batch it made can no longer be read (the API keeps results 29 days); not looked for, its requests are submitted now`
      if (e.found === 'unchecked') return `${upload}: the account's batches could not be listed (${e.error}); its requests are submitted anew, and a batch that upload made, if any, is billed as well`
      const named = e.candidates.map((c) => `${c.id} (created ${c.created})`).join(', ')
      return `${upload}: ${e.candidates.length} batches of ${e.requests} requests from ${e.from} to ${e.to} may be it: ${named}; not guessing, its requests are submitted anew. Cancel whichever of those is that upload (the others are another client's) to stop paying for it twice`
    }
    case 'status': {
      const c = e.status.counts
      const counts = `${c.processing} processing · ${c.succeeded} succeeded · ${c.errored} errored · ${c.expired} expired · ${c.canceled} canceled`
      return `batch ${e.id}: ${e.status.status.replace('_', ' ')} · ${counts} (poll ${e.polls})`
    }
    case 'joined':
      return `batch ${e.id}: results joined: ${e.succeeded} succeeded, ${e.failed} failed${e.missing > 0 ? `, ${e.missing} missing` : ''}${e.resubmit > 0 ? `; ${e.resubmit} resubmitted (once)` : ''}${e.notHeld > 0 ? `; ${e.notHeld} it did not answer are submitted again (it was not all of the interrupted upload)` : ''}`
    case 'gone':
      return `batch ${e.id}: ${e.reason}; its ${e.requests} request(s) ${e.unknown ? 'are submitted again' : 'are left for a rerun'}`
    case 'retry':
      return `${e.what === 'list' ? 'batches' : `batch ${e.id ?? '(new)'}`}: ${e.what} failed (${e.error}), try ${e.tries}; retrying`
  }
}

/** Calls to the create endpoint that may have made a batch all the same: no answer came (stopped, timed out, cut off), or a server error did. */
/** The Message Batches API keeps a batch's results for 29 days after it was created. */
const BATCH_RESULTS_KEPT_MS = 29 * 24 * 60 * 60 * 1000

const UNCERTAIN_CREATE = new Set<RouterError['kind']>(['timeout', 'connection', 'server'])

const iso = (ms: number) => new Date(ms).toISOString()

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
