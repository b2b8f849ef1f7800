import type { Catalogue } from '../load/catalogue.js'
import type { CacheTtl, Config } from '../load/config.js'
import type { Dataset } from '../load/dataset.js'
import { UsageError } from '../load/input-error.js'
import { describeBatchEvent, interruptedUploads, interruptedUploadsNote, splitIntoBatches, type BatchEvent, type BatchPlan } from '../route/batch.js'
import { createBatchSession, type BatchSession, type RoutingBatchSettings } from '../route/batch-routing.js'
import { BATCH_FACTOR, usageCost, type Price } from '../route/cost.js'
import { attemptKey, batchCustomId, batchTag, type Journal } from '../route/journal.js'
import type { BatchRouting, RequestEstimate, Router, Usage } from '../route/router.js'
import type { ToolBatchOptions, ToolBatchPreview } from '../route/tool-call.js'
import { BATCH_LIMITS } from '../load/config.js'

/**
 * --batch in the eval use case: the session every dataset of a run shares (all datasets'
 * requests are submitted before the first is waited for, so they are processed side by side),
 * the progress lines, the --max-cost budget at the batch rate, and --dry-run's batch figures.
 */

export type { BatchPlan }

/** --batch and --batch-poll over the config's `batch`; undefined without --batch. */
export function batchPlan(config: Config, options: { batch?: boolean | undefined; batchPoll?: number | undefined }): BatchPlan | undefined {
  if (!options.batch) {
    if (options.batchPoll !== undefined) throw new UsageError('--batch-poll sets how often a batch is checked: it needs --batch')
    return undefined
  }
  return { pollMs: (options.batchPoll ?? config.batch.pollSeconds) * 1000, cacheTtl: config.batch.cacheTtl, maxRequests: config.batch.maxRequests }
}

/**
 * The tool caller's `batch` option for --batch (nothing without it): the plan, its progress lines
 * to `warn`. How generate and improve batch Claude's drafting requests, and how any other command
 * that drafts with the tool caller would: `createToolCaller({ …, ...toolCallBatch(plan, warn) })`.
 */
export function toolCallBatch(plan: BatchPlan | undefined, warn: (text: string) => void): { batch?: ToolBatchOptions } {
  return plan ? { batch: { ...plan, onEvent: batchEventPrinter(warn, plan.pollMs) } } : {}
}

/** --dry-run with --batch for drafting requests: the batches they make, and their price live and batched. */
export function toolBatchDryRunLines(preview: ToolBatchPreview, plan: BatchPlan): string[] {
  const { estimate } = preview
  const lines = [
    `batch: ${preview.requests} request(s) in ${preview.batches.length} batch(es) of at most ${plan.maxRequests.toLocaleString('en-US')} requests or ${BATCH_LIMITS.maxBytes / 1024 / 1024} MB` +
      (preview.batches.length > 0 ? ` (${preview.batches.map((b) => `${b.requests} requests, ${(b.bytes / 1e6).toFixed(1)} MB`).join('; ')})` : '') +
      (preview.cached > 0 ? `; ${preview.cached} answered from the cache folder` : '') +
      (preview.reattach.length > 0 ? `; ${preview.reattach.length} batch(es) of an earlier run would be reattached (${preview.reattach.join(', ')})` : '') +
      interruptedUploadsNote(preview.interrupted),
  ]
  if (estimate.usd !== undefined && estimate.batchUsd !== undefined && estimate.batchMaxUsd !== undefined) {
    lines.push(
      `batch: live price ≈$${estimate.usd.toFixed(4)}; batch price ≈$${estimate.batchUsd.toFixed(4)} on the same terms (nothing cached), ` +
        `≈$${estimate.batchMaxUsd.toFixed(4)} if every request writes its system text to the ${plan.cacheTtl} prompt cache (the bound --max-cost keeps to)`,
    )
  }
  return lines
}

export function requireBatching(router: Router): asserts router is Router & { batch: BatchRouting } {
  if (!router.batch) throw new UsageError(`--batch sends requests through the Message Batches API, which only the anthropic router uses; the ${router.id} router ${router.pricedModel ? 'cannot' : 'sends no requests to'}. Drop --batch, or use --router anthropic`)
}

export type BatchRunContext = {
  router: Router
  catalogue: Catalogue
  plan: BatchPlan
  journal: Journal | undefined
  price: Price | undefined
  maxCost: number | undefined
  /** the cap as the user knows it (a shard's share of --max-cost), for the requests not sent */
  capName?: string | undefined
  maxTries: number
  signal: AbortSignal | undefined
  warn: (text: string) => void
}

