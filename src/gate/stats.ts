/**
 * Paired statistics for comparing two runs over the same cases: is an
 * accuracy change a real change or noise?
 */

/**
 * Exact two-sided McNemar test: of the n = b + c discordant cases (b went
 * right → wrong, c wrong → right), how surprising is a split this uneven if
 * either direction were equally likely? Binomial(n, ½), doubled tail.
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c
  if (n === 0) return 1
  const k = Math.min(b, c)
  // Sum C(n, i) / 2^n for i ≤ k in log space, so n in the thousands cannot overflow.
  let logChoose = 0 // log C(n, 0)
  let tail = 0
  for (let i = 0; i <= k; i++) {
    if (i > 0) logChoose += Math.log(n - i + 1) - Math.log(i)
    tail += Math.exp(logChoose - n * Math.LN2)
  }
  return Math.min(1, 2 * tail)
}

/** mulberry32: a small seeded PRNG, so the same runs always give the same interval. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Paired bootstrap 95% interval of the mean of per-case differences
 * (candidate correct − baseline correct, each −1, 0 or 1): resample cases
 * with replacement, keep each case's pair together, take the 2.5th and 97.5th
 * percentiles of the resampled means.
 */
export function pairedBootstrapInterval(diffs: readonly number[], opts: { resamples?: number; seed?: number } = {}): [number, number] {
  const n = diffs.length
  if (n === 0) return [0, 0]
  const resamples = opts.resamples ?? 2000
  const random = seededRandom(opts.seed ?? 20_240_601)
  const means = new Float64Array(resamples)
  for (let r = 0; r < resamples; r++) {
    let sum = 0
    for (let i = 0; i < n; i++) sum += diffs[Math.floor(random() * n)]!
    means[r] = sum / n
  }
  means.sort()
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))]!
  return [at(0.025), at(0.975)]
}
