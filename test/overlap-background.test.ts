import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runOverlapEval, TRUTH_FILE, type Truth } from '../bench/overlap-eval.js'
import { buildBackgroundDf, readSnapshot } from '../scripts/build-term-df.js'
import { loadCatalogue } from '../src/load/catalogue.js'
import { BACKGROUND_DF, NEAR_DUPLICATE_SCORE, ROLE_WORDS, TEXT_MODEL, TEXT_MODEL_CATALOGUE_ONLY, pairTextScores } from '../src/overlap/index.js'
import { buildTextIndex, cosine, idf, sharedTerms, termsOfAgent, TEXT_READING, type TextModelOptions } from '../src/overlap/text.js'
import { terms } from '../src/text/terms.js'
import { ROOT } from './support/cli.js'

const textOf = (agents: ReadonlyArray<{ name: string; description: string }>, model: TextModelOptions, a: string, b: string) => {
  const index = buildTextIndex(agents, model)
  const i = index.names.indexOf(a)
  const j = index.names.indexOf(b)
  return { text: cosine(index.vectors[i]!, index.vectors[j]!), shared: sharedTerms(index, i, j, 8) }
}

describe('the bundled background (src/overlap/background-df.json)', () => {
  it('is small, says where its counts come from, and was counted under the reading the model uses', () => {
    expect(statSync(path.join(ROOT, 'src/overlap/background-df.json')).size).toBeLessThan(200 * 1024)
    expect(BACKGROUND_DF.documents).toBeGreaterThanOrEqual(1000)
    expect(BACKGROUND_DF.sources.length).toBeGreaterThanOrEqual(5)
    for (const s of BACKGROUND_DF.sources) {
      expect(s.repo).toMatch(/^[\w.-]+\/[\w.-]+$/)
      expect(s.commit).toMatch(/^[0-9a-f]{40}$/)
    }
    expect(BACKGROUND_DF.sources.reduce((n, s) => n + s.documents, 0)).toBe(BACKGROUND_DF.documents)
    for (const c of Object.values(BACKGROUND_DF.df)) {
      expect(c).toBeGreaterThanOrEqual(BACKGROUND_DF.minDf)
      expect(c).toBeLessThanOrEqual(BACKGROUND_DF.documents)
    }
    // Change the role words or the reading, and the counts must be rebuilt (scripts/build-term-df.ts).
    expect(BACKGROUND_DF.reading).toEqual(TEXT_READING)
  })

  it('knows the genre: words every collection uses are common, a domain\u2019s words are not', () => {
    const df = (t: string) => BACKGROUND_DF.df[t] ?? 0
    for (const generic of ['optim', 'comprehens', 'modern', 'perform']) for (const domain of ['postgresql', 'terraform', 'kubernet', 'pydant']) expect(df(generic), `${generic} vs ${domain}`).toBeGreaterThan(5 * df(domain))
  })
})

