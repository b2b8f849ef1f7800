/**
 * Tables marked `sortable` (the per-agent table): a header's button sorts by
 * its column, on the cells' data-v values; numbers start descending, text
 * ascending, and a second press reverses. Ties go by the first column. A
 * cell with an empty data-v has no value (a 0/0 precision, recall or F1):
 * it sorts last whichever way, never as a 0.
 */
export function sortableTables(): void {
  document.querySelectorAll<HTMLTableElement>('table.sortable').forEach((table) => {
    const body = table.tBodies[0]
    const heads = Array.from(table.tHead?.rows[0]?.cells ?? [])
    if (!body) return
    heads.forEach((th, col) => {
      const b = th.querySelector('button.sort')
      if (!b) return
      b.addEventListener('click', () => {
        const numeric = b.getAttribute('data-type') === 'num'
        const current = th.getAttribute('aria-sort')
        const dir = current === 'descending' ? 'ascending' : current === 'ascending' ? 'descending' : numeric ? 'descending' : 'ascending'
        for (const h of heads) if (h.hasAttribute('aria-sort')) h.setAttribute('aria-sort', 'none')
        th.setAttribute('aria-sort', dir)
        const sign = dir === 'ascending' ? 1 : -1
        const value = (row: HTMLTableRowElement) => row.cells[col]?.getAttribute('data-v') ?? ''
        const name = (row: HTMLTableRowElement) => row.cells[0]?.textContent ?? ''
        const rows = Array.from(body.rows).sort((x, y) => {
          const a = value(x)
          const z = value(y)
          if (numeric && (a === '') !== (z === '')) return a === '' ? 1 : -1
          const d = numeric ? (a === '' ? 0 : Number(a) - Number(z)) : a < z ? -1 : a > z ? 1 : 0
          return d * sign || (name(x) < name(y) ? -1 : 1)
        })
        body.replaceChildren(...rows)
      })
    })
  })
}
