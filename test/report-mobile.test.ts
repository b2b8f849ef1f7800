import { mkdir, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Browser, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './support/browser.js'
import { ROOT, runInProcess as runCli, tempProject, writeFiles } from './support/cli.js'

/**
 * report.html on a phone (390 × 844 CSS px, the viewport of a current
 * iPhone) and the confusion matrix as it scrolls, in Chromium. Screenshots
 * go to test-output/ (git-ignored) for a person to look at.
 */

const PHONE = { width: 390, height: 844 }
const SHOTS = path.join(ROOT, 'test-output')
const COMMUNITY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'community-agents')

let browser: Browser

beforeAll(async () => {
  browser = (await launchChromium()).browser
  await mkdir(SHOTS, { recursive: true })
})

afterAll(async () => {
  await browser?.close()
})

async function openOnPhone(file: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true })
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  await page.goto(pathToFileURL(file).href)
  return { page, problems }
}

const pageWidth = async (page: Page) => ({ scroll: await page.locator('html').evaluate((html) => html.scrollWidth), viewport: page.viewportSize()!.width })

type Box = { left: number; right: number; top: number; bottom: number }
const boxOf = async (locator: Locator): Promise<Box> => {
  const b = (await locator.boundingBox())!
  return { left: b.x, right: b.x + b.width, top: b.y, bottom: b.y + b.height }
}

/** The confusion matrix's scroll box (its visible part), the `none` column's header and a cell of it, where each sits now. */
async function noneColumn(page: Page) {
  const wrap = page.locator('#confusion-grid .heat-wrap')
  const box = await boxOf(wrap)
  const inner = await wrap.evaluate((w) => ({ left: w.clientLeft, top: w.clientTop, width: w.clientWidth, height: w.clientHeight, scrollLeft: w.scrollLeft, max: w.scrollWidth - w.clientWidth }))
  // The visible part of the box: its client area, the borders and scroll bars aside.
  const visible = { left: box.left + inner.left, top: box.top + inner.top, right: box.left + inner.left + inner.width, bottom: box.top + inner.top + inner.height }
  const head = wrap.locator('thead th[title="none"]')
  const column = await head.evaluate((th) => th.cellIndex as number)
  const rows = await wrap.locator('tbody tr').count()
  const cell = wrap.locator(`tbody tr:nth-child(${Math.ceil(rows / 2)}) > :nth-child(${column + 1})`)
  return { visible, head: await boxOf(head), cell: await boxOf(cell), firstHead: await boxOf(wrap.locator('thead th:nth-child(2)')), scrollLeft: inner.scrollLeft, maxScrollLeft: inner.max }
}

const inside = (r: Box, box: Box) => r.left >= box.left - 0.5 && r.right <= box.right + 0.5 && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5

async function scrollMatrix(page: Page, to: { left?: number; top?: number }) {
  await page.locator('#confusion-grid .heat-wrap').evaluate((w, t) => {
    if (t.left !== undefined) w.scrollLeft = t.left
    if (t.top !== undefined) w.scrollTop = t.top
  }, to)
  await page.waitForTimeout(50)
}

/** Every agent of the fixture, a prompt made of its description's second sentence; and prompts for no agent. */
async function communityDataset(): Promise<string> {
  const rows = ['id,prompt,expected']
  for (const file of (await readdir(COMMUNITY)).filter((f) => f.endsWith('.md')).sort()) {
    const text = await readFile(path.join(COMMUNITY, file), 'utf8')
    const name = /^name:\s*(\S+)/m.exec(text)![1]!
    const description = /^description:\s*(.+)$/m.exec(text)![1]!
    const sentence = description.split(/(?<=\.)\s+/)[1] ?? description
    rows.push(`${name},"${sentence.replace(/"/g, '""')}",${name}`)
  }
  const offTopic = ['what is the capital of peru', 'write a haiku about autumn', 'how many ounces in a pound', 'recommend a good sci-fi novel', 'translate good morning into italian', 'what time zone is tokyo in']
  offTopic.forEach((p, i) => rows.push(`none-${i + 1},${p},none`))
  return `${rows.join('\n')}\n`
}

