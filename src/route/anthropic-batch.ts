import type Anthropic from '@anthropic-ai/sdk'
import { NotFoundError } from '@anthropic-ai/sdk/error'
import { z } from 'zod'
import type { MessagesClient } from './anthropic-client.js'
import { RouterError, type BatchApi, type BatchResult, type BatchStatus } from './router.js'

/**
 * The Message Batches endpoints through @anthropic-ai/sdk (`client.messages.batches`): the same
 * client, key, base URL and error classes as the single requests, so a batch run fails the way
 * a live one does (a bad key stops it, a 429 is retried).
 */

/** Uploading up to 256 MB, or downloading 100,000 results, outlasts one routing request's --timeout: at least this long. */
const TRANSFER_TIMEOUT_MS = 10 * 60_000
/** Batches per page of the list: the API's most (default 20), so a busy account's hour is a page or two. */
const LIST_PAGE = 1000

export type BatchApiOptions = {
  timeoutMs: number
  /** headers for the create request (the replay's anthropic-beta, which applies batch-wide) */
  headers?: Record<string, string>
  /** the router's own classification of an SDK failure */
  classify: (e: unknown) => RouterError
  /** where the batches live, for messages */
  where: string
}

export function sdkBatchApi(client: MessagesClient, opts: BatchApiOptions): BatchApi {
  const transfer = Math.max(opts.timeoutMs, TRANSFER_TIMEOUT_MS)
  // A batch id the server does not know is not "an unknown model" (a single request's 404): the batch is gone.
  const failure = (e: unknown, id?: string): RouterError => {
    if (id !== undefined && e instanceof NotFoundError) return new RouterError('not_found', `${opts.where} does not know batch ${id} (deleted, or made with another key or workspace)`, { retryable: false })
    if (e instanceof SyntaxError) return new RouterError('server', `a line of the batch results is not JSON: ${e.message}`)
    return opts.classify(e)
  }
  return {
    async create(requests, signal) {
      try {
        const params = { requests: requests as unknown as Anthropic.Messages.BatchCreateParams.Request[] }
        return statusOf(await client.messages.batches.create(params, { signal, timeout: transfer, ...(opts.headers ? { headers: opts.headers } : {}) }))
      } catch (e) {
        throw failure(e)
      }
    },
    createTimeoutMs: transfer,
    async listSince(sinceMs, signal) {
      const found: BatchStatus[] = []
      try {
        // Newest first, page after page (the SDK follows last_id as after_id): stop at the first batch older than asked.
        for await (const batch of client.messages.batches.list({ limit: LIST_PAGE }, { signal })) {
          const created = Date.parse(batch.created_at)
          if (created < sinceMs) break
          if (!Number.isNaN(created)) found.push(statusOf(batch))
        }
      } catch (e) {
        // Not "an unknown model" (a single request's 404): a server without the list, which leaves the upload unchecked.
        if (e instanceof NotFoundError) throw new RouterError('not_found', `${opts.where} does not list batches (GET /v1/messages/batches: 404)`, { retryable: false })
        throw failure(e)
      }
      return found
    },
    async retrieve(id, signal) {
      try {
        return statusOf(await client.messages.batches.retrieve(id, {}, { signal }))
      } catch (e) {
        throw failure(e, id)
      }
    },
    async *results(id, signal) {
      let lines: AsyncIterable<unknown>
      try {
        lines = await client.messages.batches.results(id, {}, { signal, timeout: transfer })
      } catch (e) {
        throw failure(e, id)
      }
      const iterator = lines[Symbol.asyncIterator]()
      for (;;) {
        let next: IteratorResult<unknown>
        try {
          next = await iterator.next()
        } catch (e) {
          throw failure(e, id)
        }
        if (next.done) return
        const result = resultOf(next.value)
        if (result) yield result
      }
    },
  }
}

function statusOf(b: Anthropic.Messages.MessageBatch): BatchStatus {
  const c = b.request_counts
  return {
    id: b.id,
    status: b.processing_status,
    counts: { processing: c.processing, succeeded: c.succeeded, errored: c.errored, canceled: c.canceled, expired: c.expired },
    createdAt: b.created_at,
    endedAt: b.ended_at,
    expiresAt: b.expires_at,
  }
}

const errorBody = z.looseObject({ type: z.string().optional(), message: z.string().optional() })
const resultLine = z.object({
  custom_id: z.string(),
  result: z.discriminatedUnion('type', [
    z.object({ type: z.literal('succeeded'), message: z.unknown() }),
    // ErrorResponse: {type: "error", error: {type, message}}; a bare {type, message} is read too.
    z.object({ type: z.literal('errored'), error: z.looseObject({ type: z.string().optional(), message: z.string().optional(), error: errorBody.optional() }).optional() }),
    z.object({ type: z.literal('expired') }),
    z.object({ type: z.literal('canceled') }),
  ]),
})

/** One results line; a line with a custom_id but an unreadable result is an error of that request, one without is skipped. */
function resultOf(line: unknown): BatchResult | undefined {
  const parsed = resultLine.safeParse(line)
  if (!parsed.success) {
    const customId = (line as { custom_id?: unknown } | null)?.custom_id
    return typeof customId === 'string' ? { customId, outcome: 'errored', errorType: 'api_error', error: 'the batch results held an unreadable line for this request' } : undefined
  }
  const { custom_id: customId, result } = parsed.data
  if (result.type === 'succeeded') return { customId, outcome: 'succeeded', message: result.message }
  if (result.type === 'errored') {
    const inner = result.error?.error ?? result.error
    return { customId, outcome: 'errored', errorType: inner?.type ?? 'api_error', error: inner?.message ?? 'the request errored' }
  }
  return { customId, outcome: result.type }
}