describe('idf over the background and the catalogue pooled', () => {
  it('is the catalogue-only idf without a background, and one smoothed idf over both with one', () => {
    expect(idf(1, 30)).toBeCloseTo(Math.log(31), 12)
    expect(idf(3, 30, 400, 1302)).toBeCloseTo(Math.log((1302 + 30 + 1) / (400 + 3 + 1)) + 1, 12)
    // a word every description has keeps a weight
    expect(idf(30, 30, 1302, 1302)).toBeGreaterThan(0)
  })

  it('weighs a genre word below a domain word that the catalogue uses just as often', () => {
    const [n, bgN] = [30, BACKGROUND_DF.documents]
    expect(idf(1, n, BACKGROUND_DF.df['optim'], bgN)).toBeLessThan(idf(1, n, BACKGROUND_DF.df['postgresql'], bgN) / 1.5)
    // fitted on the catalogue alone they weigh the same
    expect(idf(1, n)).toBe(idf(1, n))
  })

  it('scores a pair that shares only words of the genre lower than before', () => {
    const agents = [
      { name: 'query-tuner', description: 'Comprehensive PostgreSQL query optimization: indexes, vacuum, replication. Modern and scalable.' },
      { name: 'cluster-keeper', description: 'Kubernetes manifests, Helm charts, autoscaling. Scalable, modern, comprehensive optimization.' },
      { name: 'ui-builder', description: 'Writes React components with hooks, Tailwind styles and accessible forms.' },
      { name: 'infra-coder', description: 'Builds Terraform modules and reviews plans for AWS accounts.' },
    ]
    const before = textOf(agents, TEXT_MODEL_CATALOGUE_ONLY, 'query-tuner', 'cluster-keeper')
    const after = textOf(agents, TEXT_MODEL, 'query-tuner', 'cluster-keeper')
    expect([...after.shared].sort()).toEqual(['comprehensive', 'modern', 'optimization', 'scalable'])
    // 0.175 → 0.103: in four agents each of these words is as rare as "postgresql"; among 1,302 real descriptions it is not
    expect(after.text).toBeLessThan(before.text * 0.7)
  })

  it('on the community fixture: python-pro ~ typescript-pro (shared "type", "generics") drops, the deliberate overlaps stay over the line', async () => {
    const { catalogue } = await loadCatalogue(path.join(ROOT, 'test/fixtures/community-agents'))
    const before = textOf(catalogue.agents, TEXT_MODEL_CATALOGUE_ONLY, 'python-pro', 'typescript-pro')
    const after = textOf(catalogue.agents, TEXT_MODEL, 'python-pro', 'typescript-pro')
    expect(after.text).toBeLessThan(before.text * 0.9) // 0.104 → 0.083
    const at = (name: string) => catalogue.agents.findIndex((a) => a.name === name)
    const overlaps = pairTextScores(catalogue.agents, [
      [at('debugger'), at('incident-responder')],
      [at('devops-engineer'), at('sre-engineer')],
      [at('postgres-pro'), at('sql-pro')],
    ])
    for (const o of overlaps) expect(o.text).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE + 0.04)
    expect(Math.min(...overlaps.map((o) => o.text)) / after.text).toBeGreaterThan(Math.min(0.235, 0.244, 0.34) / before.text)
  })
})

describe('role words', () => {
  it('are the words of rank and seniority, not the kind of work', () => {
    for (const w of ['pro', 'expert', 'specialist', 'master', 'guru', 'ninja', 'wizard', 'senior']) expect(ROLE_WORDS).toContain(w)
    for (const w of ['engineer', 'developer', 'architect', 'reviewer', 'analyst']) expect(ROLE_WORDS).not.toContain(w)
  })

  it('say nothing about the domain in the overlap text model: "-pro" names share nothing', () => {
    const agents = [
      { name: 'golang-pro', description: 'Writes Go services with goroutines and channels.' },
      { name: 'typescript-pro', description: 'Designs TypeScript generics and strict compiler settings.' },
      { name: 'postgres-master', description: 'Tunes PostgreSQL vacuum and indexes.' },
    ]
    const before = textOf(agents, TEXT_MODEL_CATALOGUE_ONLY, 'golang-pro', 'typescript-pro')
    expect(before.shared).toEqual(['pro'])
    expect(before.text).toBeGreaterThan(0)
    const after = textOf(agents, TEXT_MODEL, 'golang-pro', 'typescript-pro')
    expect(after).toEqual({ text: 0, shared: [] })
  })

  it('are matched on the written word: "masters" goes, "mastery" stays', () => {
    const t = termsOfAgent({ name: 'x', description: 'Masters Rust; mastery of lifetimes. Senior pros.' })
    expect(t.has('master')).toBe(false)
    expect(t.has('pro')).toBe(false)
    expect(t.has('senior')).toBe(false)
    expect(t.has('masteri')).toBe(true)
    expect(t.has('rust')).toBe(true)
  })

  it('stay in the lexical router\u2019s terms: a prompt naming "the go pro" is naming an agent', () => {
    expect(terms('ask the go pro')).toContain('pro')
  })
})

