/**
 * The import graph of src/, by stage: `node --import tsx scripts/import-graph.ts`
 * prints which folder imports which (with counts), any import of a stage from
 * one drawn below it, and any cycle between files. test/architecture.test.ts
 * asserts the last two are empty.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The pipeline's stages, lowest first: a stage imports only from stages before it. */
export const STAGES = ['text', 'load', 'route', 'score', 'overlap', 'draft', 'run', 'gate', 'improve', 'report', 'cli'] as const

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src')
const rel = (f: string) => path.relative(SRC, f)
export const stageOf = (file: string): string => rel(file).split(path.sep)[0]!

/** file → the src files it imports (relative imports, resolved to .ts); the browser page's own modules are left out. */
export function importGraph(): Map<string, string[]> {
  const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.startsWith(`report${path.sep}page${path.sep}`)).map((f) => path.join(SRC, f))
  const importsOf = (file: string) =>
    [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*?from '(\.[^']+)'/gm)]
      .map((m) => path.resolve(path.dirname(file), m[1]!).replace(/\.js$/, '.ts'))
      .filter((i) => i.startsWith(SRC) && i.endsWith('.ts'))
  return new Map(files.map((f) => [f, importsOf(f)]))
}

/** Imports from a stage drawn above the importer, as "from → to". */
export function upwardImports(graph: Map<string, string[]>): string[] {
  const rank = (f: string) => STAGES.indexOf(stageOf(f) as (typeof STAGES)[number])
  return [...graph].flatMap(([file, imports]) => imports.filter((t) => rank(t) > rank(file)).map((t) => `${rel(file)} → ${rel(t)}`))
}

export function cycles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>()
  const found: string[] = []
  const visit = (f: string, trail: string[]) => {
    if (state.get(f) === 'done') return
    if (state.get(f) === 'open') {
      found.push([...trail.slice(trail.indexOf(f)), f].map(rel).join(' → '))
      return
    }
    state.set(f, 'open')
    for (const next of graph.get(f) ?? []) visit(next, [...trail, f])
    state.set(f, 'done')
  }
  for (const f of graph.keys()) visit(f, [])
  return found
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const graph = importGraph()
  const edges = new Map<string, number>()
  for (const [file, imports] of graph) for (const t of imports) if (stageOf(t) !== stageOf(file)) edges.set(`${stageOf(file)} → ${stageOf(t)}`, (edges.get(`${stageOf(file)} → ${stageOf(t)}`) ?? 0) + 1)
  const order = (e: string) => STAGES.indexOf(e.split(' → ')[0] as (typeof STAGES)[number]) * 100 + STAGES.indexOf(e.split(' → ')[1] as (typeof STAGES)[number])
  console.log(`${graph.size} files in ${STAGES.length} stages: ${STAGES.join(' < ')}`)
  console.log('cross-stage imports (import statements):')
  for (const e of [...edges.keys()].sort((a, b) => order(a) - order(b))) console.log(`  ${e}  ${edges.get(e)}`)
  const up = upwardImports(graph)
  const loops = cycles(graph)
  console.log(`imports from a higher stage: ${up.length === 0 ? 'none' : up.join('; ')}`)
  console.log(`cycles: ${loops.length === 0 ? 'none' : loops.join('; ')}`)
}
