import path from 'node:path'
import type { Flip } from '../gate/compare.js'
import type { Summary } from '../run/record.js'

const xml = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 has no way to write most control characters: drop them.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')

/**
 * junit.xml: a testcase per dataset case, grouped into a testsuite per
 * expected (primary) agent, so CI test views list misroutes by agent. A
 * misroute is a failure; with a gate, a right → wrong flip says so; a case
 * with no decision is an error.
 */
export function renderJunit(summaries: readonly Summary[], prompts: ReadonlyMap<string, ReadonlyMap<string, string>>, flips: ReadonlyMap<string, readonly Flip[]> = new Map()): string {
  const suites: string[] = []
  let tests = 0
  let failures = 0
  let errors = 0
  for (const s of summaries) {
    const stem = path.basename(s.dataset.path, path.extname(s.dataset.path))
    const flipById = new Map((flips.get(s.dataset.path) ?? []).map((f) => [f.id, f]))
    const byAgent = new Map<string, Summary['cases']>()
    for (const c of s.cases) {
      const key = c.expected[0]!
      const group = byAgent.get(key)
      if (group) group.push(c)
      else byAgent.set(key, [c])
    }
    for (const [agent, cases] of [...byAgent].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const body: string[] = []
      let suiteFailures = 0
      let suiteErrors = 0
      for (const c of cases) {
        const prompt = prompts.get(s.dataset.path)?.get(c.id) ?? ''
        const name = `${c.id}: ${prompt.replace(/\s+/g, ' ').slice(0, 80)}`
        const flip = flipById.get(c.id)
        let inner = ''
        if (c.decision === null) {
          suiteErrors++
          inner = `<error message="${xml(c.error ?? 'no decision')}"/>`
        } else if (!c.correct) {
          suiteFailures++
          const was = flip?.direction === 'broke' ? ` (was ${flip.before} in the baseline${flip.flaky ? '; flaky' : ''})` : ''
          inner = `<failure message="${xml(`routed to ${c.decision}, expected ${c.expected.join(' or ')}${was}`)}" type="${flip?.direction === 'broke' ? 'regression' : 'misroute'}"/>`
        }
        body.push(`    <testcase classname="${xml(`routecheck.${stem}.${agent}`)}" name="${xml(name)}">${inner}</testcase>`)
      }
      tests += cases.length
      failures += suiteFailures
      errors += suiteErrors
      suites.push(`  <testsuite name="${xml(`${stem} · ${agent}`)}" tests="${cases.length}" failures="${suiteFailures}" errors="${suiteErrors}">\n${body.join('\n')}\n  </testsuite>`)
    }
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="routecheck" tests="${tests}" failures="${failures}" errors="${errors}">\n${suites.join('\n')}\n</testsuites>\n`
}
