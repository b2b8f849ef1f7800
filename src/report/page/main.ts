/**
 * report.html's script, bundled by scripts/build-page.mjs into one string
 * that html.ts embeds and allows, alone, by its hash in the page's
 * Content-Security-Policy. It reads the page's data from
 * <script type="application/json" id="data"> and builds the parts that grow
 * with the cases: heatmaps, case lists, flips.
 */
import type { PageCase, PageData } from '../page-data.js'
import { casesList } from './cases.js'
import { confusionMatrix } from './confusion.js'
import { byId } from './dom.js'
import { flipLists } from './flips.js'
import { similarityMatrix } from './similarity.js'
import { sortableTables } from './sort.js'

// html.ts always writes the data element, as JSON safe inside a script element.
const data = JSON.parse(byId('data')!.textContent!) as PageData
const caseById = new Map<string, PageCase>(data.cases.map((c) => [c.i, c]))

sortableTables()
confusionMatrix(data)
similarityMatrix(data, caseById)
casesList(data)
flipLists(data, caseById)

// Printing opens every collapsed section, then puts them back.
let opened: HTMLDetailsElement[] = []
window.addEventListener('beforeprint', () => {
  document.querySelectorAll<HTMLDetailsElement>('details:not([open])').forEach((d) => {
    d.open = true
    opened.push(d)
  })
})
window.addEventListener('afterprint', () => {
  for (const d of opened) d.open = false
  opened = []
})
document.documentElement.classList.add('js')
