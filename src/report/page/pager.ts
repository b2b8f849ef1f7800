import { el } from './dom.js'

/** Rows per page: the page stays quick with 10,000 cases. */
const PAGE = 100

export type PagerOptions<T> = {
  columns: readonly string[]
  /** plural; the singular drops a final s */
  noun: string
  empty: string
  caption?: string
  row: (item: T) => HTMLTableRowElement
}

export type Pager<T> = { set(items: readonly T[]): void }

/** A table that shows PAGE rows at a time, with previous/next buttons. */
export function pager<T>(container: HTMLElement, opts: PagerOptions<T>): Pager<T> {
  const info = el('p', { className: 'pager-info', 'aria-live': 'polite' })
  const prev = el('button', { type: 'button', text: '← Previous' })
  const next = el('button', { type: 'button', text: 'Next →' })
  const nav = el('div', { className: 'pager' }, [prev, next, info])
  const tbody = el('tbody')
  const head = el('tr', null, opts.columns.map((c) => el('th', { scope: 'col', text: c })))
  const table = el('table', { className: 'data' }, [opts.caption ? el('caption', { className: 'sr-only', text: opts.caption }) : null, el('thead', null, [head]), tbody])
  container.replaceChildren(nav, el('div', { className: 'table-wrap' }, [table]))
  let items: readonly T[] = []
  let page = 0
  const draw = () => {
    const pages = Math.max(1, Math.ceil(items.length / PAGE))
    if (page > pages - 1) page = pages - 1
    const start = page * PAGE
    const slice = items.slice(start, start + PAGE)
    if (slice.length === 0) tbody.replaceChildren(el('tr', null, [el('td', { colspan: opts.columns.length, className: 'empty', text: opts.empty })]))
    else tbody.replaceChildren(...slice.map(opts.row))
    const n = items.length
    info.textContent =
      n === 0 ? '' : pages === 1 ? `${n} ${n === 1 ? opts.noun.replace(/s$/, '') : opts.noun}` : `${start + 1}–${start + slice.length} of ${n} ${opts.noun} · page ${page + 1} of ${pages}`
    prev.disabled = page === 0
    next.disabled = page >= pages - 1
    prev.hidden = next.hidden = pages <= 1
  }
  prev.addEventListener('click', () => {
    page--
    draw()
  })
  next.addEventListener('click', () => {
    page++
    draw()
  })
  return {
    set(list) {
      items = list
      page = 0
      draw()
    },
  }
}
