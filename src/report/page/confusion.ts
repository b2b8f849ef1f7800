import type { PageCase, PageData } from '../page-data.js'
import { caseRow } from './case-rows.js'
import { byId, el } from './dom.js'
import { heatmap } from './heatmap.js'
import { pager, type Pager } from './pager.js'

/** Past this many agents the matrix opens on the most confused ones, with a button for all. */
const CONFUSION_CAP = 40

const plural = (n: number) => `${n} case${n === 1 ? '' : 's'}`

/** The confusion heatmap: a cell's colour is its share of the row; selecting one lists its cases. */
export function confusionMatrix(data: PageData): void {
  const box = byId('confusion-grid')
  if (!box || !data.labels) return
  const { labels, matrix: m, agentCount } = data
  const n = labels.length
  const count = (i: number, j: number) => m[i]?.[j] ?? 0
  const rowSum = m.map((row) => row.reduce((a, b) => a + b, 0))
  const all = labels.map((_, i) => i)
  let few = all
  let limited = false
  const toggle = byId<HTMLButtonElement>('confusion-all')
  const note = byId('confusion-note')
  if (agentCount > CONFUSION_CAP && toggle && note) {
    const involvement = all.map((i) => {
      let s = 0
      for (let j = 0; j < n; j++) if (j !== i) s += count(i, j) + count(j, i)
      return s
    })
    const top = all
      .filter((i) => i < agentCount)
      .sort((a, b) => involvement[b]! - involvement[a]! || a - b)
      .slice(0, CONFUSION_CAP)
    // none and (invalid) always stay.
    const keep = new Set([...top, ...all.slice(agentCount)])
    few = all.filter((i) => keep.has(i))
    limited = true
    const fewNote = `Showing the ${CONFUSION_CAP} agents with the most confusion, of ${agentCount}.`
    toggle.hidden = false
    toggle.addEventListener('click', () => {
      limited = !limited
      draw(limited ? few : all)
      toggle.textContent = limited ? `Show all ${n} labels` : `Show the ${CONFUSION_CAP} most confused agents`
      note.textContent = limited ? fewNote : ''
    })
    note.textContent = fewNote
  }

  // The cases by cell, built on the first selection.
  let index: Map<string, PageCase[]> | null = null
  const casesOf = (r: number, c: number): PageCase[] => {
    if (!index) {
      index = new Map()
      for (const x of data.cases) {
        if (!x.k) continue
        const key = `${x.k[0]},${x.k[1]}`
        const list = index.get(key)
        if (list) list.push(x)
        else index.set(key, [x])
      }
    }
    return index.get(`${r},${c}`) ?? []
  }

  const panel = byId('confusion-panel')
  const heading = el('h4')
  const listBox = el('div')
  let list: Pager<PageCase> | null = null
  const draw = (idx: readonly number[]) => {
    const at = (k: number) => idx[k]!
    heatmap(box, {
      label: 'Confusion matrix: rows are credited labels, columns are decisions',
      // none (and (invalid)) come after the agents: they stay in view at the right edge, as none holds most misses.
      pinEnd: idx.filter((i) => i >= agentCount).length,
      corner: 'credited ↓ / decided →',
      rows: idx.map((i) => labels[i]!),
      cols: idx.map((i) => labels[i]!),
      cell: (r, c) => {
        const i = at(r)
        const j = at(c)
        const v = count(i, j)
        const share = rowSum[i] ? v / rowSum[i]! : 0
        const alpha = v === 0 ? 0 : 0.12 + 0.88 * share
        return {
          text: v ? String(v) : '',
          cls: (i === j ? 'hit' : 'miss') + (alpha > 0.55 ? ' strong' : ''),
          alpha,
          label: `${labels[i]} → ${labels[j]}: ${plural(v)}${v ? ` (${Math.round(share * 100)}% of the row)` : ''}`,
        }
      },
      select: (r, c) => {
        const i = at(r)
        const j = at(c)
        const found = casesOf(i, j)
        panel?.replaceChildren(heading, listBox)
        heading.textContent = `${plural(found.length)} credited to ${labels[i]}, decided ${labels[j]}${i === j ? ' (right)' : ''}`
        list ??= pager(listBox, { columns: ['case', 'prompt', 'expected', 'decision'], noun: 'cases', empty: 'No case in this cell.', caption: 'cases of the selected cell', row: (x) => caseRow(x, false) })
        list.set(found)
      },
    })
  }
  draw(limited ? few : all)
}
