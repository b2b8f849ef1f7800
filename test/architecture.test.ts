import { describe, expect, it } from 'vitest'
import { cycles, importGraph, STAGES, stageOf, upwardImports } from '../scripts/import-graph.js'

/**
 * The pipeline is the architecture: each folder under src/ is a stage, and a
 * stage imports only from stages drawn below it (scripts/import-graph.ts
 * prints the graph).
 */
describe('the import graph', () => {
  const graph = importGraph()

  it('has every file in a stage, and no stage importing from a stage above it', () => {
    expect(graph.size).toBeGreaterThan(40)
    expect([...graph.keys()].filter((f) => !STAGES.includes(stageOf(f) as (typeof STAGES)[number]))).toEqual([])
    expect(upwardImports(graph)).toEqual([])
  })

  it('has no cycles between files', () => {
    expect(cycles(graph)).toEqual([])
  })
})