describe('report.html at 390 px', () => {
  const runs: Record<'routing' | 'community', string> = { routing: '', community: '' }

  beforeAll(async () => {
    const dir = await tempProject({ datasets: true })
    const r = await runCli(['eval', '--dataset', 'datasets/routing.csv', '--out', 'run'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    runs.routing = path.join(dir, 'run/report.html')
    await writeFiles(dir, { 'community.csv': await communityDataset() })
    const c = await runCli(['eval', '--agents', COMMUNITY, '--dataset', 'community.csv', '--out', 'community'], { cwd: dir })
    expect(c.code, c.stderr).toBe(0)
    runs.community = path.join(dir, 'community/report.html')
  })

  it.each(['routing', 'community'] as const)('%s: the page is no wider than the phone, before and after opening every panel', async (which) => {
    const { page, problems } = await openOnPhone(runs[which])
    try {
      expect(await pageWidth(page)).toEqual({ scroll: PHONE.width, viewport: PHONE.width })
      await page.screenshot({ path: path.join(SHOTS, `report-mobile-${which}-top.png`) })
      // Open what can open: a confusion cell's cases, a similarity cell's evidence, every details, every long prompt.
      await page.locator('#confusion-grid button.cell', { hasText: /\d/ }).last().click()
      const sim = page.locator('#similarity-grid button.cell.sim', { hasText: /\d/ }).first()
      if ((await sim.count()) > 0) await sim.click()
      await page.locator('details').evaluateAll((all) => all.forEach((d) => ((d as { open: boolean }).open = true)))
      await page.selectOption('#case-kind', 'all')
      for (const more of await page.locator('#cases-list button.more').all()) await more.click()
      expect((await pageWidth(page)).scroll).toBeLessThanOrEqual(PHONE.width)
      await page.screenshot({ path: path.join(SHOTS, `report-mobile-${which}-full.png`), fullPage: true })
      // Each section on its own, small enough to look at.
      for (const id of ['agents', 'confusion', 'overlap', 'cases']) await page.locator(`#${id}`).screenshot({ path: path.join(SHOTS, `report-mobile-${which}-${id}.png`) })
      expect(problems).toEqual([])
    } finally {
      await page.close()
    }
  })

  it.each(['routing', 'community'] as const)('%s: the confusion matrix keeps its header row and the none column in view as it scrolls', async (which) => {
    const { page } = await openOnPhone(runs[which])
    try {
      await page.locator('#confusion').scrollIntoViewIfNeeded()
      const start = await noneColumn(page)
      expect(start.maxScrollLeft, 'the matrix is wider than a phone, so it scrolls').toBeGreaterThan(100)
      // Unscrolled, the none column already sits at the right edge of the box, not off-screen.
      expect(inside(start.head, start.visible)).toBe(true)
      expect(inside(start.cell, start.visible)).toBe(true)

      for (const left of [Math.round(start.maxScrollLeft / 2), start.maxScrollLeft]) {
        await scrollMatrix(page, { left })
        const now = await noneColumn(page)
        expect(now.scrollLeft).toBeGreaterThan(0)
        expect(inside(now.head, now.visible), `none header at scrollLeft ${left}`).toBe(true)
        expect(inside(now.cell, now.visible), `none cell at scrollLeft ${left}`).toBe(true)
      }
      await page.locator('#confusion-grid .heat-wrap').screenshot({ path: path.join(SHOTS, `report-mobile-${which}-matrix-scrolled.png`) })

      // Down as well: the header row stays at the top of the box.
      await scrollMatrix(page, { left: Math.round(start.maxScrollLeft / 2), top: 400 })
      const down = await noneColumn(page)
      expect(Math.abs(down.head.top - down.visible.top)).toBeLessThanOrEqual(1)
      expect(Math.abs(down.firstHead.top - down.visible.top)).toBeLessThanOrEqual(1)
      expect(inside(down.head, down.visible)).toBe(true)
      await page.locator('#confusion-grid .heat-wrap').screenshot({ path: path.join(SHOTS, `report-mobile-${which}-matrix-down.png`) })
    } finally {
      await page.close()
    }
  })

  it("explains the lexical router's margin where the margins are shown", async () => {
    const { page } = await openOnPhone(runs.routing)
    try {
      const cases = (await page.locator('#cases .margin-note').textContent()) ?? ''
      expect(cases).toMatch(/Margin \(lexical router\): the gap between the decision's BM25 score and the runner-up's/)
      expect(cases).toMatch(/a quarter of the cases decided between two agents have a margin under \d\.\d\d/)
      expect(await page.locator('#cases-list td .margin').first().getAttribute('title')).toMatch(/runner-up/)
      expect(await page.locator('#overlap .margin-note').textContent()).toMatch(/counts as a low margin for the pair/)
    } finally {
      await page.close()
    }
  })
})
