import { parse as parseCsv } from 'csv-parse/sync'
import { describe, expect, it } from 'vitest'
import { readCommonCsv } from '../src/load/csv-fast.js'
import { parseDataset } from '../src/load/dataset.js'
import { seededRandom } from '../src/score/stats.js'

/** csv-parse's records for the options the dataset loader uses, or its error code. */
function csvParse(bytes: Buffer): string[][] | string {
  try {
    return parseCsv(bytes, { bom: true, skip_empty_lines: true }) as string[][]
  } catch (e) {
    return (e as { code?: string }).code ?? 'error'
  }
}

/** The 1-based line each record starts on, found independently: count the line breaks before the record's first byte. */
function startLines(text: string, records: readonly string[][]): number[] {
  // A line break counts as a record's end only outside quotes; a record starts at the first character after one (and after any empty lines).
  const lines: number[] = []
  let line = 1
  let quoted = false
  let atStart = true
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') quoted = !quoted
    else if (c === '\n' && !quoted) {
      line++
      atStart = true
      continue
    }
    if (atStart) {
      lines.push(line)
      atStart = false
    }
    if (c === '\n') line++
  }
  expect(lines).toHaveLength(records.length)
  return lines
}

describe('the common-CSV reader', () => {
  it('reads what csv-parse reads, or leaves the file to it, on 20,000 random texts built from CSV’s special characters', () => {
    const random = seededRandom(7)
    const pieces = ['a', 'bc', ' ', ',', ',', '"', '""', '"x"', '\n', '\n', '\n\n', '\r', '\r\n', 'é', '—', '\u2028', '"a,b"', '"l1\nl2"', '\ufeff']
    let fast = 0
    let faults = 0
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!
    const soup = (from = pieces) => Array.from({ length: 1 + Math.floor(random() * 24) }, () => pick(from)).join('')
    const noReturn = pieces.filter((p) => !p.includes('\r'))
    // Well-formed rows of one width (plain and quoted fields, empty lines), with a stray piece put in one time in five.
    const rows = () => {
      const width = 1 + Math.floor(random() * 4)
      const field = () => (random() < 0.4 ? `"${soup(noReturn).replace(/"/g, '""')}"` : pick(['', 'a', 'bc d', 'é—ü', '0']))
      let text = Array.from({ length: 1 + Math.floor(random() * 5) }, () => Array.from({ length: width }, field).join(',') + pick(['\n', '\n', '\n\n', ''])).join('\n')
      if (random() < 0.2) {
        const at = Math.floor(random() * (text.length + 1))
        text = text.slice(0, at) + pick(pieces) + text.slice(at)
      }
      return text
    }
    for (let k = 0; k < 20_000; k++) {
      const body = k % 2 === 0 ? soup() : rows()
      const text = (random() < 0.1 ? '\ufeff' : '') + body
      const bytes = Buffer.from(text)
      const ours = readCommonCsv(bytes)
      const theirs = csvParse(bytes)
      if (ours === undefined) {
        // Left to csv-parse: only for a "\r", or a text csv-parse refuses or reads differently than the common CSV.
        if (typeof theirs === 'string') faults++
        continue
      }
      fast++
      expect(theirs, JSON.stringify(text)).toEqual(ours.records)
      expect(ours.lines, JSON.stringify(text)).toEqual(startLines(text, ours.records))
    }
    // Both kinds were tried many times.
    expect(fast).toBeGreaterThan(3000)
    expect(faults).toBeGreaterThan(3000)
  })

  it('reads a well-formed file without csv-parse, and a file with any fault gives csv-parse’s own message', () => {
    const good = 'id,prompt,expected\n\nc1,"one\n""two""",golang-pro\nc2,"a,b",none\n'
    expect(readCommonCsv(Buffer.from(good))).toEqual({
      records: [
        ['id', 'prompt', 'expected'],
        ['c1', 'one\n"two"', 'golang-pro'],
        ['c2', 'a,b', 'none'],
      ],
      lines: [1, 3, 5],
    })
    const faults = ['id,prompt,expected\nc1,"never closed,none\n', 'id,prompt,expected\nc1,say "hi",none\n', 'id,prompt,expected\nc1,"hi" there,none\n', 'id,prompt,expected\nc1,why\n', 'id,prompt,expected\r\nc1,why,none\r\n']
    for (const text of faults) expect(readCommonCsv(Buffer.from(text)), text).toBeUndefined()
    expect(() => parseDataset('x.csv', Buffer.from(faults[0]!), ['golang-pro'])).toThrow(/x\.csv:2: a quoted field that starts in this row is never closed/)
    expect(() => parseDataset('x.csv', Buffer.from(faults[3]!), ['golang-pro'])).toThrow(/x\.csv:2: this row has a different number of fields than the header row/)
  })

  it('decodes multi-byte characters in fields, and tells apart fields split by a comma inside one', () => {
    const ds = parseDataset('x.csv', Buffer.from('id,prompt,expected\nc1,plain words,none\nc2,“quoted” — dashes…,none\nc3,"é, then ü",none\n'), [])
    expect(ds.cases.map((c) => c.prompt)).toEqual(['plain words', '“quoted” — dashes…', 'é, then ü'])
  })
})
