import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { marked, type Tokens } from 'marked'
import { describe, expect, it } from 'vitest'
import { commentBody } from '../src/report/github-comment.js'
import { markdownCode, markdownText } from '../src/text/safe.js'
import { runCli, tempDir, writeFiles } from './support/cli.js'

/**
 * report.md and the pull-request comment made of it print agent names, case
 * ids, prompts and paths that users wrote. Rendered by a real Markdown parser
 * (marked, GitHub's flavour), each must read as written: no emphasis, no HTML,
 * no extra table column, no heading or list, and no "@name" or "#123" that
 * GitHub would turn into a mention or an issue link after rendering.
 */

const ZWSP = '\u200b'
/** marked writes text with & < > " ' as entities; everything else as the character. */
const decode = (html: string) => html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
/** What GitHub would show of text: Markdown's reading of it, with the zero-width spaces that keep @ and # from linking. */
const shown = (text: string) => text.replace(/\r\n|[\r\n]/g, ' ').replace(/^\s+/, '').replace(/@(?=[\w-])/g, `@${ZWSP}`).replace(/#(?=\d)/g, `#${ZWSP}`)

const HOSTILE = [
  'python_code_reviewer',
  '_private_ and __dunder__',
  'a *star* and **bold** and ~~gone~~',
  'pipe|agent | two',
  '<script>alert(1)</script>',
  '<details><summary>open</summary>',
  'ping @team and @org/leads about #123 and owner/repo#45',
  'tick`agent ``double`` ```triple```',
  '[a link](page.html) and ![img](x.png)',
  'back\\slash \\* not an escape',
  '# a heading',
  '- a list item',
  '+ plus',
  '1. ordered',
  '2) ordered',
  '= setext',
  '    indented code',
  'line one\nline two\r\nline three',
  '&amp; &lt;b&gt; &#64;team',
  'x | y \\| z',
]

describe('markdownText: user text reads as written wherever report.md puts it', () => {
  it.each(HOSTILE)('%j in a table cell, a list item and a line of prose', (text) => {
    const escaped = markdownText(text)
    expect(escaped).not.toMatch(/[\r\n]/)
    // A table cell: one row of exactly the header's three cells, the middle one the text, nothing rendered as markup.
    const table = marked.lexer(`| a | b | c |\n| --- | --- | --- |\n| 1 | ${escaped} | 3 |\n`).find((t) => t.type === 'table') as Tokens.Table
    expect(table.rows).toHaveLength(1)
    expect(table.rows[0]!.map((c) => c.text)).toHaveLength(3)
    expect(table.rows[0]![2]!.text).toBe('3')
    const cellHtml = marked.parse(`| a | b | c |\n| --- | --- | --- |\n| 1 | ${escaped} | 3 |\n`, { async: false })
    const cells = [...cellHtml.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => m[1]!)
    expect(cells).toHaveLength(3)
    expect(cells[1]).not.toMatch(/<[a-z]/i)
    expect(decode(cells[1]!)).toBe(shown(text).trim())
    // A list item and a paragraph: the same text, no tag but the list's and the paragraph's.
    const item = marked.parse(`- ${escaped}\n`, { async: false })
    expect(item).toMatch(/^<ul>\n<li>[^<]*<\/li>\n<\/ul>\n$/)
    expect(decode(item.replace(/<\/?(ul|li)>|\n/g, ''))).toBe(shown(text).trim())
    const para = marked.parse(`${escaped}\n`, { async: false })
    expect(para).toMatch(/^<p>[^<]*<\/p>\n$/)
    expect(decode(para.slice(3, -5))).toBe(shown(text).trim())
  })

  it.each(['plain', 'a`b', '``', '`starts', 'ends`', ' spaced ', 'x ```` y', 'two\nlines', '<b>|</b>'])('markdownCode(%j) is one code span holding the text', (text) => {
    const html = marked.parse(`Router ${markdownCode(text)} here\n`, { async: false })
    const m = /^<p>Router <code>([^<]*)<\/code> here<\/p>\n$/.exec(html)
    expect(m, html).not.toBeNull()
    expect(decode(m![1]!)).toBe(text.replace(/\n/g, ' '))
  })
})

describe('report.md and the pull-request comment with hostile names, ids and prompts', () => {
  it('every table keeps its columns, no emphasis or HTML from user text, mentions and issue numbers stay text', async () => {
    const dir = await tempDir()
    const names = ['python_code_reviewer', 'pipe|agent', '<script>alert(1)</script>', '@team-lead #123', 'tick`agent', '**bold**']
    const agentFile = (name: string, i: number) => `---\nname: ${JSON.stringify(name)}\ndescription: ${JSON.stringify(`Agent ${i} for go:${i} prompts; ask @team about #${100 + i} <b>now</b>`)}\n---\nBody.\n`
    const cases = [
      { id: 'case|1', prompt: 'review this python|code\n<script>alert(1)</script> go:0', expected: [names[0]] },
      { id: '@team', prompt: 'ping @team about #123 go:1 flip', expected: [names[1]] },
      { id: '#123', prompt: '`code` ```fence``` go:2', expected: [names[2]] },
      { id: '_em_ and *star*', prompt: '<details>open</details> go:3 flip', expected: [names[3]] },
      { id: '# heading', prompt: '- list go:4', expected: [names[4]] },
      { id: '1. ordered', prompt: '**bold** go:5', expected: [names[5]] },
    ]
    const jsonl = (xs: readonly object[]) => `${xs.map((x) => JSON.stringify(x)).join('\n')}\n`
    await writeFiles(dir, {
      ...Object.fromEntries(names.map((n, i) => [`hostile/agent-${i}.md`, agentFile(n, i)])),
      'cases.jsonl': jsonl(cases),
      // Routes "go:N" to agent N; with FLIP set, a prompt saying "flip" goes to the next agent instead.
      'hostile-router.mjs': `const NAMES = ${JSON.stringify(names)}
export default () => ({
  id: 'tick\`s \`\`router\`\`',
  deterministic: true,
  async route(prompt) {
    const i = Number(/go:(\\d)/.exec(prompt)[1])
    return { agent: NAMES[process.env.FLIP && prompt.includes('flip') ? (i + 1) % NAMES.length : i], latencyMs: 1 }
  },
})
`,
      'routecheck.config.json': JSON.stringify({ agents: 'hostile', datasets: ['cases.jsonl'], router: './hostile-router.mjs', repeats: 1 }),
    })
    const base = await runCli(['baseline', '--out', 'base'], { cwd: dir })
    expect(base.code, base.stderr).toBe(0)
    // A case added since the baseline: listed as new, with its id, labels and decision.
    await writeFiles(dir, { 'cases.jsonl': jsonl([...cases, { id: 'new|case <b>x</b> @new', prompt: 'fresh go:0', expected: [names[0]] }]) })
    const gate = await runCli(['gate', '--out', 'run'], { cwd: dir, env: { FLIP: '1' } })
    expect(gate.code, gate.stderr).toBe(1)
    const report = await readFile(path.join(dir, 'run/report.md'), 'utf8')
    const comment = commentBody([{ source: path.join('run', 'report.md'), text: report }], { footer: 'posted by routecheck' }).body

    for (const [what, md] of [['report.md', report], ['the comment', comment]] as const) {
      const html = marked.parse(md, { async: false })
      // Only routecheck's own markup: its bold, its one <details> of flips, its code spans; no user text as HTML or emphasis.
      expect(html, what).not.toMatch(/<(em|del|a|img|script|b|h[4-6]|ol)\b/)
      expect(html.match(/<details>/g), what).toHaveLength(1)
      expect(html).not.toMatch(/@team|@new|#123|#10\d/)
      expect(html).toContain(`@${ZWSP}team`)
      expect(html).toContain(`#${ZWSP}123`)
      expect(html).toContain('<code>tick`s ``router``</code>')
      const tables = marked.lexer(md).filter((t): t is Tokens.Table => t.type === 'table')
      const text = (c: Tokens.TableCell) => decode(marked.parseInline(c.text, { async: false }) as string)
      // The scorecard: one row per agent and none; the name whole in the first cell, numbers in the next four ("–" for a 0/0 figure).
      const scorecard = tables.find((t) => t.header[0]!.text === 'agent' && t.header[1]!.text === 'precision')!
      expect(scorecard.rows.map((r) => text(r[0]!)).sort()).toEqual([...names.map(shown), 'none'].sort())
      for (const row of scorecard.rows) {
        expect(row).toHaveLength(scorecard.header.length)
        expect(row.slice(1, 5).map((c) => c.text)).toEqual(row.slice(1, 5).map((c) => expect.stringMatching(/^(\d+(\.\d\d)?|–)$/)))
      }
      // The flips: the two flipped cases, each id, label, before and after whole, the direction last.
      const flips = tables.find((t) => t.header.map((h) => h.text).join('|') === 'case|expected|before|after|')!
      expect(flips.rows.map((r) => r.map(text))).toEqual([
        [shown('@team'), shown(names[1]!), shown(names[1]!), shown(names[2]!), 'right → wrong'],
        [shown('_em_ and *star*'), shown(names[3]!), shown(names[3]!), shown(names[4]!), 'right → wrong'],
      ])
      // The case added since the baseline.
      const added = tables.find((t) => t.header[1]!.text === '' && t.header[2]!.text === 'expected')!
      expect(added.rows.map((r) => r.map(text))).toEqual([[shown('new|case <b>x</b> @new'), 'new', shown(names[0]!), shown(names[0]!), 'right']])
      for (const t of tables) for (const row of t.rows) expect(row).toHaveLength(t.header.length)
    }
  })
})
