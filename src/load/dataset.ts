import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { CsvError, parse as parseCsv } from 'csv-parse/sync'
import { z } from 'zod'
import { sha256 } from './catalogue.js'
import { didYouMean } from './closest-names.js'
import { errnoCode, fsFailure, InputError, throwIfProblems, type Problem } from './input-error.js'
import { BUILTIN_AGENTS } from './builtin-agents.js'
import { readCommonCsv, type CsvRecords } from './csv-fast.js'

/** The gold label meaning "no subagent: the main assistant answers itself". */
export const NONE = 'none'

/**
 * The tag of rows taken from the descriptions' own `<example>` blocks
 * (src/draft/examples.ts writes them): the router reads those very words,
 * so such cases flatter it. The scorecard still scores them, as an upper
 * bound; the overlap leaves them out of its routing evidence.
 */
export const FROM_DESCRIPTION_TAG = 'from-description'

/** Whether a case is one of the descriptions' own <example> prompts (tagged from-description). */
export const isFromDescription = (c: { tags?: readonly string[] | undefined }): boolean => c.tags?.includes(FROM_DESCRIPTION_TAG) ?? false

/** How many of `cases` are tagged from-description. */
export function fromDescriptionCount(cases: ReadonlyArray<{ tags?: readonly string[] | undefined }>): number {
  let n = 0
  for (const c of cases) if (isFromDescription(c)) n++
  return n
}

/** A labelled prompt. `expected[0]` is the primary: the agent the labeller liked best. */
export const caseSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  expected: z.array(z.string()).min(1),
  tags: z.array(z.string()),
  note: z.string().optional(),
  /** 1-based line where the case starts in its file */
  line: z.number().int().positive(),
})
export type Case = z.infer<typeof caseSchema>

export type Dataset = {
  path: string
  /** sha256 over the cases' ids, prompts and gold sets, in id order: notes, tags and row order do not change it */
  fingerprint: string
  cases: Case[]
}

const REQUIRED_COLUMNS = ['id', 'prompt', 'expected'] as const

/** A row before validation: CSV gives strings, JSONL may give arrays. */
const rawRowSchema = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  prompt: z.string(),
  expected: z.union([z.string(), z.array(z.string())]),
  tags: z.union([z.string(), z.array(z.string())]).optional(),
  note: z.string().nullish(),
})
type RawRow = z.input<typeof rawRowSchema>
type Place = { line: number; column?: (key: string) => number | undefined }

export async function loadDataset(file: string, agentNames: readonly string[]): Promise<Dataset> {
  let bytes: Buffer
  try {
    // A folder, a pipe or a device is no dataset (and a pipe would never end).
    const st = await stat(file)
    if (!st.isFile()) {
      throw new InputError([{ file, message: `the dataset path is ${st.isDirectory() ? 'a folder' : 'neither a file nor a folder'}, not a dataset file`, fix: 'pass --dataset with a .csv or .jsonl file (once per file, for several)' }])
    }
    bytes = await readFile(file)
  } catch (e) {
    if (e instanceof InputError) throw e
    const code = errnoCode(e)
    const message = code === 'ENOENT' || code === 'ENOTDIR' ? 'the dataset file does not exist' : `the dataset file cannot be read (${fsFailure(e)})`
    throw new InputError([{ file, message, fix: 'check the path given to --dataset or in routecheck.config.json' }])
  }
  return parseDataset(file, bytes, agentNames)
}

export function parseDataset(file: string, bytes: Buffer, agentNames: readonly string[]): Dataset {
  const ext = path.extname(file).toLowerCase()
  let rows: Iterable<{ raw: unknown; place: Place }>
  if (ext === '.csv') rows = readCsvRows(file, bytes)
  else if (ext === '.jsonl' || ext === '.ndjson') rows = readJsonlRows(file, bytes.toString('utf8'))
  else throw new InputError([{ file, message: `unknown dataset extension "${ext}"`, fix: 'use a .csv file (header row id,prompt,expected,tags,note) or a .jsonl file (one JSON object per line)' }])
  const cases = validateRows(file, rows, agentNames)
  return { path: file, fingerprint: datasetFingerprint(cases), cases }
}

