import { describe, expect, it } from 'vitest'
import { caseJson, type Summary } from '../src/run/record.js'
import { seededRandom } from '../src/score/stats.js'

/** What summary.json held for a case before caseJson: JSON.stringify with floats to 6 places, nested where the case sits. */
function reference(c: unknown): string {
  const item = JSON.stringify([[c]], (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v), 2)
  return item.slice('[\n  [\n'.length, item.length - '\n  ]\n]'.length)
}

describe("summary.json's cases", () => {
  it('are written exactly as JSON.stringify with floats to 6 places writes them, on 20,000 random cases with every kind of value', () => {
    const random = seededRandom(5)
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!
    const strings = ['', 'golang-pro', 'say "hi"\n\tnow', 'é—ü “q” …', '\u0000\u001f\u2028', '\ud800 lone', '</script>', '__proto__']
    const numbers = [0, -0, 1, -3, 42, 15.962399999999999, 0.1 + 0.2, 1e21, 1e-7, -2.5e-7, 123456789.123456789, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53 + 2]
    const values: Array<() => unknown> = [
      () => pick(strings),
      () => pick(numbers),
      () => random() < 0.5,
      () => null,
      () => undefined,
      () => Array.from({ length: Math.floor(random() * 3) }, () => pick(strings)),
      () => Array.from({ length: 1 + Math.floor(random() * 2) }, () => pick([...strings, 7, null])),
      () => Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(strings), pick(numbers)])),
      () => ({ a: pick(numbers), b: pick(strings) }),
      () => ({ nested: { deep: [1, 2] } }),
      () => new Date(0),
      () => () => 1,
    ]
    const keys = ['id', 'expected', 'decision', 'correct', 'credited', 'votes', 'split', 'margin', 'tags', 'prompt', 'position', '0', 'x y', 'é']
    let direct = 0
    for (let n = 0; n < 20_000; n++) {
      const c = Object.fromEntries(Array.from({ length: Math.floor(random() * 8) }, () => [pick(keys), pick(values)()]))
      const keyText = (k: string) => `${JSON.stringify(k)}: `
      expect(caseJson(c as Summary['cases'][number], keyText), JSON.stringify(c)).toBe(reference(c))
      if (!Object.values(c).some((v) => typeof v === 'function' || v instanceof Date || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).some((x) => typeof x !== 'number')))) direct++
    }
    // Most of them by the direct way, not the fallback.
    expect(direct).toBeGreaterThan(5000)
  })

  it('a case as eval writes it', () => {
    const c = { id: 'c1', expected: ['golang-pro', 'code-reviewer'], decision: 'none', correct: false, credited: 'golang-pro', votes: { none: 2, 'golang-pro': 1 }, split: false, flipped: true, decidedRepeats: 3, runnerUp: 'golang-pro', margin: 0.30000000000000004, tags: [], prompt: 'why "is" it\nslow' }
    expect(caseJson(c as Summary['cases'][number], (k) => `${JSON.stringify(k)}: `)).toBe(reference(c))
    expect(caseJson(c as Summary['cases'][number], (k) => `${JSON.stringify(k)}: `)).toContain('"margin": 0.3,')
  })
})
