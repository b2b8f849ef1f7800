import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadCatalogue } from '../src/load/catalogue.js'
import { loadDataset } from '../src/load/dataset.js'
import { createLexicalRouter } from '../src/route/lexical.js'
import { ROOT } from './support/cli.js'

const signal = new AbortController().signal

describe('the lexical router', async () => {
  const { catalogue } = await loadCatalogue(path.join(ROOT, 'agents'))
  const names = catalogue.agents.map((a) => a.name)

  it('scores every agent and is deterministic', async () => {
    const router = createLexicalRouter()
    const prompt = 'my goroutines leak when the grpc client cancels the context'
    const a = await router.route(prompt, catalogue, signal)
    const b = await createLexicalRouter().route(prompt, catalogue, signal)
    expect(Object.keys(a.scores!).sort()).toEqual(names)
    expect(a.agent).toBe('golang-pro')
    expect({ ...a, latencyMs: 0 }).toEqual({ ...b, latencyMs: 0 })
    expect(a.runnerUp).not.toBe(a.agent)
  })

  it('answers none under the threshold, and the threshold is a setting', async () => {
    const prompt = 'what is the capital of peru'
    const d = await createLexicalRouter().route(prompt, catalogue, signal)
    expect(d.agent).toBe('none')
    const best = Math.max(...Object.values(d.scores!))
    const eager = await createLexicalRouter({ noneThreshold: 0 }).route('swiftui list scrolls badly on iphone', catalogue, signal)
    expect(eager.agent).toBe('mobile-developer')
    const strict = await createLexicalRouter({ noneThreshold: 1000 }).route('swiftui list scrolls badly on iphone', catalogue, signal)
    expect(strict.agent).toBe('none')
    expect(best).toBeLessThan(3)
  })

  it('name words count: an agent whose name is the only match wins', async () => {
    const d = await createLexicalRouter({ noneThreshold: 0 }).route('golang', catalogue, signal)
    expect(d.agent).toBe('golang-pro')
  })
})

describe('the bundled data', async () => {
  const { catalogue } = await loadCatalogue(path.join(ROOT, 'agents'))
  const names = catalogue.agents.map((a) => a.name)

  it('every agent file’s name matches its file name, and there are 15 of them', () => {
    expect(catalogue.agents).toHaveLength(15)
    for (const a of catalogue.agents) expect(path.basename(a.file, '.md')).toBe(a.name)
  })

  it('routing.csv: ≥300 prompts, every agent primary ≥15 times, ≥40 none', async () => {
    const ds = await loadDataset(path.join(ROOT, 'datasets/routing.csv'), names)
    expect(ds.cases.length).toBeGreaterThanOrEqual(300)
    const primaries = new Map<string, number>()
    for (const c of ds.cases) primaries.set(c.expected[0]!, (primaries.get(c.expected[0]!) ?? 0) + 1)
    for (const n of names) expect(primaries.get(n) ?? 0, n).toBeGreaterThanOrEqual(15)
    expect(primaries.get('none')).toBeGreaterThanOrEqual(40)
    for (const c of ds.cases) expect(c.tags.length, c.id).toBeGreaterThan(0)
  })

  it('python-backend.csv: ≥100 prompts aimed at the five Python agents, some none', async () => {
    const ds = await loadDataset(path.join(ROOT, 'datasets/python-backend.csv'), names)
    expect(ds.cases.length).toBeGreaterThanOrEqual(100)
    const python = ds.cases.filter((c) => c.expected[0]!.startsWith('python-'))
    expect(python.length / ds.cases.length).toBeGreaterThan(0.75)
    expect(ds.cases.filter((c) => c.expected[0] === 'none').length).toBeGreaterThanOrEqual(10)
  })
})
