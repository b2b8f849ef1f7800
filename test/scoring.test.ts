import { describe, expect, it } from 'vitest'
import type { Attempt } from '../src/route/run.js'
import { creditedLabel, scoreCases } from '../src/score/metrics.js'
import { majorityVote, voteByCase, type CaseVote } from '../src/score/votes.js'
import { wilsonInterval } from '../src/score/stats.js'

const single = (decision: string | null): CaseVote =>
  decision === null
    ? { decision: null, votes: {}, split: false, flipped: false, decidedRepeats: 0, error: 'HTTP 500' }
    : { decision, votes: { [decision]: 1 }, split: false, flipped: false, decidedRepeats: 1 }

const attempt = (repeat: number, agent: string | null): Attempt =>
  agent === null ? { caseId: 'c', repeat, error: `boom ${repeat}`, tries: 1 } : { caseId: 'c', repeat, decision: { agent, latencyMs: 1 }, tries: 1 }

describe('wilsonInterval', () => {
  it('matches published values', () => {
    const [lo, hi] = wilsonInterval(4, 8)
    expect(lo).toBeCloseTo(0.2152, 4)
    expect(hi).toBeCloseTo(0.7848, 4)
    expect(wilsonInterval(0, 10)[0]).toBe(0)
    expect(wilsonInterval(0, 10)[1]).toBeCloseTo(0.2775, 4)
    expect(wilsonInterval(10, 10)[0]).toBeCloseTo(0.7225, 4)
    expect(wilsonInterval(0, 0)).toEqual([0, 1])
  })
})

describe('majorityVote', () => {
  it('takes the majority, breaks ties by the earliest repeat and marks them split', () => {
    expect(majorityVote([attempt(0, 'a'), attempt(1, 'b'), attempt(2, 'b')])).toMatchObject({ decision: 'b', split: false, flipped: true, votes: { a: 1, b: 2 } })
    expect(majorityVote([attempt(1, 'b'), attempt(0, 'a')])).toMatchObject({ decision: 'a', split: true, flipped: true })
    expect(majorityVote([attempt(0, 'a'), attempt(1, 'a'), attempt(2, 'a')])).toMatchObject({ decision: 'a', split: false, flipped: false, decidedRepeats: 3 })
  })

  it('ignores errored repeats, and has no decision when all errored', () => {
    expect(majorityVote([attempt(0, null), attempt(1, 'a'), attempt(2, null)])).toMatchObject({ decision: 'a', decidedRepeats: 1, flipped: false, error: 'boom 0' })
    expect(majorityVote([attempt(0, null), attempt(1, null)])).toMatchObject({ decision: null, decidedRepeats: 0, error: 'boom 0' })
  })

  it('votes for the unknown name an invalid decision gave', () => {
    const v = majorityVote([{ caseId: 'c', repeat: 0, decision: { agent: 'ghost', invalid: 'ghost', latencyMs: 1 }, tries: 1 }])
    expect(v.decision).toBe('ghost')
  })
})

describe('one repeat, and attempts in any order', () => {
  it('votes one attempt as the general vote does, key for key and in the same key order (summary.json is written in it)', () => {
    const decided: Attempt = { caseId: 'c', repeat: 0, decision: { agent: 'a', scores: { a: 5, b: 2.5, c: 1 }, runnerUp: 'b', kind: 'tool', tool: 'Bash', latencyMs: 1 }, error: 'partial', tries: 2 }
    const failed: Attempt = { caseId: 'c', repeat: 0, error: 'HTTP 500', tries: 6 }
    // The general vote over the attempt and a repeat that was never decided: the same figures, by the general path.
    const general = (a: Attempt) => majorityVote([a, { caseId: 'c', repeat: 1, tries: 0, notSent: true }])
    expect(JSON.stringify(majorityVote([decided]))).toBe(JSON.stringify(general(decided)))
    expect(JSON.stringify(majorityVote([decided]))).toBe('{"decision":"a","votes":{"a":1},"split":false,"flipped":false,"decidedRepeats":1,"error":"partial","runnerUp":"b","margin":2.5,"decisionKind":"tool","tool":"Bash"}')
    expect(JSON.stringify(majorityVote([failed]))).toBe(JSON.stringify(general(failed)))
  })

  it('groups attempts by case whatever their order', () => {
    const cases = ['x', 'y', 'z'].map((id) => ({ id, expected: ['a'] }))
    const of = (caseId: string, repeat: number, agent: string): Attempt => ({ caseId, repeat, decision: { agent, latencyMs: 1 }, tries: 1 })
    const ordered = [of('x', 0, 'a'), of('x', 1, 'b'), of('x', 2, 'b'), of('z', 0, 'c')]
    const shuffled = [ordered[3]!, ordered[1]!, ordered[0]!, ordered[2]!]
    const votes = voteByCase(cases, ordered)
    expect(votes.map((v) => [v.id, v.vote.decision, v.vote.decidedRepeats])).toEqual([
      ['x', 'b', 3],
      ['y', null, 0],
      ['z', 'c', 1],
    ])
    expect(voteByCase(cases, shuffled)).toEqual(votes)
  })
})

