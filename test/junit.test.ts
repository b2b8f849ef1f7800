import { describe, expect, it } from 'vitest'
import { junitChunks, promptHead, renderJunit } from '../src/report/junit.js'
import { seededRandom } from '../src/score/stats.js'
import type { Summary } from '../src/run/record.js'

describe('junit.xml', () => {
  const cases = [
    { id: 'c1', expected: ['golang-pro'], decision: 'golang-pro', correct: true },
    { id: 'c2', expected: ['golang-pro'], decision: 'none', correct: false },
    { id: 'c3', expected: ['none'], decision: null, correct: null, error: 'HTTP 500 <bad> & "worse"\u0001' },
  ]
  const summary = { dataset: { path: 'sets/routing.csv' }, cases } as unknown as Summary
  const prompts = new Map([['sets/routing.csv', new Map([['c1', `goroutines   leak\n\nin ${'x'.repeat(200)}`], ['c2', 'a "quoted" <prompt> & more'], ['c3', '']])]])

  it('a suite per expected agent, misroutes as failures, undecided cases as errors, every attribute escaped', () => {
    const text = renderJunit([summary], prompts)
    expect(text).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="routecheck" tests="3" failures="1" errors="1">\n/)
    expect(text).toContain('<testsuite name="routing · golang-pro" tests="2" failures="1" errors="0">')
    expect(text).toContain(`name="c1: goroutines leak in ${'x'.repeat(80 - 'goroutines leak in '.length)}"`)
    expect(text).toContain('name="c2: a &quot;quoted&quot; &lt;prompt&gt; &amp; more"><failure message="routed to none, expected golang-pro" type="misroute"/>')
    expect(text).toContain('<error message="HTTP 500 &lt;bad&gt; &amp; &quot;worse&quot;"/>')
    expect(text.endsWith('</testsuites>\n')).toBe(true)
    // Written a testcase at a time (with each suite's opening and closing tags): the pieces are the file.
    const pieces = [...junitChunks([summary], prompts)]
    expect(pieces).toHaveLength(1 + 2 * 2 + cases.length + 1)
    expect(pieces.join('')).toBe(text)
  })

  it("takes a case's own prompt (summary.json keeps it), and the prompts by id only for cases without one", () => {
    const withOwn = { ...summary, cases: [{ ...cases[0]!, prompt: 'its own prompt' }, cases[1]!] } as unknown as Summary
    const text = renderJunit([withOwn], prompts)
    expect(text).toContain('name="c1: its own prompt"')
    expect(text).toContain('name="c2: a &quot;quoted&quot;')
  })

  it("a prompt's head: the first 80 characters with whitespace folded, the same as folding the whole prompt", () => {
    const random = seededRandom(11)
    const pieces = ['a', 'bc', ' ', ' ', '  ', '\n', '\t\t', '\u00a0', '\u2028', 'x'.repeat(50), ' '.repeat(120)]
    for (let n = 0; n < 5000; n++) {
      const text = Array.from({ length: Math.floor(random() * 40) }, () => pieces[Math.floor(random() * pieces.length)]!).join('')
      expect(promptHead(text, 80)).toBe(text.replace(/\s+/g, ' ').slice(0, 80))
    }
  })
})
