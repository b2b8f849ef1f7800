import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './support/cli.js'

/**
 * The pipeline is the architecture: each folder under src/ is a stage, and a
 * stage imports only from stages drawn below it. `text` is shared wording and
 * tokens; `report` may read `gate`'s types; the CLI sits on top.
 */
const STAGES = ['text', 'load', 'route', 'score', 'overlap', 'run', 'gate', 'report', 'cli'] as const

const SRC = path.join(ROOT, 'src')
const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.includes(`${path.sep}page${path.sep}`)).map((f) => path.join(SRC, f))
const stageOf = (file: string) => path.relative(SRC, file).split(path.sep)[0]!

/** Every relative import of a file, resolved to the .ts file it names. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/^(?:import|export)[^'"]*?from '(\.[^']+)'/gm)].map((m) => path.resolve(path.dirname(file), m[1]!).replace(/\.js$/, '.ts'))
}

export function importGraph(): Map<string, string[]> {
  return new Map(files.map((f) => [f, importsOf(f).filter((i) => i.startsWith(SRC) && i.endsWith('.ts'))]))
}

describe('the import graph', () => {
  const graph = importGraph()

  it('has no stage importing from a stage above it', () => {
    const upward: string[] = []
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const from = STAGES.indexOf(stageOf(file) as (typeof STAGES)[number])
        const to = STAGES.indexOf(stageOf(target) as (typeof STAGES)[number])
        if (to > from) upward.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`)
      }
    }
    expect(graph.size).toBeGreaterThan(40)
    expect([...graph.keys()].every((f) => STAGES.includes(stageOf(f) as (typeof STAGES)[number]) || f.endsWith('.d.ts'))).toBe(true)
    expect(upward).toEqual([])
  })

  it('has no cycles between files', () => {
    const state = new Map<string, 'open' | 'done'>()
    const cycles: string[] = []
    const visit = (f: string, trail: string[]) => {
      if (state.get(f) === 'done') return
      if (state.get(f) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(SRC, x)).join(' → '))
        return
      }
      state.set(f, 'open')
      for (const next of graph.get(f) ?? []) visit(next, [...trail, f])
      state.set(f, 'done')
    }
    for (const f of graph.keys()) visit(f, [])
    expect(cycles).toEqual([])
  })
})
