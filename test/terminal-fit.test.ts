import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderScorecard } from '../src/report/terminal.js'
import { confusionCsv } from '../src/report/write.js'
import { runFolderNames } from '../src/run/evaluate.js'
import type { Summary } from '../src/run/record.js'
import { joinFit, truncate, truncateList, visibleWidth } from '../src/text/fit.js'
import { readJson, runInProcess as runCli, tempProject, writeFiles } from './support/cli.js'

/** The scorecard, overlap and lists fit the terminal; the run folder keeps everything. */

// eslint-disable-next-line no-control-regex
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '')
/** Lines wider than `width` terminal columns (every character routecheck prints takes one). */
const overflowing = (text: string, width: number) => plain(text).split('\n').filter((l) => [...l].length > width)

describe('the scorecard fits the terminal', () => {
  it('datasets/routing.csv at 80 columns: no line over 80, every agent name whole in its row', async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir, columns: 80 })
    expect(r.code, r.stderr).toBe(0)
    expect(overflowing(r.stdout, 80)).toEqual([])
    const summary = await readJson<Summary>(path.join(dir, 'run/summary.json'))
    expect(summary.agents).toHaveLength(15)
    for (const a of summary.agents) expect(r.stdout).toMatch(new RegExp(`^│ ${a.name} +│ +\\d\\.\\d\\d │`, 'm'))
    expect(r.stdout).toMatch(/^│ none \(no subagent\) +│/m)
    // What gave way is said once, in one line.
    expect(r.stdout).toContain('not shown at 80 columns: 95% intervals, predicted, support; report.html has them')
    // The overlap follows, fitted too, with the Python cluster's names whole.
    expect(r.stdout).toContain('● python-backend-architect ↔ python-backend-engineer')
    expect(r.stdout).toMatch(/Cluster 1: 5 agents that a router can hardly tell apart/)

    // The same run's scorecard with colour: the codes take no room.
    const coloured = renderScorecard(summary, { color: true, width: 80 })
    expect(coloured).toMatch(/\u001b\[/)
    expect(overflowing(coloured, 80)).toEqual([])
  })

  it.each([
    [60, /not shown at 60 columns: 95% intervals, predicted, support,\s+confused with/],
    [100, /not shown at 100 columns: 95% intervals, predicted;/],
    [200, null],
  ])('at %i columns the table gives way as far as it must, and no further', async (width, note) => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir, columns: width })
    expect(r.code, r.stderr).toBe(0)
    expect(overflowing(r.stdout, width)).toEqual([])
    if (note) expect(r.stdout).toMatch(note)
    else {
      expect(r.stdout).not.toContain('not shown at')
      expect(r.stdout).toMatch(/│ python-specialist +│ \d\.\d\d \d\.\d\d–\d\.\d\d │/) // the intervals, in full
      expect(r.stdout).toContain('most often confused with')
    }
  })

  it('not a terminal (a pipe, a CI log): fitted to NOT_A_TERMINAL_WIDTH, 100 columns', async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir })
    expect(overflowing(r.stdout, 100)).toEqual([])
    expect(r.stdout).toContain('not shown at 100 columns')
  })

  it('with several datasets the overlap and lint print once, after every scorecard and the summary table', async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--dataset', 'datasets/python-backend.csv', '--out', 'runs'], { cwd: dir, columns: 80 })
    expect(r.code, r.stderr).toBe(0)
    const out = plain(r.stdout)
    expect(out.match(/^Overlap {2}·/gm)).toHaveLength(1)
    expect(out.match(/^Agent lint: /gm)).toHaveLength(1)
    const overlapAt = out.indexOf('Overlap  ·')
    expect(out.indexOf('datasets/python-backend.csv  ·')).toBeLessThan(overlapAt)
    expect(out.lastIndexOf('│ dataset')).toBeLessThan(overlapAt)
    // The overlap has both runs' signals: the evidence names its dataset.
    expect(out).toMatch(/routed across\n +(routing|python-backend):\S+ +expected/)
    expect(overflowing(out, 80)).toEqual([])
  })
})

