import { access } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseDataset } from '../src/load/dataset.js'
import { InputError } from '../src/load/input-error.js'
import { runInProcess as runCli, tempProject, writeFiles } from './support/cli.js'

const HEADER = 'id,prompt,expected,tags,note\n'

type BadDataset = {
  what: string
  file: string
  text: string
  /** the place the message must name */
  place: string
  message: RegExp
  fix: RegExp
}

const BAD: BadDataset[] = [
  {
    what: 'unknown agent, with the closest names',
    file: 'cases.csv',
    text: `${HEADER}c1,tune my query,database-optimizer,db,\nc2,my goroutines leak,golang-pr0,go,\n`,
    place: 'cases.csv:3 (column 3, "expected")',
    message: /unknown agent "golang-pr0"/,
    fix: /did you mean "golang-pro"\?/,
  },
  {
    what: 'duplicate id',
    file: 'cases.csv',
    text: `${HEADER}c1,tune my query,database-optimizer,,\nc2,"multi\nline",none,,\nc1,fix my css,frontend-developer,,\n`,
    place: 'cases.csv:5 (column 1, "id")',
    message: /duplicate id "c1" \(first used on line 2\)/,
    fix: /unique id/,
  },
  {
    what: 'empty prompt',
    file: 'cases.csv',
    text: `${HEADER}c1,   ,database-optimizer,,\n`,
    place: 'cases.csv:2 (column 2, "prompt")',
    message: /empty prompt in case "c1"/,
    fix: /write the user prompt/,
  },
  {
    what: 'unterminated quote',
    file: 'cases.csv',
    text: `${HEADER}c1,fine,none,,\n\nc2,"this quote never closes,none,,\nc3,next,none,,\n`,
    place: 'cases.csv:4',
    message: /never closed \(unterminated quote\)/,
    fix: /close the field with a double quote/,
  },
  {
    what: 'missing column',
    file: 'cases.csv',
    text: 'id,prompt,labels\nc1,tune my query,database-optimizer\n',
    place: 'cases.csv:1',
    message: /missing column "expected"/,
    fix: /id,prompt,expected/,
  },
  {
    what: 'none mixed with an agent',
    file: 'cases.csv',
    text: `${HEADER}c1,what's 2+2,none|code-reviewer,,\n`,
    place: 'cases.csv:2 (column 3, "expected")',
    message: /"none" is mixed with agent names/,
    fix: /write it alone/,
  },
  {
    what: 'a JSONL line that is not JSON',
    file: 'cases.jsonl',
    text: '{"id":"c1","prompt":"tune my query","expected":["database-optimizer"]}\n{"id":"c2","prompt":"oops",expected:["none"]}\n',
    place: 'cases.jsonl:2:',
    message: /this line is not JSON/,
    fix: /each line must be one JSON object/,
  },
  {
    what: 'a JSONL case without expected',
    file: 'cases.jsonl',
    text: '{"id":"c1","prompt":"tune my query"}\n',
    place: 'cases.jsonl:1',
    message: /missing "expected"/,
    fix: /list the acceptable agents/,
  },
  {
    what: 'a row with more fields than the header',
    file: 'cases.csv',
    text: 'id,prompt,expected\nc1,fix this, please,none\n',
    place: 'cases.csv:2',
    message: /different number of fields/,
    fix: /quote fields that contain commas/,
  },
  {
    what: 'a column named twice',
    file: 'cases.csv',
    text: 'id,prompt,expected,note,expected\nc1,tune my query,database-optimizer,,none\n',
    place: 'cases.csv:1',
    message: /the header row names the column "expected" twice: columns 3 and 5/,
    fix: /keep one "expected" column/,
  },
  {
    what: 'a prompt of whitespace and zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF)',
    file: 'cases.csv',
    text: `${HEADER}c1,\u200b\u200c \u200d\u2060\ufeff\t,database-optimizer,,\n`,
    place: 'cases.csv:2 (column 2, "prompt")',
    message: /empty prompt in case "c1"/,
    fix: /write the user prompt/,
  },
  {
    what: 'an unknown extension',
    file: 'cases.txt',
    text: 'hello\n',
    place: 'cases.txt',
    message: /unknown dataset extension ".txt"/,
    fix: /\.csv file .* or a \.jsonl file/,
  },
]

