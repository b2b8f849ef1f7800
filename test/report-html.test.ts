import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { wordDiff } from '../src/report/html-diff.js'
import { launchChromium } from './support/browser.js'
import { readJson, ROOT, runInProcess as runCli, tempDir, tempProject, writeFiles } from './support/cli.js'

/**
 * report.html in a real browser (Chromium through playwright-core; see support/browser.ts for which):
 * reports made by the real CLI in temp folders, opened from file://.
 */

let browser: Browser

beforeAll(async () => {
  const launched = await launchChromium()
  browser = launched.browser
  console.info(`report.html tests: Chromium from ${launched.from}`)
})

afterAll(async () => {
  await browser?.close()
})

type Opened = { page: Page; url: string; problems: string[]; requests: string[] }

/** Opens a report, recording console errors and warnings, page errors and every request. */
async function open(file: string): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const problems: string[] = []
  const requests: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('request', (r) => requests.push(r.url()))
  const url = pathToFileURL(file).href
  await page.goto(url)
  return { page, url, problems, requests }
}

type SummaryJson = {
  perLabel: Array<{ label: string; f1: number }>
  confusion: { labels: string[]; matrix: number[][] }
  cases: Array<{ id: string; prompt: string; credited: string; decision: string | null; invalid?: boolean }>
  metrics: { accuracy: number }
}


describe('report.html of datasets/routing.csv', () => {
  let dir: string
  let summary: SummaryJson
  let opened: Opened

  beforeAll(async () => {
    dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    summary = await readJson<SummaryJson>(path.join(dir, 'run/summary.json'))
    opened = await open(path.join(dir, 'run/report.html'))
  })

  afterAll(async () => {
    await opened?.page.close()
  })

  it('opens from file:// with no console errors and no request but the file itself', async () => {
    const { page, url, problems, requests } = opened
    expect(problems).toEqual([])
    expect(requests).toEqual([url])
    const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content')
    expect(csp).toMatch(/default-src 'none'/)
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/)
    expect(await page.textContent('#headline')).toContain(summary.metrics.accuracy.toFixed(2))
    await mkdir(path.join(ROOT, 'test-output'), { recursive: true })
    await page.screenshot({ path: path.join(ROOT, 'test-output/report-routing.png'), fullPage: true })
  })

  it('selecting a confusion cell lists the prompts behind it, by mouse and by keyboard', async () => {
    const { page } = opened
    const { labels, matrix } = summary.confusion
    // The off-diagonal cell with the most cases.
    let best = { r: 0, c: 1, n: -1 }
    for (const [r, row] of matrix.entries()) {
      for (const [c, n] of row.entries()) if (r !== c && n > best.n) best = { r, c, n }
    }
    const casesOf = (r: number, c: number) => summary.cases.filter((x) => x.decision !== null && x.credited === labels[r] && x.decision === labels[c])
    const expected = casesOf(best.r, best.c)
    expect(expected).toHaveLength(best.n)

    await page.click(`#confusion-grid button.cell[data-r="${best.r}"][data-c="${best.c}"]`)
    const panel = page.locator('#confusion-panel')
    await expect.poll(() => panel.locator('h4').textContent()).toContain(`credited to ${labels[best.r]}, decided ${labels[best.c]}`)
    const ids = await panel.locator('tbody tr td:first-child').allTextContents()
    expect(ids).toEqual(expected.map((x) => x.id))
    const prompts = await panel.locator('tbody td.prompt').evaluateAll((tds) => tds.map((td) => td.querySelector('.p-full, .p-text')?.textContent))
    expect(prompts).toEqual(expected.map((x) => x.prompt))

    // Keyboard: one step down from the focused cell, then Enter.
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    const below = Math.min(best.r + 1, labels.length - 1)
    await expect.poll(() => panel.locator('h4').textContent()).toContain(`${casesOf(below, best.c).length} case`)
    expect(await panel.locator('h4').textContent()).toContain(`credited to ${labels[below]}, decided ${labels[best.c]}`)
  })

  it('sorts the per-agent table by F1, both ways', async () => {
    const { page } = opened
    const names = () => page.locator('#agents-table tbody th.agent').allTextContents()
    const byF1 = (dir: 1 | -1) => [...summary.perLabel].sort((a, b) => dir * (a.f1 - b.f1) || (a.label < b.label ? -1 : 1)).map((l) => l.label)
    const f1Header = page.locator('#agents-table thead th', { hasText: 'F1' }).locator('button')
    expect(await names()).toEqual(byF1(-1)) // the page opens sorted by F1, best first
    await f1Header.click()
    expect(await names()).toEqual(byF1(1))
    expect(await page.locator('#agents-table thead th', { hasText: 'F1' }).getAttribute('aria-sort')).toBe('ascending')
    await f1Header.focus()
    await page.keyboard.press('Enter')
    expect(await names()).toEqual(byF1(-1))
    expect(await page.locator('#agents-table tfoot th').textContent()).toBe('none (no subagent)')
  })

  it('pages and filters the misrouted cases', async () => {
    const { page } = opened
    const wrong = summary.cases.filter((c) => c.decision !== null && c.credited !== c.decision)
    expect(await page.locator('#cases-list tbody tr').count()).toBe(Math.min(100, wrong.length))
    await page.fill('#case-filter', 'r006')
    await expect.poll(() => page.locator('#cases-list tbody tr td:first-child').allTextContents()).toEqual(['r006'])
  })
})

