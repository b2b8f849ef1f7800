import { describe, expect, it } from 'vitest'
import { binomialDraw, f1Resamples, macroMicroF1, seededRandom } from '../src/score/stats.js'

/**
 * The F1 bootstrap resamples confusion cells (multinomial counts) instead of
 * cases; these tests hold it to the case-by-case bootstrap it replaced: the
 * binomial draws against the exact distribution, and the resampled F1s
 * against the case-level resampler's, seeded, so the comparison is the same
 * on every run.
 */

/** The case-by-case bootstrap routecheck used before: n draws of a case per resample. */
function caseLevel(rows: readonly number[], cols: readonly number[], agents: number, resamples: number, random: () => number) {
  const n = rows.length
  const macro = new Float64Array(resamples)
  const micro = new Float64Array(resamples)
  for (let rep = 0; rep < resamples; rep++) {
    const tp = new Int32Array(agents)
    const support = new Int32Array(agents)
    const predicted = new Int32Array(agents)
    for (let i = 0; i < n; i++) {
      const pick = Math.floor(random() * n)
      const r = rows[pick]!
      const k = cols[pick]!
      if (r < agents) support[r]! += 1
      if (k < agents) predicted[k]! += 1
      if (r === k && r < agents) tp[r]! += 1
    }
    const f1 = macroMicroF1(tp, predicted, support)
    macro[rep] = f1.macro
    micro[rep] = f1.micro
  }
  return { macro, micro }
}

/** The two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical distributions. */
function ksStatistic(a: Float64Array, b: Float64Array): number {
  const x = Float64Array.from(a).sort()
  const y = Float64Array.from(b).sort()
  let i = 0
  let j = 0
  let d = 0
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!)
    while (i < x.length && x[i] === v) i++
    while (j < y.length && y[j] === v) j++
    d = Math.max(d, Math.abs(i / x.length - j / y.length))
  }
  return d
}

const mean = (xs: Float64Array) => xs.reduce((s, x) => s + x, 0) / xs.length

describe('binomial draws', () => {
  it.each([
    [12, 0.3],
    [200, 0.04],
    [5000, 0.5],
    [100_000, 0.0007],
    [100_000, 0.93],
  ])('Binomial(%i, %f): 20,000 draws fit the exact probabilities (chi-square, p > 0.001)', (n, p) => {
    const random = seededRandom(n ^ Math.round(p * 1e6))
    const draws = 20_000
    const seen = new Map<number, number>()
    for (let i = 0; i < draws; i++) {
      const k = binomialDraw(n, p, random)
      expect(Number.isInteger(k) && k >= 0 && k <= n).toBe(true)
      seen.set(k, (seen.get(k) ?? 0) + 1)
    }
    // Exact probabilities by the recurrence from k = 0 in log space, binned so every bin expects at least 5 draws.
    const logPmf: number[] = []
    let lp = n * Math.log1p(-p)
    for (let k = 0; k <= n; k++) {
      logPmf.push(lp)
      lp += Math.log((n - k) / (k + 1)) + Math.log(p / (1 - p))
    }
    let chi = 0
    let bins = 0
    let expected = 0
    let observed = 0
    for (let k = 0; k <= n; k++) {
      expected += Math.exp(logPmf[k]!) * draws
      observed += seen.get(k) ?? 0
      if (expected >= 5 || k === n) {
        chi += (observed - expected) ** 2 / Math.max(expected, 1e-9)
        bins++
        expected = 0
        observed = 0
      }
    }
    // The chi-square 0.999 quantile for bins − 1 degrees of freedom (Wilson–Hilferty).
    const df = bins - 1
    const z = 3.0902
    const critical = df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3
    expect(chi).toBeLessThan(critical)
  })

  it('the edges: p of 0 or 1, and n of 0', () => {
    const random = seededRandom(1)
    expect(binomialDraw(50, 0, random)).toBe(0)
    expect(binomialDraw(50, 1, random)).toBe(50)
    expect(binomialDraw(0, 0.5, random)).toBe(0)
  })
})

describe('the F1 bootstrap by confusion cells', () => {
  // 600 cases over 5 agents, "none" (index 5) and "(invalid)" (6): mostly right, confusions between neighbours.
  const random = seededRandom(99)
  const rows: number[] = []
  const cols: number[] = []
  for (let i = 0; i < 600; i++) {
    const r = Math.floor(random() * 6)
    const roll = random()
    rows.push(r)
    cols.push(roll < 0.7 ? r : roll < 0.9 ? (r + 1) % 6 : roll < 0.97 ? 5 : 6)
  }

  it('resamples the same distribution as the case-by-case bootstrap: 4,000 resamples each, KS distance under the 0.1% critical value, the same mean and spread', () => {
    const cells = f1Resamples(rows, cols, 5, 4000, seededRandom(1))
    const cases = caseLevel(rows, cols, 5, 4000, seededRandom(2))
    const critical = 1.949 * Math.sqrt(2 / 4000) // two-sample KS at α = 0.001
    for (const key of ['macro', 'micro'] as const) {
      expect(ksStatistic(cells[key], cases[key])).toBeLessThan(critical)
      expect(Math.abs(mean(cells[key]) - mean(cases[key]))).toBeLessThan(0.003)
      const sd = (xs: Float64Array) => Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / xs.length)
      expect(sd(cells[key]) / sd(cases[key])).toBeGreaterThan(0.93)
      expect(sd(cells[key]) / sd(cases[key])).toBeLessThan(1.07)
    }
  })

  it('every resample places all n cases, and a confusion with one cell resamples to itself', () => {
    const one = f1Resamples([0, 0, 0], [0, 0, 0], 1, 10, seededRandom(3))
    expect([...one.macro]).toEqual(Array(10).fill(1))
    // A two-cell confusion: micro-F1 is the share of the resample on the diagonal, so it moves in steps of 1/n.
    const two = f1Resamples([0, 0, 0, 0, 1], [0, 0, 0, 0, 0], 2, 200, seededRandom(4))
    for (const x of two.micro) expect(Math.abs(x * 5 - Math.round(x * 5)) < 1e-9 || x === 0).toBe(true)
  })
})
