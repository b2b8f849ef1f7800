import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { InputError } from '../load/input-error.js'
import type { Usage } from './router.js'

const priceSchema = z.strictObject({ input: z.number().min(0), output: z.number().min(0), cacheRead: z.number().min(0), cacheWrite: z.number().min(0) })
export const priceTableSchema = z.object({ $comment: z.string().optional(), models: z.record(z.string(), priceSchema) })
export type Price = z.infer<typeof priceSchema>
export type PriceTable = z.infer<typeof priceTableSchema>

const BUNDLED = new URL('./prices.json', import.meta.url)

/** The bundled price table, or a user's file in the same shape. */
export function loadPrices(file?: string): PriceTable {
  const source = file ?? BUNDLED
  const where = file ?? 'the bundled prices.json'
  let json: unknown
  try {
    json = JSON.parse(readFileSync(source, 'utf8'))
  } catch (e) {
    throw new InputError([{ file: where, message: `cannot read the price table: ${(e as Error).message}`, fix: 'give a JSON file shaped like {"models": {"model-id": {"input": 1, "output": 5, "cacheRead": 0.1, "cacheWrite": 1.25}}}' }])
  }
  const parsed = priceTableSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new InputError([{ file: where, message: `"${issue.path.join('.')}": ${issue.message}`, fix: 'prices are USD per million tokens: {"input", "output", "cacheRead", "cacheWrite"}' }])
  }
  return parsed.data
}

/** The price for a model id: exact, else the longest known prefix (dated ids such as claude-haiku-4-5-20251001). */
export function priceFor(model: string, table: PriceTable): Price | undefined {
  const key = Object.keys(table.models)
    .filter((k) => model === k || model.startsWith(`${k}-`) || model.startsWith(`${k}@`))
    .sort((a, b) => b.length - a.length)[0]
  return key === undefined ? undefined : table.models[key]
}

export function usageCost(usage: Usage, price: Price): number {
  return (usage.inputTokens * price.input + usage.outputTokens * price.output + usage.cacheReadTokens * price.cacheRead + usage.cacheWriteTokens * price.cacheWrite) / 1e6
}
