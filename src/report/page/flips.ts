import type { PageCase, PageData, PageFlip } from '../page-data.js'
import { expectedText, promptCell } from './case-rows.js'
import { el } from './dom.js'
import { pager } from './pager.js'

/** The gate's flipped cases, one list per compared dataset (the elements marked data-flips). */
export function flipLists(data: PageData, caseById: ReadonlyMap<string, PageCase>): void {
  document.querySelectorAll<HTMLElement>('[data-flips]').forEach((box) => {
    const flips = data.flips?.[box.getAttribute('data-flips') ?? ''] ?? []
    pager(box, {
      columns: ['case', 'prompt', 'expected', 'before', 'after', 'change'],
      noun: 'flipped cases',
      empty: 'No case flipped.',
      caption: 'flipped cases',
      row: (f: PageFlip) => {
        const broke = f.dir === 'broke'
        const change = el('td', null, [el('span', { className: `badge ${f.dir}`, text: broke ? 'right → wrong' : 'wrong → right' })])
        if (f.ut) change.appendChild(el('span', { className: 'badge flaky', text: 'not re-tested' }))
        else if (f.fl) change.appendChild(el('span', { className: 'badge flaky', text: 'flaky' }))
        else if (!f.st) change.appendChild(el('span', { className: 'badge flaky', text: 'unstable' }))
        return el('tr', null, [
          el('td', { className: 'mono nowrap', text: f.i }),
          promptCell(caseById.get(f.i)?.p ?? ''),
          el('td', { className: 'labels', text: expectedText(f.e) }),
          el('td', { className: `labels ${broke ? 'right' : 'wrong'}`, text: f.b ?? '–' }),
          el('td', { className: `labels ${broke ? 'wrong' : 'right'}`, text: f.a ?? '–' }),
          change,
        ])
      },
    }).set(flips)
  })
}
