import { createHash } from 'node:crypto'
import { z } from 'zod'

/**
 * `--shard K/N`: a run split across N machines. Each case belongs to one
 * shard by a hash of its id alone, so the split does not depend on the
 * dataset's row order, and a case stays in its shard when others are added
 * or removed (a shard's run journal stays useful). Every repeat of a case
 * is routed in its shard, so its votes are counted where they were cast.
 */
export type Shard = { index: number; count: number }

/** More shards than this is a typo: 256 machines already split 100,000 cases into ~400 each. */
export const MAX_SHARDS = 256

export const shardSpecSchema = z
  .string()
  .regex(/^\d+\/\d+$/, '--shard takes K/N: this machine\'s shard K of N (e.g. --shard 2/4)')
  .transform((s) => {
    const [index, count] = s.split('/').map(Number) as [number, number]
    return { index, count }
  })
  .refine((s) => s.count >= 1 && s.count <= MAX_SHARDS, `--shard K/N: N must be 1 to ${MAX_SHARDS}`)
  .refine((s) => s.index >= 1 && s.index <= s.count, '--shard K/N: K must be 1 to N (shards are numbered from 1)')

/** The shard (1 to count) a case id belongs to: the first 48 bits of its SHA-256, modulo count. */
export function shardOfCase(id: string, count: number): number {
  const high = createHash('sha256').update(id, 'utf8').digest().readUIntBE(0, 6)
  return (high % count) + 1
}

/** The cases of one shard, each with its place in the whole dataset (what `merge` puts them back in order by). */
export function casesOfShard<C extends { id: string }>(cases: readonly C[], shard: Shard): Array<{ c: C; position: number }> {
  const chosen: Array<{ c: C; position: number }> = []
  cases.forEach((c, position) => {
    if (shardOfCase(c.id, shard.count) === shard.index) chosen.push({ c, position })
  })
  return chosen
}

export const shardLabel = (s: Shard) => `${s.index}/${s.count}`

/** A sharded run's default folder under the config's out: one per shard, so shards run on one machine do not replace each other. */
export const shardFolderName = (s: Shard) => `shard-${s.index}-of-${s.count}`

/**
 * `--max-cost` with `--shard K/N` is the whole run's cap: each shard may
 * spend the part of it that its own requests are of the run's estimated cost
 * (every shard's requests, each shard writing the prompt cache once), so the
 * N shares add up to the cap. With nothing to share by (no estimate, or every
 * request answered already), each shard gets an even share.
 */
export function shardShareOfCap(capUsd: number, shardEstimateUsd: number, runEstimateUsd: number, count: number): number {
  return runEstimateUsd > 0 ? (capUsd * shardEstimateUsd) / runEstimateUsd : capUsd / count
}