describe('untrusted text in report.html', () => {
  it('shows a prompt, a description and a tag holding markup as text, and runs none of it', async () => {
    const dir = await tempProject()
    const agent = path.join(dir, 'agents/technical-writer.md')
    const evil = `<script>document.title='pwned'</script>`
    await writeFile(agent, (await readFile(agent, 'utf8')).replace('description: Use this agent when', `description: Use this agent ${evil} when`))
    const prompt = `<img src=x onerror="document.title='pwned'">`
    await writeFiles(dir, {
      'cases.csv': `id,prompt,expected,tags\nx1,"${prompt.replace(/"/g, '""')}",golang-pro,<b>bold</b>|ok\nx2,goroutine leak in my grpc server,golang-pro,go\nx3,make the README clearer,technical-writer,docs\n`,
    })
    const r = await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const { page, problems, requests, url } = await open(path.join(dir, 'run/report.html'))
    try {
      await page.selectOption('#case-kind', 'all')
      const text = (await page.textContent('body')) ?? ''
      expect(text).toContain(prompt)
      expect(text).toContain(evil)
      expect(text).toContain('<b>bold</b>')
      expect(await page.title()).toBe('routecheck · cases.csv · lexical')
      expect(await page.locator('img, b').count()).toBe(0)
      expect(await page.locator('script').count()).toBe(2) // the data and the page's own script
      expect(problems).toEqual([])
      expect(requests).toEqual([url])
    } finally {
      await page.close()
    }
  })
})

