/**
 * The common CSV, read in one pass over its bytes: "\n" line ends, no
 * "\r" anywhere, RFC 4180 quoting, every record as wide as the first. That is
 * what spreadsheets and scripts write, and csv-parse took 140 ms of a
 * 20,000-prompt run's dataset phase reading it (this: about 20 ms; `npm run
 * bench -- e2e:lexical`). Anything else (a "\r", a quote inside an unquoted
 * field, text after a closing quote, an unclosed quote, a record of another
 * width) returns undefined, and the caller reads the file with csv-parse
 * instead, which gives the same records for the rest and the one error
 * message for each fault. test/csv-fast.test.ts checks the two agree.
 */

/** Records (header first) and the 1-based line each one starts on. */
export type CsvRecords = { records: string[][]; lines: number[] }

const QUOTE = 34 // "
const COMMA = 44 // ,
const NEWLINE = 10 // \n
const CARRIAGE_RETURN = 13 // \r

/**
 * The records of `bytes` as csv-parse reads them with `{ bom: true,
 * skip_empty_lines: true }`, or undefined when they are not the common CSV.
 * Fields are decoded from the bytes one by one, as csv-parse does: a slice
 * of the whole decoded text would keep it all alive, and as two-byte text
 * wherever one prompt holds a character past U+00FF.
 */
export function readCommonCsv(bytes: Buffer): CsvRecords | undefined {
  if (bytes.includes(CARRIAGE_RETURN)) return undefined
  const records: string[][] = []
  const lines: number[] = []
  const end = bytes.length
  let at = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  let line = 1
  let width = -1
  while (at < end) {
    // Empty lines between records are skipped, as skip_empty_lines does.
    if (bytes[at] === NEWLINE) {
      at++
      line++
      continue
    }
    const startLine = line
    const fields: string[] = []
    for (;;) {
      let value: string
      if (bytes[at] === QUOTE) {
        // A quoted field: up to the quote not doubled; "" inside is one quote.
        let from = at + 1
        value = ''
        for (;;) {
          const q = bytes.indexOf(QUOTE, from)
          if (q === -1) return undefined
          for (let nl = bytes.indexOf(NEWLINE, from); nl !== -1 && nl < q; nl = bytes.indexOf(NEWLINE, nl + 1)) line++
          if (bytes[q + 1] === QUOTE) {
            value += bytes.toString('utf8', from, q + 1)
            from = q + 2
            continue
          }
          value += bytes.toString('utf8', from, q)
          at = q + 1
          break
        }
        if (at < end && bytes[at] !== COMMA && bytes[at] !== NEWLINE) return undefined
      } else {
        // An unquoted field: up to the next comma or line end, with no quote in it.
        let stop = at
        for (; stop < end; stop++) {
          const c = bytes[stop]
          if (c === COMMA || c === NEWLINE) break
          if (c === QUOTE) return undefined
        }
        value = bytes.toString('utf8', at, stop)
        at = stop
      }
      fields.push(value)
      if (at < end && bytes[at] === COMMA) {
        at++
        continue
      }
      // The record ends at a line end or the end of the bytes.
      if (at < end) {
        at++
        line++
      }
      break
    }
    if (width === -1) width = fields.length
    else if (fields.length !== width) return undefined
    records.push(fields)
    lines.push(startLine)
  }
  return { records, lines }
}
