import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { agentFingerprint, buildCatalogue, loadCatalogue, type Agent, type Catalogue } from '../src/load/catalogue.js'
import { parseDataset } from '../src/load/dataset.js'
import { createLexicalRouter } from '../src/route/lexical.js'
import { syntheticCatalogue } from './overlap.js'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The bundled agents for 15; a synthetic catalogue (bench/overlap.ts) for more. */
export async function benchCatalogue(agents: number): Promise<Catalogue> {
  if (agents === 15) return (await loadCatalogue(path.join(root, 'agents'))).catalogue
  const list: Agent[] = syntheticCatalogue(agents, agents).agents.map((a) => {
    const base = { name: a.name, description: a.description }
    return { ...base, file: a.file, nameLine: 2, descriptionLine: 3, body: '', quotingRetry: false, fingerprint: agentFingerprint(base) }
  })
  return buildCatalogue(list)
}

/** routing.csv's prompts, repeated (each made distinct) up to n. */
export function benchPrompts(n: number): string[] {
  const names = (readFileSync(path.join(root, 'datasets/routing.csv'), 'utf8').match(/^[^,\n]+,[^,\n]*,([a-z-]+)/gm) ?? []).map((l) => l.split(',')[2]!)
  const ds = parseDataset('routing.csv', readFileSync(path.join(root, 'datasets/routing.csv')), [...new Set(names)])
  return Array.from({ length: n }, (_, i) => `${ds.cases[i % ds.cases.length]!.prompt} (${i})`)
}

/** Lexical routing throughput: prompts per second against a catalogue of `agents`. */
export async function benchLexical(agents: number, prompts = 10_000): Promise<Record<string, number>> {
  const catalogue = await benchCatalogue(agents)
  const texts = benchPrompts(prompts)
  const router = createLexicalRouter()
  const signal = new AbortController().signal
  await router.route(texts[0]!, catalogue, signal) // builds the index once, as a run does
  const started = performance.now()
  for (const p of texts) await router.route(p, catalogue, signal)
  const ms = performance.now() - started
  return { agents, prompts, ms: Math.round(ms), promptsPerSecond: Math.round((prompts / ms) * 1000) }
}