describe('the gate writes a before/after into report.html', () => {
  it('shows the verdict, the flips and a word diff of the changed description; routecheck report rebuilds it', async () => {
    const dir = await tempProject({ datasets: true })
    await writeFile(path.join(dir, 'routecheck.config.json'), await readFile(path.join(ROOT, 'routecheck.config.json')))
    const base = await runCli(['baseline', '--dataset', 'datasets/routing.csv'], { cwd: dir })
    expect(base.code, base.stderr).toBe(0)
    const agent = path.join(dir, 'agents/technical-writer.md')
    const before = await readFile(agent, 'utf8')
    expect(before).toContain('README files, API reference pages')
    await writeFile(agent, before.replace('README files, API reference pages', 'handbooks and wikis, API reference pages'))
    const gate = await runCli(['gate'], { cwd: dir })
    expect([0, 1], gate.stderr).toContain(gate.code)
    const runDir = path.join(dir, 'reports/latest/routing')
    const gateJson = await readJson<{ passed: boolean; comparison: { flips: unknown[] } }>(path.join(runDir, 'gate.json'))

    const check = async (file: string) => {
      const { page, problems } = await open(file)
      try {
        expect(problems).toEqual([])
        // The before/after comes first.
        expect((await page.locator('section.part').evaluateAll((parts) => parts.map((p) => p.id))).slice(0, 2)).toEqual(['gate', 'headline'])
        expect(await page.textContent('#gate .verdict')).toContain(gateJson.passed ? 'passed' : 'failed')
        expect(await page.textContent('#gate')).toContain('agents changed: technical-writer')
        expect(await page.textContent('#gate')).toContain(`Flipped cases (${gateJson.comparison.flips.length})`)
        const removed = (await page.locator('#gate .diff del').allTextContents()).join(' ')
        const added = (await page.locator('#gate .diff ins').allTextContents()).join(' ')
        expect(removed).toContain('README files,')
        expect(added).toContain('handbooks and wikis,')
        expect(await page.textContent('#gate .diff')).toContain('API reference pages')
        expect(removed).not.toContain('API')
      } finally {
        await page.close()
      }
    }
    await check(path.join(runDir, 'report.html'))

    // routecheck report rebuilds the page from summary.json, with the same before/after from the baseline.
    await rm(path.join(runDir, 'report.html'))
    const rebuilt = await runCli(['report', 'reports/latest/routing', '--baseline', 'reports/baseline.json'], { cwd: dir })
    expect(rebuilt.code, rebuilt.stderr).toBe(0)
    expect(rebuilt.stdout).toContain('report.html')
    await check(path.join(runDir, 'report.html'))
  })
})

describe('the word diff of a description', () => {
  // One side's text, spaces evened out: the parts carry the spaces between runs as unchanged text.
  const text = (parts: ReturnType<typeof wordDiff>, drop: 'del' | 'ins') =>
    parts.filter((p) => p.op !== drop).map((p) => p.text).join('').replace(/ +/g, ' ').replace(/ ?\n ?/g, '\n').trim()
  const ops = (parts: ReturnType<typeof wordDiff>) => parts.filter((p) => p.text.trim() !== '').map((p) => p.op)

  it('gives back both texts, line breaks kept, and marks only the words that changed', () => {
    const before = 'Reviews Python code for style.\nUse after edits.'
    const after = 'Reviews Python code for bugs and style.\nUse before a merge.'
    const parts = wordDiff(before, after)
    expect(text(parts, 'ins')).toBe(before)
    expect(text(parts, 'del')).toBe(after)
    expect(parts.filter((p) => p.op === 'ins').map((p) => p.text)).toEqual(['bugs and', 'before a merge.'])
    expect(parts.filter((p) => p.op === 'del').map((p) => p.text)).toEqual(['after edits.'])
  })

  it('shows texts that differ by more edits than the cap as one removal and one addition', () => {
    const words = (prefix: string) => Array.from({ length: 50 }, (_, i) => `${prefix}${i}`).join(' ')
    expect(ops(wordDiff(words('a'), words('b'), 20))).toEqual(['del', 'ins'])
    expect(ops(wordDiff(words('a'), words('b')))).toEqual(['del', 'ins'])
    expect(ops(wordDiff(`${words('a')} same`, `${words('a')} other`, 20))).toEqual(['same', 'del', 'ins'])
  })
})

