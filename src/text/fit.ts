import Table from 'cli-table3'

/**
 * Text that fits a terminal: widths measured as the terminal draws them
 * (colour codes take no room, CJK and emoji take two), prose wrapped, cells
 * cut with "…", and tables that give way column by column instead of
 * wrapping their rows.
 */

// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g
const RESET = '\u001b[0m'

/** Columns a code point takes on a terminal: 0 for combining marks and zero-width characters, 2 for wide (East Asian, emoji), else 1. */
function codePointWidth(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0x2060 || cp === 0xfeff) return 0
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2
  }
  return 1
}

/** Columns the text takes on a terminal, colour codes aside. */
export function visibleWidth(text: string): number {
  let w = 0
  for (const ch of text.replace(SGR, '')) w += codePointWidth(ch.codePointAt(0)!)
  return w
}

/** One line of untrusted text for a table cell: line breaks and tabs become spaces. */
export const oneLine = (text: string): string => text.replace(/[\t\r\n]+/g, ' ')

/** The text cut to `width` columns, ending in "…" when anything was cut; colour codes are kept and closed. */
export function truncate(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text
  if (width <= 0) return ''
  let out = ''
  let used = 0
  let coloured = false
  let last = 0
  const room = width - 1
  outer: for (const m of [...text.matchAll(SGR), null]) {
    const plain = text.slice(last, m ? m.index : text.length)
    for (const ch of plain) {
      const w = codePointWidth(ch.codePointAt(0)!)
      if (used + w > room) break outer
      out += ch
      used += w
    }
    if (!m) break
    out += m[0]
    coloured = true
    last = m.index + m[0].length
  }
  return `${out}…${coloured ? RESET : ''}`
}

/** The text cut from the left to `width` columns, starting with "…": for paths, whose end says most. */
export function truncateStart(text: string, width: number): string {
  if (visibleWidth(text) <= width) return text
  if (width <= 0) return ''
  const chars = [...text.replace(SGR, '')]
  let used = 0
  let start = chars.length
  while (start > 0 && used + codePointWidth(chars[start - 1]!.codePointAt(0)!) <= width - 1) used += codePointWidth(chars[--start]!.codePointAt(0)!)
  return `…${chars.slice(start).join('')}`
}

/**
 * A list cut to `width` keeping whole items: as many as fit, then ", …"
 * when some are left out; the first item is cut only when it alone is too wide.
 */
export function truncateList(items: readonly string[], width: number, separator = ', '): string {
  const whole = items.join(separator)
  if (visibleWidth(whole) <= width) return whole
  const more = `${separator}…`
  let out = ''
  for (const item of items) {
    const next = out === '' ? item : `${out}${separator}${item}`
    if (visibleWidth(next) + visibleWidth(more) > width) break
    out = next
  }
  return out === '' ? truncate(items[0] ?? '', width) : `${out}${more}`
}

/**
 * Word-wraps one paragraph to `width` columns: `first` starts the first
 * line, `rest` the others. A word wider than a line is split.
 */
export function wrap(text: string, width: number, first = '', rest = first): string[] {
  return joinFit(text.split(/\s+/).filter(Boolean), ' ', width, first, rest)
}

/**
 * Puts `parts` on lines of at most `width` columns, `separator` between
 * parts on a line; a line breaks between parts, and inside a part only when
 * the part is wider than a line (between its words, else anywhere).
 */
