import type { PageCase, PageData, PagePair } from '../page-data.js'
import { caseRow } from './case-rows.js'
import { byId, el } from './dom.js'
import { heatmap } from './heatmap.js'
import { pager } from './pager.js'

/** The overlap heatmap: each pair's score; selecting a cell shows the pair's evidence and the cases routed across it. */
export function similarityMatrix(data: PageData, caseById: ReadonlyMap<string, PageCase>): void {
  const box = byId('similarity-grid')
  const sim = data.similarity
  if (!box || !sim || sim.names.length < 2) return
  const { names, cluster } = sim
  const pairs = new Map<string, PagePair>()
  for (const p of sim.pairs) {
    pairs.set(`${p.a},${p.b}`, p)
    pairs.set(`${p.b},${p.a}`, p)
  }
  const pairOf = (r: number, c: number) => pairs.get(`${r},${c}`)
  const inCluster = (i: number) => (cluster[i] ?? -1) >= 0
  // Colour is relative to the strongest pair, but 0.5 or more is always full.
  const top = Math.max(0.5, sim.pairs.reduce((a, p) => Math.max(a, p.score), 0))
  const panel = byId('similarity-panel')
  heatmap(box, {
    label: 'Overlap score of each pair of agents',
    corner: 'overlap score',
    rows: names,
    cols: names,
    headClass: (i) => (inCluster(i) ? 'cl' : null),
    headStyle: (th, i) => {
      if (inCluster(i)) th.style.setProperty('--clc', `var(--c${cluster[i]! % 6})`)
    },
    cell: (r, c) => {
      if (r === c) return { text: '', cls: 'self', label: names[r]! }
      const p = pairOf(r, c)
      const same = inCluster(r) && cluster[r] === cluster[c]
      if (!p) return { text: '', cls: `sim${same ? ' in-cluster' : ''}`, alpha: 0, label: `${names[r]} ↔ ${names[c]}: not a candidate pair (little shared text)` }
      const alpha = Math.min(1, p.score / top)
      return {
        text: Math.round(p.score * 100) === 0 ? '' : p.score.toFixed(2).replace(/^0/, ''),
        cls: 'sim' + (alpha > 0.55 ? ' strong' : '') + (same ? ' in-cluster' : ''),
        alpha,
        label: `${names[r]} ↔ ${names[c]}: score ${p.score.toFixed(2)}, text ${p.text.toFixed(2)}${p.nearDuplicate ? ', near-duplicate' : ''}`,
      }
    },
    select: (r, c) => {
      if (!panel) return
      panel.replaceChildren()
      if (r === c) {
        panel.appendChild(el('p', { text: `${names[r]}: pick a cell off the diagonal to see what two agents share.` }))
        return
      }
      const p = pairOf(r, c)
      const title = el('h4', { text: `${names[r]} ↔ ${names[c]}` })
      if (!p) {
        panel.replaceChildren(title, el('p', { text: 'Not a candidate pair: their descriptions share too little text to score.' }))
        return
      }
      const dl = el('dl', { className: 'kv' })
      const kv = (k: string, v: string | null) => {
        if (v === null) return
        dl.appendChild(el('dt', { text: k }))
        dl.appendChild(el('dd', { text: v }))
      }
      kv('score', p.score.toFixed(2) + (p.nearDuplicate ? ' (near-duplicate)' : ''))
      kv('text', p.text.toFixed(2))
      kv('confusion', p.confusion === undefined ? null : p.confusion.toFixed(2))
      kv('co-acceptance', p.coAcceptance === undefined ? null : p.coAcceptance.toFixed(2))
      const kids: Node[] = [title, dl]
      if (p.sharedTerms.length) kids.push(el('p', null, ['shared terms: ', ...p.sharedTerms.map((t) => el('span', { className: 'chip', text: t }))]))
      const across = p.routedAcross.map((id) => caseById.get(id)).filter((x): x is PageCase => x !== undefined)
      panel.replaceChildren(...kids)
      if (across.length) {
        panel.appendChild(el('h4', { text: `Routed across the pair (${across.length})` }))
        const list = el('div')
        panel.appendChild(list)
        pager(list, { columns: ['case', 'prompt', 'expected', 'decision'], noun: 'cases', empty: '', row: (x: PageCase) => caseRow(x, false) }).set(across)
      }
    },
  })
}
