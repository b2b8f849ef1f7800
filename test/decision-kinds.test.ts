import { describe, expect, it } from 'vitest'
import { parseDataset } from '../src/load/dataset.js'
import type { Attempt } from '../src/route/run.js'
import { scoreCases } from '../src/score/metrics.js'
import { voteByCase } from '../src/score/votes.js'
import { whereLine } from '../src/report/where.js'
import { runInProcess, tempProject, writeFiles } from './support/cli.js'

/** Decisions as the claude-code router reports them: an agent and what Claude Code did. */
const decided = (caseId: string, agent: string, kind: 'custom' | 'builtin' | 'tool' | 'answer', tool?: string): Attempt => ({
  caseId,
  repeat: 0,
  decision: { agent, kind, ...(tool ? { tool } : {}), latencyMs: 1 },
  tries: 1,
})

describe('decision kinds and built-in agents', () => {
  const cases = [
    { id: 'a', expected: ['golang-pro'] },
    { id: 'b', expected: ['Explore'] },
    { id: 'c', expected: ['golang-pro', 'Explore'] },
    { id: 'd', expected: ['none'] },
    { id: 'e', expected: ['none'] },
    { id: 'f', expected: ['golang-pro'] },
  ]
  const attempts = [
    decided('a', 'golang-pro', 'custom'),
    decided('b', 'Explore', 'builtin'),
    decided('c', 'general-purpose', 'builtin'),
    decided('d', 'none', 'tool', 'Read'),
    decided('e', 'none', 'answer'),
    { caseId: 'f', repeat: 0, error: 'HTTP 529', tries: 6 },
  ]
  const scores = scoreCases(voteByCase(cases, attempts), ['golang-pro', 'mobile-developer'])

  it('counts where the prompts went over the decided cases, with the built-ins and tools by name', () => {
    expect(scores.decisionKinds).toEqual({ cases: 5, custom: 1, builtin: 2, tool: 1, answer: 1, builtinAgents: { Explore: 1, 'general-purpose': 1 }, tools: { Read: 1 } })
    expect(whereLine(scores.decisionKinds!)).toBe('where the prompts went: custom 20% · built-in 40% (Explore 20%, general-purpose 20%) · handled itself 20% (Read 20%) · answered 20% (of 5 decided cases)')
    expect(scores.cases.find((c) => c.id === 'd')).toMatchObject({ decision: 'none', decisionKind: 'tool', tool: 'Read', correct: true })
  })

  it('scores a built-in like an agent: never invalid, a row in the per-label table and a confusion column', () => {
    expect(scores.metrics.invalid).toBe(0)
    expect(scores.perLabel.map((l) => l.label)).toEqual(['golang-pro', 'mobile-developer', 'Explore', 'general-purpose'])
    expect(scores.perLabel.find((l) => l.label === 'Explore')).toMatchObject({ support: 1, predicted: 1, f1: 1 })
    // c accepted golang-pro or Explore and went to general-purpose: a miss charged to golang-pro, in the general-purpose column
    const { labels, matrix } = scores.confusion
    expect(matrix[labels.indexOf('golang-pro')]![labels.indexOf('general-purpose')]).toBe(1)
    expect(scores.metrics.accuracy).toBeCloseTo(4 / 5, 10)
  })

  it('routers that say nothing of kinds get no breakdown', () => {
    const plain = scoreCases(voteByCase(cases.slice(0, 1), [{ caseId: 'a', repeat: 0, decision: { agent: 'golang-pro', latencyMs: 1 }, tries: 1 }]), ['golang-pro'])
    expect(plain.decisionKinds).toBeNull()
  })

  it('datasets may name built-in agents; an unknown one gets a did-you-mean that knows them', () => {
    const ok = parseDataset('d.csv', Buffer.from('id,prompt,expected\nx1,where is the retry logic,Explore|golang-pro\n'), ['golang-pro'])
    expect(ok.cases[0]!.expected).toEqual(['Explore', 'golang-pro'])
    expect(() => parseDataset('d.csv', Buffer.from('id,prompt,expected\nx1,find it,Explorer\n'), ['golang-pro'])).toThrow(/unknown agent "Explorer".*did you mean "Explore"/s)
  })

  it('the lexical router says once that it cannot pick built-ins, and scores those cases as misses', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'd.csv': 'id,prompt,expected\nx1,find where we parse the config files in this repo,Explore\nx2,goroutine leak in my grpc server,golang-pro\n' })
    const r = await runInProcess(['eval', '--dataset', 'd.csv', '--out', 'run', '--json'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr.match(/cannot pick them/g)).toHaveLength(1)
    expect(r.stderr).toMatch(/d\.csv accepts Claude Code's own agents \(Explore\); the lexical router cannot pick them, so the 1 case\(s\) that accept only them count as misses/)
    const s = JSON.parse(r.stdout)
    expect(s.cases[0]).toMatchObject({ id: 'x1', correct: false })
    expect(s.perLabel.map((l: { label: string }) => l.label)).toContain('Explore')
    expect(s.decisionKinds).toBeNull()
  })
})