export function joinFit(parts: readonly string[], separator: string, width: number, first = '', rest = first): string[] {
  // Tokens: the parts, with those too wide for any line taken word by word.
  const tokens: Array<{ text: string; sep: string }> = []
  const room = width - Math.max(visibleWidth(first), visibleWidth(rest))
  for (const part of parts) {
    if (visibleWidth(part) <= room || !/\s/.test(part.replace(SGR, ''))) tokens.push({ text: part, sep: separator })
    else part.split(/ +/).forEach((word, i) => tokens.push({ text: word, sep: i === 0 ? separator : ' ' }))
  }
  const lines: string[] = []
  let line = first
  let empty = true
  for (const { text, sep } of tokens) {
    if (!empty && visibleWidth(line) + visibleWidth(sep) + visibleWidth(text) > width) {
      lines.push(line)
      line = rest
      empty = true
    }
    let piece = text
    // A word that cannot fit on a line of its own goes in slices.
    while (empty && visibleWidth(line) + visibleWidth(piece) > width && width - visibleWidth(line) > 0) {
      const free = width - visibleWidth(line)
      const chars = [...piece.replace(SGR, '')]
      let take = 0
      let used = 0
      while (take < chars.length && used + codePointWidth(chars[take]!.codePointAt(0)!) <= free) used += codePointWidth(chars[take++]!.codePointAt(0)!)
      if (take === 0) break
      lines.push(line + chars.slice(0, take).join(''))
      line = rest
      piece = chars.slice(take).join('')
    }
    line = empty ? line + piece : `${line}${sep}${piece}`
    empty = false
  }
  lines.push(line)
  // An empty part (a wider gap) may end a line: no trailing blanks.
  return lines.map((l) => l.replace(/ +$/, ''))
}

// ---------------------------------------------------------------- tables

export type FitColumn = {
  head: string
  /** the heading when the column is cut narrower than `head` */
  shortHead?: string
  align?: 'left' | 'right'
  /** one per row; may hold colour codes */
  cells: readonly string[]
  /** cut cells to no fewer than this many columns; unset: never cut (agent names) */
  min?: number
  /** how a cell is cut to a width (default: its end, with …) */
  cut?: (cell: string, width: number, row: number) => string
}

/** One way to draw a table; `leftOut` says what it leaves out that a richer layout shows. */
export type FitLayout = { columns: readonly FitColumn[]; leftOut?: readonly string[] }

/** `layout`: the index of the layout drawn */
export type FittedTable = { text: string; width: number; leftOut: readonly string[]; layout: number }

/** cli-table3's compact style: one border character around and between the columns, one space of padding each side. */
const overhead = (columns: number) => columns + 1 + 2 * columns

/**
 * The first of `layouts` (richest first) that fits `width` columns with its
 * cut columns at their minimum, drawn with cli-table3; the cut columns then
 * share the room left, widest first. When none fits, the last one, as
 * narrow as it goes.
 */
export function fitTable(layouts: readonly FitLayout[], width: number, style: { color: boolean }): FittedTable {
  let index = layouts.findIndex((layout) => layout.columns.map(floorOf).reduce((a, b) => a + b, 0) + overhead(layout.columns.length) <= width)
  if (index < 0) index = layouts.length - 1
  const chosen = layouts[index]!
  const cols = chosen.columns
  const widths = cols.map((c) => naturalOf(c))
  const floors = cols.map((c) => floorOf(c))
  let excess = widths.reduce((a, b) => a + b, 0) + overhead(cols.length) - width
  while (excess > 0) {
    let widest = -1
    for (let i = 0; i < cols.length; i++) if (widths[i]! > floors[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i
    if (widest < 0) break
    widths[widest]!--
    excess--
  }
  const table = new Table({
    head: cols.map((c, i) => (visibleWidth(c.head) <= widths[i]! ? c.head : truncate(c.shortHead ?? c.head, widths[i]!))),
    colAligns: cols.map((c) => c.align ?? 'left'),
    colWidths: widths.map((w) => w + 2),
    wordWrap: false,
    style: { head: style.color ? ['cyan'] : [], border: style.color ? ['grey'] : [], compact: true },
  })
  const rows = Math.max(0, ...cols.map((c) => c.cells.length))
  for (let r = 0; r < rows; r++) {
    table.push(
      cols.map((c, i) => {
        const cell = c.cells[r] ?? ''
        return visibleWidth(cell) <= widths[i]! ? cell : (c.cut ?? truncate)(cell, widths[i]!, r)
      }),
    )
  }
  return { text: table.toString(), width: widths.reduce((a, b) => a + b, 0) + overhead(cols.length), leftOut: chosen.leftOut ?? [], layout: index }
}

function naturalOf(c: FitColumn): number {
  return Math.max(visibleWidth(c.head), ...c.cells.map(visibleWidth))
}

function floorOf(c: FitColumn): number {
  const natural = naturalOf(c)
  if (c.min === undefined) return natural
  const head = Math.min(visibleWidth(c.head), visibleWidth(c.shortHead ?? c.head))
  return Math.min(natural, Math.max(c.min, head))
}