describe('scoreCases, on a hand-computed run', () => {
  // Agents A, B, C and D (D: no support, never predicted). See the comments for each case.
  const cases = [
    { id: '1', expected: ['A'], vote: single('A') }, // right, primary
    { id: '2', expected: ['A', 'B'], vote: single('B') }, // right, not primary: credited B
    { id: '3', expected: ['A'], vote: single('B') }, // wrong: A → B
    { id: '4', expected: ['B'], vote: single('B') }, // right
    { id: '5', expected: ['none'], vote: single('none') }, // right: left alone
    { id: '6', expected: ['none'], vote: single('A') }, // false delegation: none → A
    { id: '7', expected: ['C'], vote: single('none') }, // missed delegation: C → none
    { id: '8', expected: ['A'], vote: single(null) }, // errored: counted apart
    { id: '9', expected: ['B'], vote: single('A') }, // wrong: B → A
  ]
  const s = scoreCases(cases, ['A', 'B', 'C', 'D'])
  const label = (l: string) => s.perLabel.find((x) => x.label === l)!

  it('accuracy, primary accuracy and errored', () => {
    expect(s.metrics.decided).toBe(8)
    expect(s.metrics.errored).toBe(1)
    expect(s.metrics.accuracy).toBe(4 / 8)
    expect(s.metrics.primaryAccuracy).toBe(3 / 8)
    expect(s.metrics.accuracyInterval[0]).toBeCloseTo(0.2152, 4)
  })

  it('the credited-label confusion matrix, with none', () => {
    expect(s.confusion.labels).toEqual(['A', 'B', 'C', 'D', 'none'])
    expect(s.confusion.matrix).toEqual([
      [1, 1, 0, 0, 0],
      [1, 2, 0, 0, 0],
      [0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0],
      [1, 0, 0, 0, 1],
    ])
    expect(s.cases.find((c) => c.id === '2')!.credited).toBe('B')
    expect(s.cases.find((c) => c.id === '3')!.credited).toBe('A')
    expect(s.cases.find((c) => c.id === '8')).toMatchObject({ decision: null, correct: null, error: 'HTTP 500' })
  })

  it('per-label precision, recall, F1, support and the top confusion', () => {
    expect(label('A')).toMatchObject({ support: 2, predicted: 3, precision: 1 / 3, recall: 1 / 2, confusedWith: [{ label: 'B', count: 1 }] })
    expect(label('A').f1).toBeCloseTo(0.4, 10)
    expect(label('B')).toMatchObject({ support: 3, predicted: 3, precision: 2 / 3, recall: 2 / 3 })
    expect(label('C')).toMatchObject({ support: 1, predicted: 0, precision: 0, recall: 0, f1: 0, confusedWith: [{ label: 'none', count: 1 }] })
    expect(label('D')).toMatchObject({ support: 0, predicted: 0, f1: 0, precisionInterval: [0, 1] })
  })

  it('macro-F1 over agents with support or predictions, micro-F1, and the none row', () => {
    expect(s.metrics.macroF1).toBeCloseTo((0.4 + 2 / 3 + 0) / 3, 10) // D excluded, none excluded
    expect(s.metrics.microF1).toBeCloseTo(0.5, 10) // tp 3 of 6 predicted, 3 of 6 supported
    expect(s.metrics.none).toEqual({ support: 2, recall: 0.5, falseDelegationRate: 0.5, predicted: 2, precision: 0.5 })
  })

  it('flip rate counts only cases with two or more decided repeats', () => {
    const flips = scoreCases(
      [
        { id: 'x', expected: ['A'], vote: majorityVote([attempt(0, 'A'), attempt(1, 'B'), attempt(2, 'A')]) },
        { id: 'y', expected: ['A'], vote: majorityVote([attempt(0, 'A'), attempt(1, 'A'), attempt(2, 'A')]) },
        { id: 'z', expected: ['A'], vote: majorityVote([attempt(0, 'B'), attempt(1, null), attempt(2, null)]) },
      ],
      ['A', 'B'],
    )
    expect(flips.metrics.flipRate).toBe(1 / 2)
    expect(flips.metrics.accuracy).toBe(2 / 3)
  })

  it('an invalid agent name is wrong and gets its own column', () => {
    const inv = scoreCases([{ id: 'i', expected: ['A'], vote: single('ghost') }], ['A'])
    expect(inv.metrics.accuracy).toBe(0)
    expect(inv.metrics.invalid).toBe(1)
    expect(inv.confusion.labels).toEqual(['A', 'none', '(invalid)'])
    expect(inv.confusion.matrix[0]).toEqual([0, 0, 1])
    expect(inv.perLabel[0]).toMatchObject({ support: 1, predicted: 0, recall: 0 })
  })

  it('creditedLabel', () => {
    expect(creditedLabel(['a', 'b'], 'b')).toBe('b')
    expect(creditedLabel(['a', 'b'], 'c')).toBe('a')
  })
})
