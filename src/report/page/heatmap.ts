import { closest, el } from './dom.js'

export type HeatCell = {
  text: string
  cls: string
  label: string
  /** colour strength, 0 to 1, as the --a custom property */
  alpha?: number
}

export type HeatmapOptions = {
  /** the table's accessible name */
  label: string
  corner: string
  rows: readonly string[]
  cols: readonly string[]
  headClass?: (i: number) => string | null
  headStyle?: (th: HTMLElement, i: number) => void
  cell: (r: number, c: number) => HeatCell
  select: (r: number, c: number) => void
  /** the last this many columns stay in view at the right edge while the grid scrolls sideways */
  pinEnd?: number
}

/**
 * A heatmap as a table of buttons with one tab stop: arrow keys, Home and
 * End move between cells; Enter or Space (or a click) selects one.
 */
export function heatmap(container: HTMLElement, o: HeatmapOptions): void {
  const corner = el('th', { className: 'corner', scope: 'col', text: o.corner })
  const heads = o.cols.map((label, c) => {
    const th = el('th', { scope: 'col', title: label, className: o.headClass ? o.headClass(c) : null }, [el('span', { className: 'vert', text: label })])
    o.headStyle?.(th, c)
    return th
  })
  const thead = el('thead', null, [el('tr', null, [corner, ...heads])])
  const tbody = el('tbody')
  let first: HTMLButtonElement | null = null
  for (const [r, label] of o.rows.entries()) {
    const th = el('th', { scope: 'row', title: label, text: label, className: o.headClass ? o.headClass(r) : null })
    o.headStyle?.(th, r)
    const tr = el('tr', null, [th])
    for (let c = 0; c < o.cols.length; c++) {
      const spec = o.cell(r, c)
      const b = el('button', { type: 'button', className: `cell ${spec.cls}`, tabindex: '-1', 'data-r': r, 'data-c': c, 'aria-label': spec.label, 'aria-pressed': 'false', title: spec.label, text: spec.text })
      if (spec.alpha !== undefined) b.style.setProperty('--a', String(spec.alpha))
      if (!first) first = b
      tr.appendChild(el('td', null, [b]))
    }
    tbody.appendChild(tr)
  }
  const table = el('table', { className: 'heat', 'aria-label': o.label }, [thead, tbody])
  container.replaceChildren(el('div', { className: 'heat-wrap' }, [table]))
  if (first) first.tabIndex = 0
  pinLastColumns(table, o.cols.length, o.pinEnd ?? 0)

  let selected: HTMLButtonElement | null = null
  const position = (b: HTMLButtonElement) => [Number(b.getAttribute('data-r')), Number(b.getAttribute('data-c'))] as const
  const moveTo = (b: HTMLButtonElement | null) => {
    if (!b) return
    table.querySelectorAll<HTMLButtonElement>('button.cell[tabindex="0"]').forEach((x) => (x.tabIndex = -1))
    b.tabIndex = 0
    b.focus()
  }
  table.addEventListener('click', (ev) => {
    const b = closest<HTMLButtonElement>(ev.target, 'button.cell')
    if (!b) return
    selected?.setAttribute('aria-pressed', 'false')
    selected = b
    b.setAttribute('aria-pressed', 'true')
    moveTo(b)
    o.select(...position(b))
  })
  table.addEventListener('keydown', (ev) => {
    const b = closest<HTMLButtonElement>(ev.target, 'button.cell')
    if (!b) return
    const [r, c] = position(b)
    let nr = r
    let nc = c
    if (ev.key === 'ArrowRight') nc = Math.min(o.cols.length - 1, c + 1)
    else if (ev.key === 'ArrowLeft') nc = Math.max(0, c - 1)
    else if (ev.key === 'ArrowDown') nr = Math.min(o.rows.length - 1, r + 1)
    else if (ev.key === 'ArrowUp') nr = Math.max(0, r - 1)
    else if (ev.key === 'Home') nc = 0
    else if (ev.key === 'End') nc = o.cols.length - 1
    else return
    ev.preventDefault()
    moveTo(table.querySelector<HTMLButtonElement>(`button.cell[data-r="${nr}"][data-c="${nc}"]`))
  })
}

/**
 * Sticks the last `count` columns (head and cells) to the right edge of the
 * scroll box, each `right` offset the widths of the pinned columns after it,
 * measured once the table is laid out.
 */
function pinLastColumns(table: HTMLTableElement, cols: number, count: number): void {
  const n = Math.min(count, cols)
  if (n <= 0) return
  const heads = Array.from(table.tHead?.rows[0]?.cells ?? [])
  // Cell 0 of each row is its heading; column c is cell c + 1.
  const columnCells = (c: number): HTMLTableCellElement[] => [heads[c + 1]!, ...Array.from(table.tBodies[0]?.rows ?? []).map((row) => row.cells[c + 1]!)].filter(Boolean)
  let right = 0
  for (let c = cols - 1; c >= cols - n; c--) {
    const cells = columnCells(c)
    for (const cell of cells) {
      cell.classList.add('pin')
      if (c === cols - n) cell.classList.add('pin-edge')
      cell.style.right = `${right}px`
    }
    right += heads[c + 1]?.getBoundingClientRect().width ?? 0
  }
}
