import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './support/cli.js'

/**
 * Every routecheck start loads what src/cli/main.ts imports, statically, all
 * the way down. The SDK (300 modules with OpenTelemetry, 180–220 ms), the
 * HTML report and the claude-code router are loaded where they are used,
 * with import(): an import statement anywhere on a command's path would put
 * them back into every start, lexical runs included (README "Performance").
 */
const LAZY = ['src/route/anthropic.ts', 'src/route/tool-call.ts', 'src/route/anthropic-batch.ts', 'src/report/html.ts', 'src/route/claude-code/router.ts']

/** The src files `from` loads at start: import and export … from statements, not `import type`, not import(). */
function staticClosure(from: string): Map<string, string> {
  const via = new Map<string, string>([[from, '']])
  const queue = [from]
  while (queue.length > 0) {
    const file = queue.shift()!
    const text = readFileSync(path.join(ROOT, file), 'utf8')
    for (const m of text.matchAll(/^(import|export)(?!\s+type\b)[^'"]*?from '(\.[^']+)'/gm)) {
      const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), m[2]!)).replace(/\.js$/, '.ts')
      if (!target.endsWith('.ts') || via.has(target)) continue
      via.set(target, file)
      queue.push(target)
    }
  }
  return via
}

describe('what every routecheck start loads', () => {
  it('never the SDK, report.html or the claude-code router: they are loaded when used', () => {
    const closure = staticClosure('src/cli/main.ts')
    expect(closure.size).toBeGreaterThan(50)
    const chain = (file: string) => {
      const steps = [file]
      while (closure.get(steps[0]!)) steps.unshift(closure.get(steps[0]!)!)
      return steps.join(' → ')
    }
    expect(LAZY.filter((f) => closure.has(f)).map(chain)).toEqual([])
    expect([...closure.keys()].map((f) => readFileSync(path.join(ROOT, f), 'utf8')).filter((t) => /^import(?!\s+type\b)[^'"]*from '@anthropic-ai\//m.test(t))).toEqual([])
  })
})