describe('--only-failures', () => {
  it("lists each misrouted case after the scorecard: id, expected → decision, the prompt's first line", async () => {
    const dir = await tempProject()
    await writeFiles(dir, {
      'cases.csv':
        'id,prompt,expected\n' +
        'ok1,goroutine leak in my grpc server,golang-pro\n' +
        'bad1,"what is the capital of peru\nand of chile, while you are at it",golang-pro\n' +
        'bad2,my terraform plan wants to destroy the prod kubernetes cluster,technical-writer|data-scientist\n',
    })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run', '--only-failures'], { cwd: dir, columns: 80 })
    expect(r.code, r.stderr).toBe(0)
    const summary = await readJson<Summary>(path.join(dir, 'run/summary.json'))
    const wrong = summary.cases.filter((c) => c.correct === false)
    expect(wrong.map((c) => c.id)).toEqual(['bad1', 'bad2'])
    const list = r.stdout.slice(r.stdout.indexOf('Misrouted'))
    expect(r.stdout.indexOf('Misrouted')).toBeGreaterThan(r.stdout.indexOf('none (no subagent)'))
    expect(list).toContain(`Misrouted 2 of 3 decided cases`)
    expect(list).toMatch(new RegExp(`^  bad1 +golang-pro → ${wrong[0]!.decision}\\n +what is the capital of peru …$`, 'm'))
    expect(list).toMatch(new RegExp(`^  bad2 +technical-writer \\| data-scientist → ${wrong[1]!.decision}\\n +my terraform plan`, 'm'))
    expect(list).not.toContain('ok1')
    expect(list).not.toContain('chile')
    expect(overflowing(r.stdout, 80)).toEqual([])
  })

  it('on a bundled dataset with 85 misrouted cases of 138, no line passes 80 columns, the list heading included', async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/python-backend.csv', '--out', 'run', '--only-failures'], { cwd: dir, columns: 80 })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^Misrouted 85 of 138 decided cases · expected → decision$/m)
    expect(overflowing(r.stdout, 80)).toEqual([])
  })

  it('with --json is a usage error', async () => {
    const r = await runCli(['eval', '--only-failures', '--json'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--only-failures .* --json/)
  })
})

describe('--agent and --tag', () => {
  it('show and score the chosen cases; summary.json and results.jsonl keep the whole run', async () => {
    const dir = await tempProject({ datasets: true })
    const whole = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'whole', '--json'], { cwd: dir })
    const all = JSON.parse(whole.stdout) as Summary
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run', '--agent', 'golang-pro', '--agent', 'devops-engineer'], { cwd: dir, columns: 100 })
    expect(r.code, r.stderr).toBe(0)
    const named = all.cases.filter((c) => ['golang-pro', 'devops-engineer'].some((a) => c.decision === a || c.expected.includes(a)))
    expect(r.stdout).toContain(`showing ${named.length} of 352 cases: agent golang-pro or devops-engineer; the run folder holds them all`)
    // Only the chosen agents' rows; their figures are the whole run's (every case credited or routed to them is shown).
    const scorecard = plain(r.stdout).slice(0, plain(r.stdout).indexOf('Overlap  ·'))
    const rows = [...scorecard.matchAll(/^│ (\S[^│]*?) +│ +(\d\.\d\d) │ +(\d\.\d\d) │/gm)].map((m) => [m[1], m[2], m[3]])
    const of = (label: string) => all.perLabel.find((l) => l.label === label)!
    expect(rows).toEqual(
      ['devops-engineer', 'golang-pro']
        .map((label) => of(label))
        .sort((a, b) => b.f1 - a.f1)
        .map((l) => [l.label, l.precision.toFixed(2), l.recall.toFixed(2)]),
    )
    const accuracy = named.filter((c) => c.correct).length / named.length
    expect(r.stdout).toContain(`accuracy ${accuracy.toFixed(2)} `)

    // The run folder: the whole run, as without the filter.
    const saved = await readJson<Summary>(path.join(dir, 'run/summary.json'))
    expect(saved.cases).toHaveLength(352)
    expect(saved.metrics).toEqual(all.metrics)
    expect('filter' in saved).toBe(false)
    expect((await readFile(path.join(dir, 'run/results.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(352)

    // --json prints the chosen cases' summary, saying so.
    const json = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run', '--tag', 'go', '--json'], { cwd: dir })
    const tagged = JSON.parse(json.stdout) as Summary & { filter: { tags: string[]; cases: number; of: number } }
    const withTag = all.cases.filter((c) => c.tags.includes('go'))
    expect(withTag.length).toBeGreaterThan(5)
    expect(tagged.filter).toEqual({ agents: [], tags: ['go'], cases: withTag.length, of: 352 })
    expect(tagged.cases.map((c) => c.id)).toEqual(withTag.map((c) => c.id))
    expect(tagged.metrics.accuracy).toBeCloseTo(withTag.filter((c) => c.correct).length / withTag.length, 6)
  })

  it('a name that is not an agent, or a tag no case has, is exit 2 with a did-you-mean, before anything runs', async () => {
    const dir = await tempProject({ datasets: true })
    const agent = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run', '--agent', 'golang-prp'], { cwd: dir })
    expect(agent.code).toBe(2)
    expect(agent.stderr).toMatch(/--agent "golang-prp" is not an agent: did you mean "golang-pro"\?/)
    const tag = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run', '--tag', 'frontnd'], { cwd: dir })
    expect(tag.code).toBe(2)
    expect(tag.stderr).toMatch(/--tag "frontnd": no case carries this tag; did you mean "frontend"\?/)
    await expect(readFile(path.join(dir, 'run/summary.json'))).rejects.toThrow()
  })
})

describe('the run folder', () => {
  it('holds confusion.csv: decisions across, credited labels down, the counts of summary.json', async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir })
    expect(r.stderr).toContain('wrote run/ (summary.json, results.jsonl, report.html, report.md, junit.xml) and confusion.csv')
    const summary = await readJson<Summary>(path.join(dir, 'run/summary.json'))
    const rows = (await readFile(path.join(dir, 'run/confusion.csv'), 'utf8')).trimEnd().split('\n').map((l) => l.split(','))
    expect(rows[0]).toEqual(['credited \\ decided', ...summary.confusion.labels])
    expect(rows.slice(1).map((row) => row[0])).toEqual(summary.confusion.labels)
    expect(rows.slice(1).map((row) => row.slice(1).map(Number))).toEqual(summary.confusion.matrix)
    expect(summary.confusion.labels).toContain('none')
  })

  it('confusion.csv quotes what CSV needs quoted and defuses spreadsheet formulas', () => {
    expect(confusionCsv({ labels: ['a,b', '=cmd', 'none'], matrix: [[1, 0, 0], [0, 2, 0], [0, 0, 3]] })).toBe(
      'credited \\ decided,"a,b",\'=cmd,none\n"a,b",1,0,0\n\'=cmd,0,2,0\nnone,0,0,3\n',
    )
  })

  it('two datasets with one file name in different folders get two run folders; a unique stem keeps its name', async () => {
    const dir = await tempProject()
    const CASES = 'id,prompt,expected\nc1,goroutine leak in my grpc server,golang-pro\n'
    await writeFiles(dir, { 'team-a/routing.csv': CASES, 'team-b/routing.csv': CASES.replace('c1', 'c2'), 'other.csv': CASES.replace('c1', 'c3') })
    const r = await runCli(['eval', '--dataset', 'team-a/routing.csv', '--dataset', 'team-b/routing.csv', '--dataset', 'other.csv', '--out', 'runs'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const ids = async (folder: string) => (await readJson<Summary>(path.join(dir, 'runs', folder, 'summary.json'))).cases.map((c) => c.id)
    expect([await ids('team-a-routing'), await ids('team-b-routing'), await ids('other')]).toEqual([['c1'], ['c2'], ['c3']])
  })

  it('run folder names: the stem, else as much of the path as tells datasets apart', () => {
    const names = (files: string[]) => [...runFolderNames(files).values()]
    expect(names(['datasets/routing.csv', 'datasets/python-backend.csv'])).toEqual(['routing', 'python-backend'])
    expect(names(['a/x/routing.csv', 'b/x/routing.csv', 'c/routing.jsonl'])).toEqual(['a-x-routing', 'b-x-routing', 'c-routing'])
    expect(names(['d/a.csv', 'd/a.jsonl'])).toEqual(['a-csv', 'a-jsonl'])
    expect(names(['./a.csv', 'a.csv'])).toEqual(['a-csv', 'a-csv-2'])
  })

  it("an eval into a folder an earlier gate wrote removes its gate.json, so no stale verdict is left", async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': 'id,prompt,expected\nc1,goroutine leak in my grpc server,golang-pro\n' })
    await writeFiles(dir, { 'run/gate.json': '{"passed": false}\n' })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('removed gate.json from an earlier run')
    await expect(readFile(path.join(dir, 'run/gate.json'))).rejects.toThrow(/ENOENT/)
    const again = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })
    expect(again.stderr).not.toContain('removed')
  })
})

