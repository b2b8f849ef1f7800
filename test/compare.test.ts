import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { cohensKappa } from '../src/score/stats.js'
import { runInProcess as runCli, tempProject, writeFiles } from './support/cli.js'

describe("Cohen's kappa", () => {
  it('matches a hand computation', () => {
    // 10 items: 7 agree; A says x 5×, y 5×; B says x 6×, y 4× → pe = .5·.6 + .5·.4 = .5, κ = (.7 − .5)/.5 = .4
    const a = ['x', 'x', 'x', 'x', 'x', 'y', 'y', 'y', 'y', 'y']
    const b = ['x', 'x', 'x', 'x', 'y', 'x', 'x', 'y', 'y', 'y']
    expect(cohensKappa(a, b)).toBeCloseTo(0.4, 10)
    expect(cohensKappa(a, a)).toBe(1)
  })
})

describe('routecheck compare', () => {
  it('compares a lexical run with a keyword router on routing.csv, figures recomputed from the two summaries', async () => {
    const dir = await tempProject({ datasets: true })
    await writeFiles(dir, {
      'keyword-router.mjs': `export default () => ({
  id: 'keyword',
  deterministic: true,
  async route(prompt, catalogue) {
    const words = prompt.toLowerCase()
    const hit = catalogue.agents.find((a) => a.name.split('-').some((w) => w.length > 3 && words.includes(w)))
    return { agent: hit ? hit.name : 'none', latencyMs: 1 }
  },
})
`,
    })
    expect((await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'lex'], { cwd: dir })).code).toBe(0)
    expect((await runCli(['eval', '--dataset', 'datasets/routing.csv', '--router', './keyword-router.mjs', '--out', 'kw'], { cwd: dir })).code).toBe(0)
    const r = await runCli(['compare', 'lex', 'kw', '--json'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const c = JSON.parse(r.stdout)

    const read = async (d: string) => JSON.parse(await readFile(path.join(dir, d, 'summary.json'), 'utf8')) as { cases: Array<{ id: string; decision: string; correct: boolean }> }
    const [lex, kw] = [await read('lex'), await read('kw')]
    const kwById = new Map(kw.cases.map((x) => [x.id, x]))
    const agree = lex.cases.filter((x) => kwById.get(x.id)!.decision === x.decision).length
    expect(c.compared).toBe(352)
    expect(c.agreement).toBeCloseTo(agree / 352, 10)
    expect(c.disagreements).toHaveLength(352 - agree)
    expect(c.onlyARight).toBe(lex.cases.filter((x) => x.correct && !kwById.get(x.id)!.correct).length)
    expect(c.kappa).toBeGreaterThan(-1)
    expect(c.kappa).toBeLessThan(1)
    expect(c.a.router).toBe('lexical')
    expect(c.b.router).toBe('keyword')

    const text = await runCli(['compare', 'lex', 'kw'], { cwd: dir })
    expect(text.stdout).toMatch(/agreement 0\.\d\d \(95% 0\.\d\d–0\.\d\d\) · Cohen's kappa -?\d\.\d\d/)
    expect(text.stdout).toMatch(/B is (not )?a fair stand-in for A/)
    expect(text.stdout).toContain(`${352 - agree} case(s) decided differently`)
  })

  it('refuses runs of different datasets and a wrong number of folders (exit 2)', async () => {
    const dir = await tempProject({ datasets: true })
    await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'a'], { cwd: dir })
    await writeFiles(dir, { 'other.csv': 'id,prompt,expected\nzz1,hello,none\n' })
    await runCli(['eval', '--dataset', 'other.csv', '--out', 'b'], { cwd: dir })
    const r = await runCli(['compare', 'a', 'b'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/no decided case in common/)
    const one = await runCli(['compare', 'a'], { cwd: dir })
    expect(one.code).toBe(2)
    expect(one.stderr).toMatch(/compare takes two run folders/)
  })
})