export function datasetFingerprint(cases: readonly Pick<Case, 'id' | 'prompt' | 'expected'>[]): string {
  const canonical = [...cases].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((c) => [c.id, c.prompt, c.expected])
  return sha256(JSON.stringify(canonical))
}

function readCsvRows(file: string, bytes: Buffer): Iterable<{ raw: unknown; place: Place }> {
  const { records, lines } = readCommonCsv(bytes) ?? readAnyCsv(file, bytes)
  // Header names are trimmed: "id, prompt, expected" names the columns id, prompt and expected.
  const header = (records[0] ?? []).map((h) => h.trim())
  // A column named twice: a row object would keep the last one's value without a word.
  const twice = header.flatMap((name, i) => (name !== '' && header.indexOf(name) !== i ? [[header.indexOf(name) + 1, i + 1, name] as const] : []))
  if (twice.length > 0) {
    throw new InputError(
      twice.map(([first, again, name]) => ({ file, line: 1, message: `the header row names the column "${name}" twice: columns ${first} and ${again}`, fix: `keep one "${name}" column: merge the two, or rename or delete one` })),
    )
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c))
  if (missing.length > 0) {
    throw new InputError([{ file, line: 1, message: `missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} in the header row (found: ${header.join(', ')})`, fix: 'the first row must name the columns: id,prompt,expected (and optionally tags,note)' }])
  }
  const column = (key: string) => {
    const i = header.indexOf(key)
    return i === -1 ? undefined : i + 1
  }
  return rowObjects(records, lines, header, column)
}

/** Each record after the header as a row object, made as it is validated: 100,000 of them held at once were copied by every young-generation collection until they died. */
function* rowObjects(records: readonly string[][], lines: readonly number[], header: readonly string[], column: Place['column']): Generator<{ raw: unknown; place: Place }> {
  for (let k = 1; k < records.length; k++) {
    const fields = records[k]!
    const raw: Record<string, string> = {}
    for (let i = 0; i < header.length; i++) if (header[i] !== '') raw[header[i]!] = fields[i]!
    yield { raw, place: { line: lines[k]!, column } }
  }
}

/** Any CSV csv-parse reads, with each record's start line; a fault is one problem naming its line. */
function readAnyCsv(file: string, bytes: Buffer): CsvRecords {
  const lineStarts = lineStartOffsets(bytes)
  const lineAt = (offset: number) => lineOf(lineStarts, offset)
  let records: string[][]
  try {
    // Rows as arrays, without csv-parse's per-record `info` and `raw`: those doubled the parse (0.3 s against 0.15 s at 20,000 rows).
    records = parseCsv(bytes, { bom: true, skip_empty_lines: true }) as string[][]
  } catch (e) {
    throw new InputError([csvErrorProblem(file, e, bytes, lineAt)])
  }
  return { records, lines: recordStarts(bytes, records.length).map(lineAt) }
}

/**
 * Where each record of a CSV that csv-parse read without an error starts,
 * header first: past the end of the previous record (a line break outside
 * quotes) and any empty lines. In CSV that parsed, a double quote only opens,
 * closes or doubles inside a quoted field, so counting them says whether a
 * line break is inside one. The count is checked against the parse's; if it
 * ever differs, csv-parse's own offsets are used instead.
 */
function recordStarts(bytes: Buffer, records: number): number[] {
  const starts: number[] = []
  let quoted = false
  let atStart = true // after a record's end, before its successor's first byte
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  for (; i < bytes.length; i++) {
    const b = bytes[i]!
    if (b === 0x22) quoted = !quoted
    else if ((b === 0x0a || b === 0x0d) && !quoted) {
      atStart = true
      continue
    }
    if (atStart) {
      starts.push(i)
      atStart = false
    }
  }
  if (starts.length === records) return starts
  const withInfo = parseCsv(bytes, { bom: true, skip_empty_lines: true, info: true, raw: true }) as unknown as Array<{ raw: string; info: { bytes: number } }>
  return withInfo.map(({ raw, info }) => {
    let start = info.bytes - Buffer.byteLength(raw)
    while (bytes[start] === 0x0a || bytes[start] === 0x0d) start++
    return start
  })
}

