import type { PageCase, PageData } from '../page-data.js'
import { caseRow, expectedText } from './case-rows.js'
import { byId } from './dom.js'
import { pager } from './pager.js'

/** Whether a case belongs in the list the #case-kind select names. */
function wanted(c: PageCase, kind: string): boolean {
  if (kind === 'problems') return c.ok === 0 || c.s === 1 || c.d === null
  if (kind === 'misrouted') return c.ok === 0
  if (kind === 'split') return c.s === 1 || c.f === 1
  if (kind === 'errored') return c.d === null
  return true
}

/** The misrouted and split cases: filtered by kind, agent and text, a page at a time. */
export function casesList(data: PageData): void {
  const box = byId('cases-list')
  const filter = byId<HTMLInputElement>('case-filter')
  const kind = byId<HTMLSelectElement>('case-kind')
  const agent = byId<HTMLSelectElement>('case-agent')
  if (!box || !filter || !kind || !agent) return
  const cases = data.cases
  // What the text filter searches, one string per case, built on the first search.
  let hay: string[] | null = null
  const list = pager(box, {
    columns: ['case', 'prompt', 'expected', 'decision', 'votes', 'runner-up'],
    noun: 'cases',
    empty: 'No case matches.',
    caption: 'misrouted and split cases',
    row: (c: PageCase) => caseRow(c, true),
  })
  const apply = () => {
    const q = filter.value.trim().toLowerCase()
    const k = kind.value
    const a = agent.value
    if (q && !hay) hay = cases.map((c) => [c.i, c.p, expectedText(c.e), c.d || 'error', c.r || '', (c.t || []).join(' '), c.err || ''].join('\n').toLowerCase())
    const out: PageCase[] = []
    cases.forEach((c, i) => {
      if (!wanted(c, k)) return
      if (a && c.d !== a && !c.e.includes(a)) return
      if (q && !hay?.[i]?.includes(q)) return
      out.push(c)
    })
    list.set(out)
  }
  filter.addEventListener('input', apply)
  kind.addEventListener('change', apply)
  agent.addEventListener('change', apply)
  apply()
}
