import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runInProcess as runCli, tempProject, writeFiles } from './support/cli.js'

const CASES = 'id,prompt,expected\nc1,my goroutines leak,golang-pro\nc2,swiftui list is slow,mobile-developer\nc3,hello there,none\n'

describe('--router ./file.mjs', () => {
  it('loads a module whose default export is a Router factory, and scores its decisions', async () => {
    const dir = await tempProject()
    await writeFiles(dir, {
      'cases.csv': CASES,
      'keyword-router.mjs': `export default function createKeywordRouter() {
  return {
    id: 'keyword',
    deterministic: true,
    async route(prompt, catalogue) {
      const hit = catalogue.agents.find((a) => prompt.includes(a.name.split('-')[0]))
      return { agent: hit ? hit.name : 'none', latencyMs: 1 }
    },
  }
}
`,
    })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--router', './keyword-router.mjs', '--out', 'run', '--json'], { cwd: dir })
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s.router.id).toBe('keyword')
    expect(s.cases.map((c: { decision: string }) => c.decision)).toEqual(['none', 'none', 'none'])
    expect(s.metrics.accuracy).toBeCloseTo(1 / 3, 5)
  })

  it('a router that names a missing agent is scored wrong and counted invalid; one that throws is an error, not a decision', async () => {
    const dir = await tempProject()
    await writeFiles(dir, {
      'cases.csv': CASES,
      'odd-router.mjs': `export default () => ({
  id: 'odd',
  deterministic: true,
  async route(prompt) {
    if (prompt.startsWith('hello')) throw new Error('upstream exploded')
    return { agent: prompt.includes('goroutines') ? 'go-wizard' : 'mobile-developer', latencyMs: 1 }
  },
})
`,
    })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--router', './odd-router.mjs', '--out', 'run', '--json'], { cwd: dir })
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(/1 case\(s\) have no decision/)
    const s = JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8'))
    expect(s.cases[0]).toMatchObject({ decision: 'go-wizard', invalid: true, correct: false })
    expect(s.cases[2]).toMatchObject({ decision: null, error: 'upstream exploded' })
    expect(s.metrics).toMatchObject({ errored: 1, invalid: 1, decided: 2, accuracy: 0.5 })
    expect(s.confusion.labels.at(-1)).toBe('(invalid)')
  })

  it('a module without a factory is exit 2 with what it must export', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': CASES, 'bad.mjs': 'export const x = 1\n' })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--router', './bad.mjs'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/must export a default function/)
  })
})

it('a custom router’s error marked retryable is retried; a plain one is not', async () => {
  const dir = await tempProject()
  await writeFiles(dir, {
    'cases.csv': 'id,prompt,expected\nc1,flaky,none\nc2,broken,none\n',
    'flaky-router.mjs': `const seen = new Map()
export default () => ({
  id: 'flaky',
  async route(prompt) {
    const n = (seen.get(prompt) ?? 0) + 1
    seen.set(prompt, n)
    if (prompt === 'flaky' && n < 3) throw Object.assign(new Error('busy'), { retryable: true, retryAfterMs: 5 })
    if (prompt === 'broken') throw new Error('bad request')
    return { agent: 'none', latencyMs: 1 }
  },
})
`,
  })
  const r = await runCli(['eval', '--dataset', 'cases.csv', '--router', './flaky-router.mjs', '--repeats', '1', '--out', 'run'], { cwd: dir })
  expect(r.code).toBe(3)
  const s = JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8'))
  expect(s.cases[0]).toMatchObject({ decision: 'none', correct: true })
  expect(s.cases[1]).toMatchObject({ decision: null, error: 'bad request' })
  expect(s.requests).toMatchObject({ retries: 2, errored: 1 })
})