/** A session for the whole run, every dataset's pending requests submitted at once. */
export async function startBatchSession(ctx: BatchRunContext, datasets: readonly { dataset: Dataset; repeats: number }[]): Promise<BatchSession> {
  const { router, catalogue, price, plan } = ctx
  requireBatching(router)
  if (!ctx.journal) ctx.warn('note: with --no-cache a batch run keeps no journal: a run stopped before its batches end cannot reattach to them\n')
  const budget: RoutingBatchSettings['budget'] =
    ctx.maxCost !== undefined && price
      ? { maxUsd: ctx.maxCost, ...(ctx.capName ? { named: ctx.capName } : {}), estimateUsd: (prompt, first) => usageCost(estimatedUsage(router.estimate?.(prompt, catalogue), first, plan.cacheTtl, true), price), costOf: (u) => usageCost(u, price) }
      : undefined
  const session = createBatchSession(router, catalogue, {
    pollMs: plan.pollMs,
    cacheTtl: plan.cacheTtl,
    maxRequests: plan.maxRequests,
    retry: { maxTries: ctx.maxTries, baseDelayMs: 500, maxDelayMs: 30_000 },
    ...(ctx.journal ? { journal: ctx.journal } : {}),
    ...(budget ? { budget } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onEvent: batchEventPrinter(ctx.warn, plan.pollMs),
  })
  await session.submit(datasets.flatMap(({ dataset, repeats }) => dataset.cases.flatMap((c) => Array.from({ length: repeats }, (_, repeat) => ({ prompt: c.prompt, repeat })))))
  return session
}

/** Poll lines only when a batch's status or counts change, or every ten polls, so a CI log of an hour's wait stays short. */
const QUIET_POLLS = 10

/** The lines a batch run prints as it goes (stderr in the CLI), for routing and drafting alike. */
export function batchEventPrinter(warn: (text: string) => void, pollMs: number): (e: BatchEvent) => void {
  const last = new Map<string, { text: string; polls: number }>()
  let announced = false
  return (e) => {
    if (e.type === 'status') {
      const text = describeBatchEvent({ ...e, polls: 0 })
      const before = last.get(e.id)
      if (before && before.text === text && e.polls - before.polls < QUIET_POLLS) return
      last.set(e.id, { text, polls: e.polls })
    }
    warn(`${describeBatchEvent(e)}\n`)
    if ((e.type === 'created' || e.type === 'reattached' || e.type === 'recovered' || e.type === 'found') && !announced) {
      announced = true
      warn(`batch: polling every ${pollMs / 1000} s; a batch ends within 24 h (usually within the hour). Stopped or killed, a rerun reattaches to it.\n`)
    }
  }
}

/**
 * What a request is expected to use, from the router's estimate: the first of a run writes the
 * shared prefix to the prompt cache, the rest read it (for a batch that is the hope, not the
 * promise: requests processed side by side may each write it).
 */
export function estimatedUsage(e: RequestEstimate | undefined, first: boolean, cacheTtl: CacheTtl, batch: boolean): Usage {
  const estimate = e ?? { prefixTokens: 0, promptTokens: 0, outputTokens: 0 }
  return {
    inputTokens: estimate.promptTokens,
    outputTokens: estimate.outputTokens,
    cacheReadTokens: first ? 0 : estimate.prefixTokens,
    cacheWriteTokens: first ? estimate.prefixTokens : 0,
    ...(first && cacheTtl === '1h' ? { cacheWrite1hTokens: estimate.prefixTokens } : {}),
    ...(batch ? { batch: true } : {}),
  }
}

/** --dry-run with --batch: the batches the pending requests make, and their price live and batched. */
export function batchDryRunLines(router: Router, catalogue: Catalogue, plan: BatchPlan, price: Price | undefined, journal: Journal | undefined, pending: readonly { prompt: string; repeat: number }[]): string[] {
  requireBatching(router)
  const tag = batchTag(router.cacheKey, catalogue.fingerprint)
  const customIdOf = (p: { prompt: string; repeat: number }) => batchCustomId(attemptKey(p.prompt, p.repeat), tag)
  const ids = new Set<string>()
  const unique = pending.filter((p) => {
    const id = customIdOf(p)
    return ids.has(id) ? false : (ids.add(id), true)
  })
  const reattach = (journal?.batches() ?? []).filter((b) => !b.done && b.customIds.some((id) => ids.has(id)))
  const held = new Set(reattach.flatMap((b) => b.customIds))
  const fresh = unique.filter((p) => !held.has(customIdOf(p)))
  const { batches } = splitIntoBatches(fresh, (p) => router.batch.bytes(p.prompt, catalogue) + customIdOf(p).length, { maxRequests: plan.maxRequests, maxBytes: BATCH_LIMITS.maxBytes })
  const lines = [
    `batch: ${fresh.length} request(s) in ${batches.length} batch(es) of at most ${plan.maxRequests.toLocaleString('en-US')} requests or ${BATCH_LIMITS.maxBytes / 1024 / 1024} MB` +
      (batches.length > 0 ? ` (${batches.map((b) => `${b.items.length} requests, ${(b.bytes / 1e6).toFixed(1)} MB`).join('; ')})` : '') +
      (reattach.length > 0 ? `; ${reattach.length} batch(es) of an earlier run would be reattached (${reattach.map((b) => b.id).join(', ')})` : '') +
      interruptedUploadsNote(interruptedUploads(journal, new Set(fresh.map(customIdOf)))),
  ]
  if (price && router.estimate) {
    const cost = (ttl: CacheTtl, batch: boolean, everyWrite = false) => fresh.reduce((n, p, i) => n + usageCost(estimatedUsage(router.estimate!(p.prompt, catalogue), i === 0 || everyWrite, ttl, batch), price), 0)
    const factor = price.batchFactor ?? BATCH_FACTOR
    lines.push(
      `batch: live price ≈$${cost('5m', false).toFixed(4)}; batch price ≈$${cost(plan.cacheTtl, true).toFixed(4)} (${Math.round(factor * 100)}% of list, the shared prefix cached for ${plan.cacheTtl}), ` +
        `≈$${cost(plan.cacheTtl, true, true).toFixed(4)} if no request finds it in the cache`,
    )
  }
  return lines
}