describe('text that fits', () => {
  const red = (t: string) => `\u001b[31m${t}\u001b[0m`

  it('truncate counts colour codes as nothing, keeps them, and closes them', () => {
    expect(truncate(`ab${red('cdef')}`, 4)).toBe('ab\u001b[31mc…\u001b[0m')
    expect(visibleWidth(truncate(`ab${red('cdef')}`, 4))).toBe(4)
    expect(truncate('abc', 3)).toBe('abc')
    expect(visibleWidth('日本')).toBe(4)
  })

  it('truncateList keeps whole items while they fit', () => {
    expect(truncateList(['→ none ×4', '→ code-reviewer ×1'], 30)).toBe('→ none ×4, → code-reviewer ×1')
    expect(truncateList(['→ none ×4', '→ code-reviewer ×1'], 20)).toBe('→ none ×4, …')
    expect(truncateList(['→ python-backend-architect ×2'], 12)).toBe('→ python-ba…')
  })

  it('joinFit breaks between parts, between words inside a part too wide for a line, and never passes the width', () => {
    expect(joinFit(['aaa', 'bbb', 'ccc'], ' · ', 10)).toEqual(['aaa · bbb', 'ccc'])
    expect(joinFit(['one two three four five six'], ' · ', 10, '', '  ')).toEqual(['one two', '  three', '  four', '  five six'])
    expect(joinFit(['x'.repeat(25), 'y'], ' ', 10)).toEqual(['x'.repeat(10), 'x'.repeat(10), 'xxxxx y'])
  })
})