function csvErrorProblem(file: string, e: unknown, bytes: Buffer, lineAt: (offset: number) => number): Problem {
  if (!(e instanceof CsvError)) return { file, message: `cannot read CSV: ${String(e)}` }
  const err = e as CsvError & { lines?: number; column?: string | number; bytes_records?: number }
  switch (err.code) {
    case 'CSV_QUOTE_NOT_CLOSED': {
      // csv-parse reports the end of the file; the user needs the row where the quote opened.
      let start = err.bytes_records ?? 0
      while (bytes[start] === 0x0a || bytes[start] === 0x0d) start++
      return { file, line: lineAt(start), message: 'a quoted field that starts in this row is never closed (unterminated quote)', fix: 'close the field with a double quote; write a quote inside a field as two double quotes ("")' }
    }
    case 'CSV_RECORD_INCONSISTENT_COLUMNS':
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
      return { file, line: err.lines, message: 'this row has a different number of fields than the header row', fix: 'quote fields that contain commas ("like, this"), or add the missing fields' }
    case 'INVALID_OPENING_QUOTE':
    case 'CSV_INVALID_CLOSING_QUOTE':
      return { file, line: err.lines, ...(typeof err.column === 'string' ? { field: err.column } : {}), message: 'a double quote in the middle of a field', fix: 'quote the whole field and double the inner quotes: "say ""hi"""' }
    default:
      return { file, line: err.lines, message: `cannot read CSV: ${err.message}`, fix: 'check the CSV quoting on that line' }
  }
}

function readJsonlRows(file: string, text: string): Array<{ raw: unknown; place: Place }> {
  const rows: Array<{ raw: unknown; place: Place }> = []
  const problems: Problem[] = []
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((lineText, i) => {
    if (lineText.trim() === '') return
    try {
      rows.push({ raw: JSON.parse(lineText), place: { line: i + 1 } })
    } catch (e) {
      const position = /position (\d+)/.exec(String(e))?.[1]
      problems.push({
        file,
        line: i + 1,
        ...(position !== undefined ? { column: Number(position) + 1 } : {}),
        message: `this line is not JSON (${(e as Error).message})`,
        fix: 'each line must be one JSON object, e.g. {"id": "c1", "prompt": "…", "expected": ["agent-name"]}',
      })
    }
  })
  throwIfProblems(problems)
  return rows
}