describe('scripts/build-term-df.ts', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'routecheck-df-'))
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))
  const write = (root: string, file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), text)
  }
  const agent = (name: string, description: string) => `---\nname: ${name}\ndescription: ${description}\n---\nbody\n`
  const fill = (root: string) => {
    write(root, 'agents/db.md', agent('db-pro', 'Tunes PostgreSQL queries and indexes.'))
    write(root, 'agents/copy/db.md', agent('db-copy', 'Tunes  PostgreSQL queries and indexes.'))
    write(root, 'agents/k8s.md', agent('k8s-expert', 'Writes Kubernetes manifests and tunes indexes of nothing.'))
    write(root, 'agents/ui.md', agent('ui-builder', 'Writes React components.'))
    write(root, 'skills/pg/SKILL.md', agent('pg-skill', 'Tunes PostgreSQL.'))
    write(root, 'commands/tune.md', agent('tune', 'Tunes PostgreSQL.'))
    write(root, 'README.md', '# not an agent\n')
    write(root, 'agents/broken.md', '---\nname: broken\n---\n')
  }

  it('reads agent files with the loader, leaves out skills, commands and non-agents, and counts a copied description once', () => {
    const dir = path.join(tmp, 'acme+agents')
    fill(dir)
    const snapshot = readSnapshot(dir)
    expect(snapshot.repo).toBe('acme/agents')
    expect(snapshot.commit).toBe('working tree')
    expect(snapshot.agents.map((a) => a.name).sort()).toEqual(['db-copy', 'db-pro', 'k8s-expert', 'ui-builder'])
    const bg = buildBackgroundDf([snapshot])
    expect(bg.documents).toBe(3)
    expect(bg.sources).toEqual([{ repo: 'acme/agents', commit: 'working tree', agentFiles: 4, documents: 3 }])
    // "tune" and "index" are in two descriptions; "postgresql" only in one (its copy does not count), so it is pruned
    expect(bg.df['tune']).toBe(2)
    expect(bg.df['index']).toBe(2)
    expect(bg.df['write']).toBe(2)
    expect(bg.df['postgresql']).toBeUndefined()
    // role words are not counted: the model never sees them
    expect(bg.df['pro']).toBeUndefined()
    expect(bg.reading).toEqual(TEXT_READING)
  })

  it('reads a git directory at HEAD and records its commit', () => {
    const work = path.join(tmp, 'work')
    fill(work)
    const git = (...args: string[]) => execFileSync('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' })
    git('init', '-q')
    git('add', '.')
    git('commit', '-q', '-m', 'agents')
    const head = git('rev-parse', 'HEAD').trim()
    const snapshot = readSnapshot(`acme/agents=${path.join(work, '.git')}`)
    expect(snapshot.commit).toBe(head)
    expect(snapshot.agents.map((a) => a.name).sort()).toEqual(['db-copy', 'db-pro', 'k8s-expert', 'ui-builder'])
  })
})

describe('bench/overlap-eval.ts', () => {
  it('skips cleanly without the snapshots, naming what is missing', async () => {
    expect(await runOverlapEval(undefined)).toEqual({ skipped: expect.stringMatching(/no snapshots folder/) })
    const missing = await runOverlapEval(path.join(os.tmpdir(), 'no-such-snapshots-folder'))
    expect(missing).toEqual({ skipped: expect.stringMatching(/wshobson\/agents.*lst97\/claude-code-sub-agents/) })
  })

  it('its truth is pairs across collections, each judged once', () => {
    const truth = JSON.parse(readFileSync(TRUTH_FILE, 'utf8')) as Truth
    const prefixes = new Set(Object.keys(truth.collections))
    for (const c of Object.values(truth.collections)) expect(c.commit).toMatch(/^[0-9a-f]{40}$/)
    const seen = new Set<string>()
    for (const [a, b] of [...truth.same, ...truth.unsure]) {
      expect(prefixes.has(a.split(':')[0]!) && prefixes.has(b.split(':')[0]!), `${a} ~ ${b}`).toBe(true)
      expect(a.split(':')[0], `${a} ~ ${b}`).not.toBe(b.split(':')[0])
      const k = [a, b].sort().join(' ~ ')
      expect(seen.has(k), k).toBe(false)
      seen.add(k)
    }
    expect(truth.same.length).toBeGreaterThanOrEqual(150)
  })
})
