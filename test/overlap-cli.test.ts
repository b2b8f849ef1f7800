import { describe, expect, it } from 'vitest'
import { runInProcess as runCli, tempProject, writeFiles } from './support/cli.js'

const PYTHON = ['python-backend-architect', 'python-backend-engineer', 'python-backend-specialist', 'python-engineer', 'python-specialist']

describe('routecheck overlap', () => {
  it('--json on agents/, with no router and no dataset: DESIGN’s shape, pairs sorted, ≥ 5×N listed, the Python five one cluster', async () => {
    const r = await runCli(['overlap', '--json'])
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.pairs.length).toBeGreaterThanOrEqual(5 * 15)
    const scores = report.pairs.map((p: { score: number }) => p.score)
    expect(scores).toEqual([...scores].sort((a, b) => b - a))
    expect(report.pairs[0]).toEqual(expect.objectContaining({ a: expect.any(String), b: expect.any(String), score: expect.any(Number), text: expect.any(Number), nearDuplicate: true, sharedTerms: expect.any(Array) }))
    expect(report.pairs[0]).not.toHaveProperty('confusion') // no run: run signals are omitted
    expect(report.clusters).toHaveLength(1)
    expect(report.clusters[0].members).toEqual(PYTHON)
    expect(report.clusters[0].suggestion).toMatch(/python/)
    const flaggedDistinct = report.pairs.filter((p: { a: string; b: string; nearDuplicate: boolean }) => p.nearDuplicate && !(p.a.startsWith('python-') && p.b.startsWith('python-')))
    expect(flaggedDistinct).toEqual([])
    expect(report.invalid).toEqual([])
  })

  it('adds run signals from a run folder, and lists files Claude Code would drop with --skip-invalid', async () => {
    const dir = await tempProject({ datasets: true })
    const run = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir })
    expect(run.code).toBe(0)
    await writeFiles(dir, { 'agents/broken.md': '---\nname: broken\n---\nno description\n' })
    const strict = await runCli(['overlap', 'run'], { cwd: dir })
    expect(strict.code).toBe(2)
    expect(strict.stderr).toMatch(/agents\/broken\.md:\d+: .*description/)
    const r = await runCli(['overlap', 'run', '--json', '--skip-invalid'], { cwd: dir })
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.invalid).toEqual([expect.objectContaining({ file: 'agents/broken.md' })])
    const top = report.pairs[0]
    expect(top).toHaveProperty('confusion')
    expect(top).toHaveProperty('coAcceptance')
    expect(report.clusters[0].members).toEqual(PYTHON)
    expect(Object.keys(report.clusters[0].winsAlone ?? {})).toEqual(expect.arrayContaining(['python-specialist']))
  })

  it('the text view shows the cluster, the evidence, the suggestion and lint with token estimates', async () => {
    const r = await runCli(['overlap'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Cluster 1: 5 agents/)
    expect(r.stdout).toMatch(/what each has that the others lack/)
    expect(r.stdout).toMatch(/ {2}advice: /)
    expect(r.stdout).toMatch(/description-too-long agents\/python-backend-specialist\.md:[\s\S]*?≈\s+462\s+tokens/)
  })

  it('eval writes the overlap with run signals into summary.json and shows it in the scorecard', async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/python-backend.csv', '--out', 'run', '--json'], { cwd: dir })
    const s = JSON.parse(r.stdout)
    expect(s.overlap.clusters[0].members).toEqual(PYTHON)
    expect(s.overlap.pairs[0]).toHaveProperty('confusion')
    const text = await runCli(['eval', '--dataset', 'datasets/python-backend.csv', '--out', 'run'], { cwd: dir })
    expect(text.stdout).toMatch(/Cluster 1: 5 agents that a router can hardly tell apart/)
  })
})
