import { describe, expect, it } from 'vitest'
import type { BaselineDataset } from '../src/gate/baseline.js'
import { compareDataset, decideGate, type SideCase } from '../src/gate/compare.js'
import { mcnemarExact, pairedBootstrapInterval } from '../src/score/stats.js'

describe('mcnemarExact', () => {
  it('matches hand-computed binomial tails', () => {
    expect(mcnemarExact(0, 0)).toBe(1)
    expect(mcnemarExact(0, 5)).toBeCloseTo(2 / 32, 12)
    expect(mcnemarExact(1, 9)).toBeCloseTo((2 * 11) / 1024, 12)
    expect(mcnemarExact(9, 1)).toBeCloseTo((2 * 11) / 1024, 12)
    expect(mcnemarExact(5, 5)).toBe(1)
    expect(mcnemarExact(400, 600)).toBeLessThan(1e-9) // large n stays finite
  })
})

describe('pairedBootstrapInterval', () => {
  it('is degenerate for constant differences, brackets the mean otherwise, and is reproducible', () => {
    expect(pairedBootstrapInterval([0, 0, 0])).toEqual([0, 0])
    expect(pairedBootstrapInterval([1, 1])).toEqual([1, 1])
    const diffs = [...Array(80).fill(0), ...Array(15).fill(-1), ...Array(5).fill(1)]
    const [lo, hi] = pairedBootstrapInterval(diffs)
    expect(lo).toBeLessThan(-0.1)
    expect(hi).toBeGreaterThan(-0.1)
    expect(hi).toBeLessThan(0)
    expect(pairedBootstrapInterval(diffs)).toEqual([lo, hi])
  })
})

describe('compareDataset and decideGate', () => {
  const mk = (id: string, expected: string[], decision: string, votes: Record<string, number> = { [decision]: 3 }): SideCase => ({
    id,
    expected,
    decision,
    votes,
    split: false,
    flipped: Object.keys(votes).length > 1,
  })
  const baseCases = [mk('1', ['a'], 'a'), mk('2', ['a'], 'a'), mk('3', ['b'], 'b'), mk('4', ['b'], 'b'), mk('5', ['b'], 'a', { a: 2, b: 1 })]
  const baseline: BaselineDataset = { path: 'd.csv', fingerprint: 'f', repeats: 3, metrics: { accuracy: 0.8, primaryAccuracy: 0.8, macroF1: 0.8, errored: 0 }, cases: baseCases.map((c) => ({ ...c, correct: c.expected.includes(c.decision!) })) }
  const t = { maxAccuracyDrop: 0.02, maxAgentF1Drop: 0.1, minSupport: 2, maxStableFlips: 0, failOnNewNearDuplicates: true, minChangedAgentCases: 0 }

  it('a stable right → wrong flip fails three rules, naming the agents', () => {
    const cand = [mk('1', ['a'], 'b'), mk('2', ['a'], 'a'), mk('3', ['b'], 'b'), mk('4', ['b'], 'b'), mk('5', ['b'], 'a', { a: 2, b: 1 })]
    const c = compareDataset(baseline, cand, ['a', 'b'])
    expect(c.flips).toEqual([{ id: '1', expected: ['a'], before: 'a', after: 'b', direction: 'broke', stable: true, flaky: false }])
    expect(c.flaky).toEqual(['5'])
    expect(c.accuracy).toMatchObject({ before: 0.8, after: 0.6, broke: 1, fixed: 0 })
    const v = decideGate([c], [], t)
    expect(v.passed).toBe(false)
    expect([...new Set(v.failures.map((f) => f.rule))].sort()).toEqual(['accuracy-drop', 'agent-f1-drop', 'stable-flips'])
    expect(v.failures.filter((f) => f.rule === 'agent-f1-drop').map((f) => f.agents[0])).toContain('a')
    expect(v.failures.find((f) => f.rule === 'stable-flips')!.agents.sort()).toEqual(['a', 'b'])
  })

  it('a flip that a re-test shows to be noise is flaky and held at the baseline decision', () => {
    const cand = [mk('1', ['a'], 'b'), ...baseCases.slice(1)]
    const c = compareDataset(baseline, cand, ['a', 'b'], new Map([['1', { a: 2, b: 1 }]]))
    expect(c.flips[0]).toMatchObject({ id: '1', stable: false, flaky: true })
    expect(c.accuracy.settledAfter).toBe(c.accuracy.settledBefore)
    expect(decideGate([c], [], t).passed).toBe(true)
  })

  it('an improvement passes; a new near-duplicate pair fails naming both', () => {
    const cand = [...baseCases.slice(0, 4), mk('5', ['b'], 'b')]
    const c = compareDataset(baseline, cand, ['a', 'b'])
    expect(c.flips).toMatchObject([{ id: '5', direction: 'fixed', flaky: true }])
    expect(decideGate([c], [], t).passed).toBe(true)
    const v = decideGate([c], [{ a: 'a', b: 'c', before: 0.1, after: 0.5, edited: ['c'], sharedTerms: ['go'] }], t)
    expect(v.failures).toEqual([expect.objectContaining({ rule: 'new-near-duplicate', agents: ['c', 'a'] })])
    expect(v.failures[0]!.message).toMatch(/the edit to c made a and c near-duplicates: text 0\.50 \(was 0\.10/)
  })
})
