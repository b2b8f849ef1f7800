import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { InputError } from '../load/input-error.js'
import type { Usage } from './router.js'
// Imported, not read from beside this file: the CLI is one bundle (scripts/bundle-cli.mjs), and the table travels inside it.
import bundledPrices from './prices.json' with { type: 'json' }

const priceSchema = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cacheRead: z.number().min(0),
  /** a write to the 5-minute prompt cache */
  cacheWrite: z.number().min(0),
  /** a write to the 1-hour prompt cache; default ONE_HOUR_WRITE × input */
  cacheWrite1h: z.number().min(0).optional(),
})
export const priceTableSchema = z.object({
  $comment: z.string().optional(),
  /** the share of the list price the Message Batches API bills; default BATCH_FACTOR */
  batchFactor: z.number().gt(0).max(1).optional(),
  models: z.record(z.string(), priceSchema),
})
/** A model's prices, with the table's batch factor (the shape a shard's summary.json records them in). */
export const modelPriceSchema = priceSchema.extend({ batchFactor: z.number().gt(0).max(1).optional() })
export type Price = z.infer<typeof modelPriceSchema>
export type PriceTable = z.infer<typeof priceTableSchema>

/** The bundled price table, or a user's file in the same shape. */
export function loadPrices(file?: string): PriceTable {
  const where = file ?? 'the bundled prices.json'
  let json: unknown = bundledPrices
  if (file !== undefined) {
    try {
      json = JSON.parse(readFileSync(file, 'utf8'))
    } catch (e) {
      throw new InputError([{ file: where, message: `cannot read the price table: ${(e as Error).message}`, fix: 'give a JSON file shaped like {"models": {"model-id": {"input": 1, "output": 5, "cacheRead": 0.1, "cacheWrite": 1.25}}} (optional: "cacheWrite1h" per model, "batchFactor" for the table)' }])
    }
  }
  const parsed = priceTableSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new InputError([{ file: where, message: `"${issue.path.join('.')}": ${issue.message}`, fix: 'prices are USD per million tokens: {"input", "output", "cacheRead", "cacheWrite", optional "cacheWrite1h"}; "batchFactor" is a share of the list price, above 0 and at most 1' }])
  }
  return parsed.data
}

/** The price for a model id: exact, else the longest known prefix (dated ids such as claude-haiku-4-5-20251001). */
export function priceFor(model: string, table: PriceTable): Price | undefined {
  const key = Object.keys(table.models)
    .filter((k) => model === k || model.startsWith(`${k}-`) || model.startsWith(`${k}@`))
    .sort((a, b) => b.length - a.length)[0]
  return key === undefined ? undefined : { ...table.models[key]!, ...(table.batchFactor !== undefined ? { batchFactor: table.batchFactor } : {}) }
}

/** Anthropic bills every token of a Message Batches request at half the list price (input, output and cache alike). */
export const BATCH_FACTOR = 0.5
/** Anthropic prices a 1-hour prompt-cache write at twice the base input price (a 5-minute write: 1.25×). */
export const ONE_HOUR_WRITE = 2

/** What one request's usage cost: 1-hour cache writes at their own price, a batch's tokens at the batch rate. */
export function usageCost(usage: Usage, price: Price): number {
  const write1h = Math.min(usage.cacheWrite1hTokens ?? 0, usage.cacheWriteTokens)
  const listed =
    (usage.inputTokens * price.input +
      usage.outputTokens * price.output +
      usage.cacheReadTokens * price.cacheRead +
      (usage.cacheWriteTokens - write1h) * price.cacheWrite +
      write1h * (price.cacheWrite1h ?? ONE_HOUR_WRITE * price.input)) /
    1e6
  return usage.batch ? listed * (price.batchFactor ?? BATCH_FACTOR) : listed
}

/** Two usages of one request (a reply asked again, a batch request resubmitted), added up; served by a batch only if both were. */
export function addUsage(a: Usage | undefined, b: Usage): Usage {
  if (!a) return b
  const write1h = (a.cacheWrite1hTokens ?? 0) + (b.cacheWrite1hTokens ?? 0)
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    ...(write1h > 0 ? { cacheWrite1hTokens: write1h } : {}),
    ...(a.batch && b.batch ? { batch: true } : {}),
  }
}

/** How a request not sent names the cap it would have passed. */
export const capName = (budget: { maxUsd: number; named?: string | undefined }) => budget.named ?? `--max-cost ${budget.maxUsd} USD`