function validateRows(file: string, rows: Iterable<{ raw: unknown; place: Place }>, agentNames: readonly string[]): Case[] {
  const problems: Problem[] = []
  const known = new Set([...agentNames, ...BUILTIN_AGENTS])
  const seen = new Map<string, number>()
  const cases: Case[] = []
  const at = (place: Place, key: string) => {
    const column = place.column?.(key)
    return column === undefined ? { file, line: place.line } : { file, line: place.line, column, field: key }
  }

  let count = 0
  for (const { raw, place } of rows) {
    count++
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push({ file, line: place.line, message: 'this line is not a JSON object', fix: 'write {"id": …, "prompt": …, "expected": [...]}' })
      continue
    }
    let row = typedRow(raw as Record<string, unknown>)
    if (!row) {
      const parsed = rawRowSchema.safeParse(raw)
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const key = String(issue.path[0] ?? 'id')
          const missing = (raw as Record<string, unknown>)[key] === undefined
          problems.push({ ...at(place, key), message: missing ? `missing "${key}"` : `"${key}" has the wrong type: ${issue.message}`, fix: fixFor(key) })
        }
        continue
      }
      row = parsed.data
    }
    const id = row.id.trim()
    const expected = splitList(row.expected)
    const tags = splitList(row.tags ?? [])
    const before = problems.length
    const fail = (key: keyof RawRow, message: string, fix: string) => problems.push({ ...at(place, key), message, fix })

    const firstLine = seen.get(id)
    if (id === '') fail('id', 'empty id', fixFor('id'))
    else if (firstLine !== undefined) fail('id', `duplicate id "${id}" (first used on line ${firstLine})`, 'give every case a unique id: rename one of the two')
    else seen.set(id, place.line)
    if (isBlank(row.prompt)) fail('prompt', `empty prompt${id ? ` in case "${id}"` : ''}`, fixFor('prompt'))
    if (expected.length === 0) fail('expected', 'empty expected', fixFor('expected'))
    if (expected.includes(NONE) && expected.length > 1) {
      fail('expected', `"${NONE}" is mixed with agent names (${expected.join('|')})`, `"${NONE}" means no subagent should be used; write it alone, or list only agents`)
    }
    for (const label of expected) {
      if (label === NONE || known.has(label)) continue
      const hint = didYouMean(label, [...agentNames, ...BUILTIN_AGENTS])
      fail('expected', `unknown agent "${label}"`, `${hint ? `${hint} ` : ''}use a name from the agents folder, one of Claude Code's own (${BUILTIN_AGENTS.join(', ')}), or "${NONE}"`)
    }
    if (problems.length > before) continue
    const gold = expected.length === 1 ? expected : [...new Set(expected)]
    cases.push(row.note ? { id, prompt: row.prompt, expected: gold, tags, note: row.note, line: place.line } : { id, prompt: row.prompt, expected: gold, tags, line: place.line })
  }
  if (count === 0) problems.push({ file, message: 'the dataset has no cases', fix: 'add rows under the header: id,prompt,expected' })
  throwIfProblems(problems)
  return cases
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')

/**
 * A row whose fields already have rawRowSchema's output types (every CSV row,
 * most JSONL lines), taken as it is: zod's parse of each row was a sixth of
 * the dataset phase. Anything else (a numeric id, a wrong type) goes through
 * the schema, which converts it or says what is wrong.
 */
function typedRow(raw: Record<string, unknown>): z.output<typeof rawRowSchema> | undefined {
  const { id, prompt, expected, tags, note } = raw
  if (typeof id !== 'string' || typeof prompt !== 'string') return undefined
  if (typeof expected !== 'string' && !isStringList(expected)) return undefined
  if (tags !== undefined && typeof tags !== 'string' && !isStringList(tags)) return undefined
  if (note !== undefined && note !== null && typeof note !== 'string') return undefined
  return { id, prompt, expected, tags, note }
}

/** Zero-width characters a prompt can hold and still say nothing: U+200B–U+200D, U+2060, U+FEFF. */
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff]/g

/** Empty once whitespace and zero-width characters are removed. */
export function isBlank(text: string): boolean {
  // A printable ASCII character first (most prompts) is neither space nor zero-width: no copy of the prompt needed.
  const first = text.charCodeAt(0)
  if (first > 0x20 && first < 0x7f) return false
  return text.replace(ZERO_WIDTH, '').trim() === ''
}

function splitList(v: string | readonly string[]): string[] {
  if (typeof v === 'string' && !v.includes('|')) {
    const one = v.trim()
    return one === '' ? [] : [one]
  }
  const items = typeof v === 'string' ? v.split('|') : v
  return items.map((s) => s.trim()).filter((s) => s.length > 0)
}

function fixFor(key: string): string {
  switch (key) {
    case 'id':
      return 'give every case a unique, non-empty id'
    case 'prompt':
      return 'write the user prompt to route, or delete the row'
    case 'expected':
      return `list the acceptable agents, best first (CSV: "a|b", JSONL: ["a", "b"]), or "${NONE}"`
    case 'tags':
      return 'tags are "|"-separated in CSV, an array of strings in JSONL'
    default:
      return 'see the dataset format in the README'
  }
}

function lineStartOffsets(bytes: Buffer): number[] {
  const starts = [0]
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts.push(i + 1)
  return starts
}

/** 1-based line containing `offset` (binary search over line starts). */
function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid]! <= offset) lo = mid
    else hi = mid - 1
  }
  return lo + 1
}

