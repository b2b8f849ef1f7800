/**
 * The drafting requests' defaults (generate, overlap --probe, improve), apart
 * from the tool caller that sends them: commands print them in --help, and
 * importing the tool caller for that would load @anthropic-ai/sdk (300
 * modules, 180–220 ms) on every routecheck start, lexical runs included.
 */

/**
 * Drafting wants judgement more than speed, and runs tens of requests, not
 * thousands: the current Sonnet ($2 / $10 per million tokens; Sonnet 4.5
 * reaches end of life on 2026-11-30).
 */
export const DEFAULT_DRAFT_MODEL = 'claude-sonnet-5-5'

/** Drafting requests in flight: a handful is enough for tens of requests, and kind to a rate limit. */
export const DRAFT_CONCURRENCY = 4

/** Seconds per drafting request: a reply of 16 prompts with long pasted traces takes a minute or two on a large model. */
export const DRAFT_TIMEOUT_S = 300
