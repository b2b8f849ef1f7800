import path from 'node:path'
import type { Flip } from '../gate/compare.js'
import type { Summary } from '../run/record.js'

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }
// XML 1.0 has no way to write most control characters: they are dropped.
// eslint-disable-next-line no-control-regex
const XML_SPECIAL = /[&<>"\u0000-\u0008\u000b\u000c\u000e-\u001f]/g
const HAS_XML_SPECIAL = new RegExp(XML_SPECIAL.source)
/** Text for an XML attribute, in one pass; most names need nothing escaped, and are tested before a replace builds a copy. */
const xml = (s: string) => (HAS_XML_SPECIAL.test(s) ? s.replace(XML_SPECIAL, (c) => XML_ESCAPES[c] ?? '') : s)

/** Whitespace other than a single space: a tab, a line break, any other space, or two in a row. */
const FOLDS = /[^\S ]|\s\s/

/** The prompt's first `n` characters with whitespace runs folded to one space, folding no more of it than that needs. */
export function promptHead(prompt: string, n: number): string {
  // Most heads hold only single spaces: nothing to fold.
  const head = prompt.slice(0, n)
  if (!FOLDS.test(head)) return head
  for (let take = 2 * n; ; take *= 2) {
    const head = prompt.slice(0, take).replace(/\s+/g, ' ')
    if (head.length >= n || take >= prompt.length) return head.slice(0, n)
  }
}

/** Each dataset's prompts by case id, for summaries written before summary.json kept them (a case's own prompt comes first). */
export type PromptsByDataset = ReadonlyMap<string, Pick<ReadonlyMap<string, string>, 'get'>>

/**
 * junit.xml: a testcase per dataset case, grouped into a testsuite per
 * expected (primary) agent, so CI test views list misroutes by agent. A
 * misroute is a failure; with a gate, a right → wrong flip says so; a case
 * with no decision is an error. In pieces, a testcase at a time (a suite's
 * counts are taken first), so a 100,000-case run is written as it is made:
 * suites built whole were strings of megabytes that outlived young-generation
 * collections, and brought on full ones.
 */
export function* junitChunks(summaries: readonly Summary[], prompts: PromptsByDataset, flips: ReadonlyMap<string, readonly Flip[]> = new Map()): Generator<string> {
  let tests = 0
  let failures = 0
  let errors = 0
  for (const s of summaries) {
    tests += s.cases.length
    for (const c of s.cases) {
      if (c.decision === null) errors++
      else if (!c.correct) failures++
    }
  }
  yield `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="routecheck" tests="${tests}" failures="${failures}" errors="${errors}">\n`
  for (const s of summaries) {
    const stem = path.basename(s.dataset.path, path.extname(s.dataset.path))
    const flipById = new Map((flips.get(s.dataset.path) ?? []).map((f) => [f.id, f]))
    const promptOf = prompts.get(s.dataset.path)
    const byAgent = new Map<string, Summary['cases']>()
    for (const c of s.cases) {
      const key = c.expected[0]!
      const group = byAgent.get(key)
      if (group) group.push(c)
      else byAgent.set(key, [c])
    }
    for (const [agent, cases] of [...byAgent].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const classname = xml(`routecheck.${stem}.${agent}`)
      const suiteErrors = cases.filter((c) => c.decision === null).length
      const suiteFailures = cases.filter((c) => c.decision !== null && !c.correct).length
      yield `  <testsuite name="${xml(`${stem} · ${agent}`)}" tests="${cases.length}" failures="${suiteFailures}" errors="${suiteErrors}">\n`
      for (const c of cases) {
        const name = `${c.id}: ${promptHead(c.prompt ?? promptOf?.get(c.id) ?? '', 80)}`
        const flip = flipById.get(c.id)
        let inner = ''
        if (c.decision === null) inner = `<error message="${xml(c.error ?? 'no decision')}"/>`
        else if (!c.correct) {
          const was = flip?.direction === 'broke' ? ` (was ${flip.before} in the baseline${flip.flaky ? '; flaky' : ''})` : ''
          inner = `<failure message="${xml(`routed to ${c.decision}, expected ${c.expected.join(' or ')}${was}`)}" type="${flip?.direction === 'broke' ? 'regression' : 'misroute'}"/>`
        }
        yield `    <testcase classname="${classname}" name="${xml(name)}">${inner}</testcase>\n`
      }
      yield '  </testsuite>\n'
    }
  }
  yield '</testsuites>\n'
}

/** junit.xml, whole. */
export function renderJunit(summaries: readonly Summary[], prompts: PromptsByDataset, flips: ReadonlyMap<string, readonly Flip[]> = new Map()): string {
  return [...junitChunks(summaries, prompts, flips)].join('')
}
