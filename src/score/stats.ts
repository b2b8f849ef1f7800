/**
 * Every statistic routecheck reports, in one place: intervals for proportions
 * (Wilson), the paired test and interval the gate compares runs with (exact
 * McNemar, paired bootstrap), the F1 bootstrap for the report's headline,
 * quantiles, and the seeded generator that makes every resample reproducible.
 */

/**
 * 95% Wilson score interval for k successes in n trials. Unlike the normal
 * approximation it stays inside [0, 1] and is honest for small n and for
 * proportions near 0 or 1, which per-agent precision on 15 cases always is.
 */
export function wilsonInterval(k: number, n: number, z = 1.959963984540054): [number, number] {
  if (n === 0) return [0, 1]
  const p = k / n
  const z2 = z * z
  const denom = 1 + z2 / n
  const center = (p + z2 / (2 * n)) / denom
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom
  return [Math.max(0, center - half), Math.min(1, center + half)]
}

/**
 * The fewest trials on which a record can beat `chance` at all: the
 * smallest n whose perfect record (n of n) has a Wilson lower bound above
 * it. Under it, even a router that is never wrong is indistinguishable from
 * guessing, so silence from so few trials says nothing. 4 for a coin toss
 * (4 of 4: 0.51; 3 of 3: 0.44).
 */
export function fewestToBeatChance(chance: number): number {
  if (!(chance >= 0 && chance < 1)) throw new RangeError(`chance must be in [0, 1), not ${chance}`)
  let n = 1
  while (wilsonInterval(n, n)[0] <= chance) n++
  return n
}

/** Nearest-rank quantile; 0 for an empty list. Sorted as a Float64Array: a comparator function made 100,000 latencies' sort 30 ms. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0
}

/** The 2.5th and 97.5th percentiles of resampled statistics: a percentile bootstrap's 95% interval. */
function percentileInterval(xs: Float64Array): [number, number] {
  const sorted = Float64Array.from(xs).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!
  return [at(0.025), at(0.975)]
}

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
  return percentileInterval(means)
}

/**
 * Percentile bootstrap of macro- and micro-F1 over decided cases, given as
 * (credited label, decision) index pairs into one label list whose first
 * `agents` entries are the agents. Seeded by n, so a report is reproducible.
 */
export function f1Bootstrap(rows: readonly number[], cols: readonly number[], agents: number, resamples: number): { macroF1: [number, number]; microF1: [number, number] } | null {
  const n = rows.length
  if (n === 0 || agents === 0) return null
  const { macro, micro } = f1Resamples(rows, cols, agents, resamples, seededRandom(0x5eed ^ n))
  return { macroF1: percentileInterval(macro), microF1: percentileInterval(micro) }
}

/**
 * The bootstrap's resampled macro- and micro-F1. Resampling n cases with
 * replacement only matters through how many land in each confusion cell,
 * and those counts are multinomial(n, each cell's share): so each resample
 * draws the cell counts (one binomial per non-empty cell, conditioned on the
 * cells before it) instead of n cases. The same distribution (test/bootstrap.test.ts
 * compares the two), at a cost that grows with the cells, not the cases:
 * case by case, 1,000 resamples of 100,000 cases took a fifth of a run's CPU.
 */
export function f1Resamples(rows: readonly number[], cols: readonly number[], agents: number, resamples: number, random: () => number): { macro: Float64Array; micro: Float64Array } {
  const n = rows.length
  let width = agents
  for (let i = 0; i < n; i++) width = Math.max(width, rows[i]!, cols[i]!)
  width += 1
  const cellCount = new Map<number, number>()
  for (let i = 0; i < n; i++) {
    const key = rows[i]! * width + cols[i]!
    cellCount.set(key, (cellCount.get(key) ?? 0) + 1)
  }
  const cells = [...cellCount].map(([key, count]) => ({ row: Math.floor(key / width), col: key % width, count }))
  const tp = new Int32Array(agents)
  const support = new Int32Array(agents)
  const predicted = new Int32Array(agents)
  const macro = new Float64Array(resamples)
  const micro = new Float64Array(resamples)
  for (let rep = 0; rep < resamples; rep++) {
    tp.fill(0)
    support.fill(0)
    predicted.fill(0)
    let left = n // cases still to place
    let mass = n // original cases in the cells not yet drawn
    for (const { row, col, count } of cells) {
      const drawn = left === 0 ? 0 : mass === count ? left : binomialDraw(left, count / mass, random)
      left -= drawn
      mass -= count
      if (drawn === 0) continue
      if (row < agents) support[row]! += drawn
      if (col < agents) predicted[col]! += drawn
      if (row === col && row < agents) tp[row]! += drawn
    }
    const f1 = macroMicroF1(tp, predicted, support)
    macro[rep] = f1.macro
    micro[rep] = f1.micro
  }
  return { macro, micro }
}

/** Macro-F1 over the agents seen (in the gold labels or the decisions) and micro-F1, from per-agent counts. */
export function macroMicroF1(tp: Int32Array, predicted: Int32Array, support: Int32Array): { macro: number; micro: number } {
  let f1Sum = 0
  let active = 0
  let tpAll = 0
  let predAll = 0
  let supAll = 0
  for (let a = 0; a < tp.length; a++) {
    if (support[a] === 0 && predicted[a] === 0) continue
    active++
    f1Sum += f1Score(tp[a]!, predicted[a]!, support[a]!)
    tpAll += tp[a]!
    predAll += predicted[a]!
    supAll += support[a]!
  }
  return { macro: active === 0 ? 0 : f1Sum / active, micro: f1Score(tpAll, predAll, supAll) }
}