/** A case as written to a dataset file: no line number yet. */
export type DatasetRow = Omit<Case, 'line'>

/**
 * A dataset as CSV in the format `loadDataset` reads: the header row, `|`
 * between labels and tags, RFC 4180 quoting. Prompts are written exactly as
 * they are (no spreadsheet-formula escaping, which would change a prompt
 * starting with "-" such as a pasted diff), so a file read back holds the same cases.
 */
export function formatDatasetCsv(rows: readonly DatasetRow[]): string {
  return `${DATASET_COLUMNS.join(',')}\n${csvRecords(rows, DATASET_COLUMNS, '\n')}`
}

/** The columns formatDatasetCsv writes, in order. */
const DATASET_COLUMNS = ['id', 'prompt', 'expected', 'tags', 'note'] as const
type DatasetColumn = (typeof DATASET_COLUMNS)[number]

const csvField = (text: string) => (/[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text)

/** Each row as one CSV record under `header`: each value in its column, a column the format does not know left empty; each record ends with `eol`. */
function csvRecords(rows: readonly DatasetRow[], header: readonly string[], eol: string): string {
  const value = (r: DatasetRow, column: string): string => {
    switch (column as DatasetColumn) {
      case 'id':
        return r.id
      case 'prompt':
        return r.prompt
      case 'expected':
        return r.expected.join('|')
      case 'tags':
        return r.tags.join('|')
      case 'note':
        return r.note ?? ''
      default:
        return ''
    }
  }
  return rows.map((r) => `${header.map((c) => csvField(value(r, c))).join(',')}${eol}`).join('')
}

/** The same rows as JSONL, one object per line, for a dataset file ending in .jsonl. */
export function formatDatasetJsonl(rows: readonly DatasetRow[], eol = '\n'): string {
  return rows.map((r) => `${JSON.stringify({ id: r.id, prompt: r.prompt, expected: r.expected, tags: r.tags, ...(r.note !== undefined ? { note: r.note } : {}) })}${eol}`).join('')
}

/**
 * The text that adds `rows` to the end of a dataset file whose bytes are
 * `before` (valid, as parseDataset read it), in the file's own shape: its
 * line ending (\r\n or \n, as its first line ends), and for CSV its header's
 * columns in its order (a column routecheck does not know left empty), no
 * header again. A file not ending in a line break gets one first; an empty
 * file gets the whole dataset. A CSV header without the tags or note column
 * would lose what marks the rows generated and why each is labelled so: exit 2.
 */
export function datasetAppendText(file: string, before: Buffer, rows: readonly DatasetRow[]): string {
  const csv = path.extname(file).toLowerCase() === '.csv'
  if (before.length === 0) return csv ? formatDatasetCsv(rows) : formatDatasetJsonl(rows)
  const firstBreak = before.indexOf(0x0a)
  const eol = firstBreak > 0 && before[firstBreak - 1] === 0x0d ? '\r\n' : '\n'
  const last = before[before.length - 1]
  const lead = last === 0x0a || last === 0x0d ? '' : eol
  if (!csv) return lead + formatDatasetJsonl(rows, eol)
  const header = ((parseCsv(before, { bom: true, skip_empty_lines: true, to: 1 }) as string[][])[0] ?? []).map((h) => h.trim())
  const missing = (['tags', 'note'] as const).filter((c) => !header.includes(c))
  if (missing.length > 0) {
    throw new InputError([
      {
        file,
        line: 1,
        message: `the header row has no ${missing.map((c) => `"${c}"`).join(' or ')} column (found: ${header.join(', ')}), so appended rows would lose ${missing.length === 2 ? 'their generated tags and the notes saying why each is labelled so' : missing[0] === 'tags' ? 'their generated tags' : 'the notes saying why each is labelled so'}`,
        fix: `add ${missing.map((c) => `,${c}`).join('')} to the header row (a row with fewer fields then needs the empty ones, e.g. a trailing ${missing.map(() => ',').join('')}), or write the draft to a file of its own with --out and merge it after review`,
      },
    ])
  }
  return lead + csvRecords(rows, header, eol)
}