describe('bad datasets: exit 2, the place, the fix, nothing written', () => {
  it.each(BAD)('$what', async (bad) => {
    const dir = await tempProject()
    await writeFiles(dir, { [bad.file]: bad.text, 'good.csv': `${HEADER}g1,fix my css,frontend-developer,,\n` })
    // The good dataset comes first: even its run folder must not be written.
    const r = await runCli(['eval', '--dataset', 'good.csv', '--dataset', bad.file, '--out', 'out'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${bad.place}`)
    expect(r.stderr).toMatch(bad.message)
    expect(r.stderr).toMatch(new RegExp(`fix: .*${bad.fix.source}`))
    expect(r.stdout).toBe('')
    await expect(access(path.join(dir, 'out'))).rejects.toThrow()
  })
})

describe('good datasets', () => {
  const agents = ['database-optimizer', 'golang-pro', 'code-reviewer']

  it('reads CSV with multi-line quoted prompts, multi-label gold sets and tags, with each case’s start line', () => {
    const csv = `${HEADER}c1,"line one\nline ""two""",database-optimizer | code-reviewer,db|multi,a note\n\nc2,why,none,,\n`
    const ds = parseDataset('x.csv', Buffer.from(csv), agents)
    expect(ds.cases).toEqual([
      { id: 'c1', prompt: 'line one\nline "two"', expected: ['database-optimizer', 'code-reviewer'], tags: ['db', 'multi'], note: 'a note', line: 2 },
      { id: 'c2', prompt: 'why', expected: ['none'], tags: [], line: 5 },
    ])
  })

  it('places each case at the line its row starts on, with a BOM, CRLF line ends, blank lines and quoted line breaks of both kinds', () => {
    const csv = `\ufeff${HEADER.replace('\n', '\r\n')}c1,"one\r\ntwo ""q""",golang-pro,,\r\n\r\n\r\nc2,"a\rb",none,,\r\nc3,x,none,"t\n",\r\nc4,y,none,,`
    const ds = parseDataset('x.csv', Buffer.from(csv), agents)
    expect(ds.cases.map((c) => [c.id, c.line, c.prompt])).toEqual([
      ['c1', 2, 'one\r\ntwo "q"'],
      ['c2', 6, 'a\rb'],
      ['c3', 7, 'x'],
      ['c4', 9, 'y'],
    ])
  })

  it('reads JSONL with arrays or |-strings, and the fingerprint ignores notes, tags and order', () => {
    const a = parseDataset('a.jsonl', Buffer.from('{"id":"c1","prompt":"p","expected":["golang-pro"],"note":"x"}\n\n{"id":2,"prompt":"q","expected":"none","tags":["t"]}\n'), agents)
    const b = parseDataset('b.csv', Buffer.from(`${HEADER}2,q,none,,\nc1,p,golang-pro,other,y\n`), agents)
    expect(a.cases.map((c) => [c.id, c.line])).toEqual([['c1', 1], ['2', 3]])
    expect(a.fingerprint).toBe(b.fingerprint)
    const c = parseDataset('c.csv', Buffer.from(`${HEADER}2,q,none,,\nc1,p,code-reviewer,,\n`), agents)
    expect(c.fingerprint).not.toBe(a.fingerprint)
  })

  it('trims the header names: "id, prompt, expected" names the columns id, prompt and expected, and places use them', () => {
    const ds = parseDataset('x.csv', Buffer.from('id, prompt , expected\t,tags \nc1,why,golang-pro,go\n'), agents)
    expect(ds.cases).toEqual([{ id: 'c1', prompt: 'why', expected: ['golang-pro'], tags: ['go'], line: 2 }])
    expect(() => parseDataset('x.csv', Buffer.from('id, prompt, expected\nc1,why,golang-pr\n'), agents)).toThrow(/x\.csv:2 \(column 3, "expected"\): unknown agent "golang-pr"/)
  })

  it('a prompt with a zero-width character among its words is kept as written', () => {
    const ds = parseDataset('x.csv', Buffer.from(`${HEADER}c1,why\u200bnot,none,,\n`), agents)
    expect(ds.cases[0]!.prompt).toBe('why\u200bnot')
  })

  it('collects every problem of a file in one error', () => {
    const err = (() => {
      try {
        parseDataset('x.csv', Buffer.from(`${HEADER}c1,,nobody,,\nc1,p,none,,\n`), agents)
      } catch (e) {
        return e as InputError
      }
    })()
    expect(err).toBeInstanceOf(InputError)
    expect(err!.problems.map((p) => p.message)).toEqual(['empty prompt in case "c1"', 'unknown agent "nobody"', 'duplicate id "c1" (first used on line 2)'])
  })
})