/**
 * A Binomial(n, p) draw, exact. With n·p (p ≤ ½ by symmetry) of 10 or more,
 * Hörmann's transformed rejection with squeeze (BTRS, 1993; numpy and
 * TensorFlow use the same family): about 1.15 uniform pairs a draw whatever n
 * is. Below that, inversion of one uniform, summing the probabilities
 * outward from the mode, a handful of steps. Stepping outward for every cell
 * took about two standard deviations of steps a draw, most of report.html's
 * F1 bootstrap at a few thousand cases.
 */
export function binomialDraw(n: number, p: number, random: () => number): number {
  if (p <= 0) return 0
  if (p >= 1) return n
  if (p > 0.5) return n - binomialDraw(n, 1 - p, random)
  return n * p >= BTRS_MIN_MEAN ? transformedRejection(n, p, random) : inversionFromMode(n, p, random)
}

/** Hörmann's lower bound of n·p for BTRS's hat to hold. */
const BTRS_MIN_MEAN = 10

function transformedRejection(n: number, p: number, random: () => number): number {
  const spq = Math.sqrt(n * p * (1 - p))
  const b = 1.15 + 2.53 * spq
  const a = -0.0873 + 0.0248 * b + 0.01 * p
  const c = n * p + 0.5
  const vr = 0.92 - 4.2 / b
  const alpha = (2.83 + 5.1 / b) * spq
  const logOdds = Math.log(p / (1 - p))
  const mode = Math.floor((n + 1) * p)
  const atMode = lnFactorial(mode) + lnFactorial(n - mode)
  for (;;) {
    const u = random() - 0.5
    const v = random()
    const us = 0.5 - Math.abs(u)
    const k = Math.floor(((2 * a) / us + b) * u + c)
    if (k < 0 || k > n) continue
    if (us >= 0.07 && v <= vr) return k
    // Accept when v under the hat falls below f(k) / f(mode), compared in logs.
    if (Math.log((v * alpha) / (a / (us * us) + b)) <= atMode - lnFactorial(k) - lnFactorial(n - k) + (k - mode) * logOdds) return k
  }
}

function inversionFromMode(n: number, p: number, random: () => number): number {
  const q = 1 - p
  const mode = Math.min(n, Math.floor((n + 1) * p))
  const atMode = Math.exp(lnFactorial(n) - lnFactorial(mode) - lnFactorial(n - mode) + mode * Math.log(p) + (n - mode) * Math.log(q))
  let u = random() - atMode
  if (u < 0) return mode
  let lo = mode
  let hi = mode
  let pLo = atMode
  let pHi = atMode
  const qOverP = q / p
  const pOverQ = p / q
  while (lo > 0 || hi < n) {
    if (lo > 0) {
      pLo *= (lo / (n - lo + 1)) * qOverP
      lo--
      u -= pLo
      if (u < 0) return lo
    }
    if (hi < n) {
      pHi *= ((n - hi) / (hi + 1)) * pOverQ
      hi++
      u -= pHi
      if (u < 0) return hi
    }
  }
  return mode // u beyond the total only by rounding
}

/**
 * ln k!, from a table of running sums of ln i grown on demand up to LN_FACTORIAL_TABLE_MAX (4 M
 * entries, 32 MB at most; a run's bootstrap needs n + 1): three Lanczos ln Γ per binomial draw
 * were two thirds of the F1 bootstrap's time.
 */
let lnFactorials = new Float64Array([0, 0])
const LN_FACTORIAL_TABLE_MAX = 1 << 22
function lnFactorial(k: number): number {
  if (k >= lnFactorials.length) {
    if (k >= LN_FACTORIAL_TABLE_MAX) return logGamma(k + 1)
    const grown = new Float64Array(Math.min(LN_FACTORIAL_TABLE_MAX, Math.max(k + 1, lnFactorials.length * 2)))
    grown.set(lnFactorials)
    for (let i = lnFactorials.length; i < grown.length; i++) grown[i] = grown[i - 1]! + Math.log(i)
    lnFactorials = grown
  }
  return lnFactorials[k]!
}

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]

/** ln Γ(x) for x ≥ 1 (Lanczos, g = 7; relative error about 1e-15). */
function logGamma(x: number): number {
  const z = x - 1
  let sum = LANCZOS[0]!
  for (let i = 1; i < 9; i++) sum += LANCZOS[i]! / (z + i)
  const t = z + 7.5
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum)
}

/** F1 from counts: the harmonic mean of precision tp/predicted and recall tp/support. */
export function f1Score(tp: number, predicted: number, support: number): number {
  return harmonicMean(predicted === 0 ? 0 : tp / predicted, support === 0 ? 0 : tp / support)
}

/** F1 from precision and recall; 0 when both are 0. */
export function harmonicMean(p: number, r: number): number {
  return p + r === 0 ? 0 : (2 * p * r) / (p + r)
}

/**
 * Cohen's kappa of two raters' labels on the same items: agreement beyond
 * what their label frequencies alone would give by chance. 1 is perfect, 0
 * chance level; Landis and Koch call 0.61–0.80 substantial, above 0.80 almost
 * perfect.
 */
export function cohensKappa(a: readonly string[], b: readonly string[]): number {
  const n = a.length
  if (n === 0 || n !== b.length) return Number.NaN
  const countA = new Map<string, number>()
  const countB = new Map<string, number>()
  let agree = 0
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) agree++
    countA.set(a[i]!, (countA.get(a[i]!) ?? 0) + 1)
    countB.set(b[i]!, (countB.get(b[i]!) ?? 0) + 1)
  }
  const observed = agree / n
  let expected = 0
  for (const [label, k] of countA) expected += (k / n) * ((countB.get(label) ?? 0) / n)
  return expected === 1 ? 1 : (observed - expected) / (1 - expected)
}
