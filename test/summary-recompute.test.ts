import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { summaryJsonChunks } from '../src/run/record.js'
import { runInProcess as runCli, tempProject } from './support/cli.js'

/**
 * Recomputes the headline numbers from summary.json's `cases` alone, written
 * from DESIGN "Scoring" without the scorer's code, and checks the file agrees.
 */
type Case = { id: string; expected: string[]; decision: string | null; correct: boolean | null }

function recompute(cases: Case[], agents: string[]) {
  const decided = cases.filter((c) => c.decision !== null)
  const accuracy = decided.filter((c) => c.expected.includes(c.decision!)).length / decided.length
  const primaryAccuracy = decided.filter((c) => c.decision === c.expected[0]).length / decided.length
  const per = new Map<string, { tp: number; fp: number; fn: number }>()
  for (const a of [...agents, 'none']) per.set(a, { tp: 0, fp: 0, fn: 0 })
  for (const c of decided) {
    const d = c.decision!
    if (c.expected.includes(d)) {
      per.get(d)!.tp++
    } else {
      per.get(c.expected[0]!)!.fn++ // missed: charged to the primary label
      if (per.has(d)) per.get(d)!.fp++
    }
  }
  const perLabel = new Map(
    [...per].map(([label, { tp, fp, fn }]) => {
      const p = tp + fp === 0 ? 0 : tp / (tp + fp)
      const r = tp + fn === 0 ? 0 : tp / (tp + fn)
      return [label, { precision: p, recall: r, f1: p + r === 0 ? 0 : (2 * p * r) / (p + r), support: tp + fn, predicted: tp + fp }]
    }),
  )
  const active = agents.filter((a) => perLabel.get(a)!.support + perLabel.get(a)!.predicted > 0)
  const macroF1 = active.reduce((s, a) => s + perLabel.get(a)!.f1, 0) / active.length
  return { accuracy, primaryAccuracy, perLabel, macroF1 }
}

describe('summary.json agrees with an independent recomputation from its cases', () => {
  it.each(['routing', 'python-backend'])('%s.csv', async (stem) => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', `datasets/${stem}.csv`, '--out', 'run'], { cwd: dir })
    expect(r.code).toBe(0)
    const summary = JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8'))
    const agents: string[] = summary.agents.map((a: { name: string }) => a.name)
    const mine = recompute(summary.cases, agents)

    expect(summary.cases.length).toBe(summary.dataset.cases)
    expect(summary.metrics.accuracy).toBeCloseTo(mine.accuracy, 5)
    expect(summary.metrics.primaryAccuracy).toBeCloseTo(mine.primaryAccuracy, 5)
    expect(summary.metrics.macroF1).toBeCloseTo(mine.macroF1, 5)
    for (const row of summary.perLabel) {
      const m = mine.perLabel.get(row.label)!
      expect([row.label, row.precision, row.recall, row.f1, row.support, row.predicted]).toEqual([
        row.label,
        expect.closeTo(m.precision, 5),
        expect.closeTo(m.recall, 5),
        expect.closeTo(m.f1, 5),
        m.support,
        m.predicted,
      ])
    }
    const none = mine.perLabel.get('none')!
    expect(summary.metrics.none.recall).toBeCloseTo(none.recall, 5)
    expect(summary.metrics.none.support).toBe(none.support)
    // The per-case `correct` flags agree with the gold sets too.
    for (const c of summary.cases as Case[]) expect(c.correct).toBe(c.expected.includes(c.decision!))
  })
})

it('summary.json, written a case at a time, is exactly the whole summary through JSON.stringify with floats to 6 places, for 0, 1 and 352 cases', async () => {
  const dir = await tempProject({ datasets: true })
  expect((await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir })).code).toBe(0)
  const text = await readFile(path.join(dir, 'run/summary.json'), 'utf8')
  const summary = JSON.parse(text)
  const whole = (s: unknown) => `${JSON.stringify(s, (_k, v) => (typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 1e6) / 1e6 : v), 2)}\n`
  expect(text).toBe(whole(summary))
  for (const n of [0, 1]) expect([...summaryJsonChunks({ ...summary, cases: summary.cases.slice(0, n) })].join('')).toBe(whole({ ...summary, cases: summary.cases.slice(0, n) }))
})