describe('routecheck report', () => {
  it('rebuilds a run folder’s report.html; a bad folder or baseline exits 2 naming the file', async () => {
    const dir = await tempProject()
    await writeFiles(dir, { 'cases.csv': 'id,prompt,expected\nc1,goroutine leak in my grpc server,golang-pro\nc2,what is the capital of peru,none\n' })
    expect((await runCli(['eval', '--dataset', 'cases.csv', '--out', 'run'], { cwd: dir })).code).toBe(0)
    await rm(path.join(dir, 'run/report.html'))
    const r = await runCli(['report', 'run'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('wrote run/report.html\n')
    const page = await readFile(path.join(dir, 'run/report.html'), 'utf8')
    expect(page).toMatch(/^<!doctype html>/)
    expect(page).not.toContain('id="gate"')

    const missing = await runCli(['report', 'nowhere'], { cwd: dir })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain(path.join('nowhere', 'summary.json'))

    await mkdir(path.join(dir, 'bad'))
    await writeFile(path.join(dir, 'bad/summary.json'), '{"schemaVersion": 1}')
    const invalid = await runCli(['report', 'bad'], { cwd: dir })
    expect(invalid.code).toBe(2)
    expect(invalid.stderr).toMatch(/bad\/summary\.json: not a routecheck summary/)

    const noBaseline = await runCli(['report', 'run', '--baseline', 'missing.json'], { cwd: dir })
    expect(noBaseline.code).toBe(2)
    expect(noBaseline.stderr).toContain('missing.json: the baseline file does not exist')

    const usage = await runCli(['report'], { cwd: dir })
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/report takes one run folder/)
  })
})

describe("report.html of init's starter on five near-duplicate agents", () => {
  let opened: Opened

  beforeAll(async () => {
    const dir = await tempDir()
    for (const name of ['python-backend-architect', 'python-backend-engineer', 'python-backend-specialist', 'python-engineer', 'python-specialist']) {
      await cp(path.join(ROOT, 'agents', `${name}.md`), path.join(dir, '.claude/agents', `${name}.md`))
    }
    expect((await runCli(['init'], { cwd: dir, env: { HOME: path.join(dir, 'nohome') } })).code).toBe(0)
    const r = await runCli(['eval'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    opened = await open(path.join(dir, 'reports/latest/starter/report.html'))
  })

  afterAll(async () => {
    await opened?.page.close()
  })

  it('says by the accuracy that 9 of 15 cases are the descriptions’ own examples, and in the overlap that they are no routing evidence', async () => {
    const { page, problems } = opened
    expect(problems).toEqual([])
    const caveat = await page.textContent('#headline #from-description')
    expect(caveat).toContain("9 of 15 cases are tagged from-description: the descriptions' own <example> prompts, which the router reads, so these figures are an upper bound")
    expect(await page.locator('#headline .figure').first().textContent()).toContain('an upper bound: 9 are the descriptions')
    expect(await page.textContent('#overlap-left-out')).toBe('routing signals and advice leave out 9 cases tagged from-description: the router reads their prompts in the descriptions.')
    const advice = await page.locator('#overlap .suggestion').first().textContent()
    expect(advice).toContain('Reword: these 5 read alike; whether any should merge takes routing evidence.')
    expect(advice).toContain('no routing evidence yet')
    expect(advice).not.toMatch(/told apart/)
  })

  it('shows – with no interval bar for an agent no case is credited or routed to, and sorts it last both ways', async () => {
    const { page } = opened
    const empty = ['python-engineer', 'python-specialist']
    for (const name of empty) {
      const cells = page.locator(`#agents-table tbody tr:has(th[data-v="${name}"]) td`)
      expect((await cells.allTextContents()).slice(0, 3).map((t) => t.trim())).toEqual(['–', '–', '–'])
      expect(await cells.locator('svg').count()).toBe(0)
    }
    const names = () => page.locator('#agents-table tbody th.agent').allTextContents()
    expect((await names()).slice(-2).sort()).toEqual(empty) // opens by F1, best first
    for (const column of ['precision', 'recall', 'F1']) {
      const header = page.locator('#agents-table thead th', { hasText: new RegExp(`^${column}$`) }).locator('button')
      await header.click()
      expect((await names()).slice(-2).sort(), `${column}, first press`).toEqual(empty)
      await header.click()
      expect((await names()).slice(-2).sort(), `${column}, second press`).toEqual(empty)
    }
  })
})
