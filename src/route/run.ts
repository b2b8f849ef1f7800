import pLimit from 'p-limit'
import type { Catalogue } from '../load/catalogue.js'
import { NONE, type Case } from '../load/dataset.js'
import { decisionSchema, type Decision, type Router } from './router.js'

/** One routing request: a case at one repeat index. One line of results.jsonl. */
export type Attempt = {
  caseId: string
  repeat: number
  decision?: Decision
  /** set when the request failed; such an attempt is never scored as a decision */
  error?: string
}

export type RunSettings = {
  repeats: number
  concurrency: number
  timeoutMs: number
  signal?: AbortSignal
  /** called as each attempt finishes, in completion order */
  onAttempt?: (attempt: Attempt) => void
}

/** Routes every case `repeats` times; returns attempts in case order, then repeat order. */
export async function routeCases(cases: readonly Case[], catalogue: Catalogue, router: Router, settings: RunSettings): Promise<Attempt[]> {
  const limit = pLimit(settings.concurrency)
  const known = new Set(catalogue.agents.map((a) => a.name))
  const jobs = cases.flatMap((c) =>
    Array.from({ length: settings.repeats }, (_, repeat) =>
      limit(async (): Promise<Attempt> => {
        const attempt = await routeOnce(c, repeat, catalogue, router, known, settings)
        settings.onAttempt?.(attempt)
        return attempt
      }),
    ),
  )
  return Promise.all(jobs)
}

async function routeOnce(c: Case, repeat: number, catalogue: Catalogue, router: Router, known: ReadonlySet<string>, settings: RunSettings): Promise<Attempt> {
  const base = { caseId: c.id, repeat }
  if (settings.signal?.aborted) return { ...base, error: 'aborted before sending' }
  const timeout = AbortSignal.timeout(settings.timeoutMs)
  const signal = settings.signal ? AbortSignal.any([settings.signal, timeout]) : timeout
  try {
    const raw = await abortable(router.route(c.prompt, catalogue, signal), signal)
    const parsed = decisionSchema.safeParse(raw)
    if (!parsed.success) return { ...base, error: `router ${router.id} returned a malformed decision: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` }
    return { ...base, decision: flagUnknownAgent(parsed.data, known) }
  } catch (e) {
    if (timeout.aborted) return { ...base, error: `timed out after ${settings.timeoutMs / 1000}s` }
    return { ...base, error: e instanceof Error ? e.message : String(e) }
  }
}

/** An agent name the catalogue does not have is kept as `invalid`, and scored as wrong. */
function flagUnknownAgent(d: Decision, known: ReadonlySet<string>): Decision {
  if (d.invalid !== undefined || d.agent === NONE || known.has(d.agent)) return d
  return { ...d, invalid: d.agent }
}

/** Rejects when the signal fires, even if the router ignores it. */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** The label a decision votes for: the agent, "none", or the unknown name it gave. */
export function decidedLabel(d: Decision): string {
  return d.invalid ?? d.agent
}
