import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runOverlapEval, truthFolds, TRUTH_FILE, type Truth } from '../bench/overlap-eval.js'
import { buildBackgroundDf, readSnapshot, type Snapshot } from '../scripts/build-term-df.js'
import { loadCatalogue } from '../src/load/catalogue.js'
import { BACKGROUND_DF, NEAR_DUPLICATE_SCORE, ROLE_WORDS, TEXT_MODEL, TEXT_MODEL_CATALOGUE_ONLY, TEXT_MODEL_GENRE_ONLY, analyseOverlap, pairTextScores } from '../src/overlap/index.js'
import { buildTextIndex, cosine, DOMAIN_RULE, domainWeight, idf, sharedTerms, termDomainWeight, termsOfAgent, TEXT_READING, type TextModelOptions } from '../src/overlap/text.js'
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
    // Change the role words, the reading or the domain rule, and the counts must be rebuilt (scripts/build-term-df.ts).
    expect(BACKGROUND_DF.reading).toEqual(TEXT_READING)
    expect(BACKGROUND_DF.domainRule).toEqual(DOMAIN_RULE)
    for (const [w, weight] of Object.entries(BACKGROUND_DF.domain!)) {
      expect(w.includes(' '), w).toBe(false)
      expect(weight).toBeGreaterThanOrEqual(Number((DOMAIN_RULE.floor ** DOMAIN_RULE.power).toPrecision(3)))
      expect(weight).toBeLessThan(1)
    }
  })

  it('tells words of a domain from words of a style of writing', () => {
    const weight = (w: string) => BACKGROUND_DF.domain![w] ?? 1
    // words that name a domain keep their weight
    for (const w of ['postgresql', 'kubernet', 'terraform', 'incid', 'respond', 'python', 'graphql', 'pydant']) expect(weight(w), w).toBe(1)
    // words that say how an agent writes weigh a quarter or less ("explanations", "detailed", "idiomatic", "robust", "best practices", "comprehensive")
    for (const w of ['explan', 'detail', 'idiomat', 'robust', 'best', 'practic', 'comprehens', 'focus']) expect(weight(w), w).toBeLessThan(0.25)
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
    expect(after.text).toBeLessThan(before.text * 0.9) // 0.104 → 0.064
    const at = (name: string) => catalogue.agents.findIndex((a) => a.name === name)
    const overlaps = pairTextScores(catalogue.agents, [
      [at('debugger'), at('incident-responder')],
      [at('devops-engineer'), at('sre-engineer')],
      [at('postgres-pro'), at('sql-pro')],
    ])
    // all three stay flagged (0.25–0.29 against the line at 0.25; 0.24–0.34 against 0.2 before)
    for (const o of overlaps) expect(o.text).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE)
    expect(Math.min(...overlaps.map((o) => o.text)) / after.text).toBeGreaterThan(Math.min(0.235, 0.244, 0.34) / before.text)
  })
})

describe('domain weights', () => {
  const documents = 1000
  it('are the larger of the name share and the burstiness in bodies, cubed, and undefined on too little evidence', () => {
    // named after in 10 of 40 agent files: a domain word
    expect(domainWeight({ files: 40, names: 10, bodyDocs: 30, bodyCount: 31 }, documents)).toBe(1)
    // never a name, once in each body that has it: style
    const style = domainWeight({ files: 300, names: 0, bodyDocs: 290, bodyCount: 300 }, documents)!
    expect(style).toBeCloseTo(DOMAIN_RULE.floor ** DOMAIN_RULE.power, 12)
    // never a name, but in bursts (20 times in each of 40 bodies): residual idf log2(1000/40) + log2(1 − e^(−800/1000)) ≈ 3.6 ≥ 1
    expect(domainWeight({ files: 40, names: 0, bodyDocs: 40, bodyCount: 800 }, documents)).toBe(1)
    // half-way on the name share alone: (0.5 · 0.05 · (files + 2) − 0.1) names → (1/2)³
    const half = domainWeight({ files: 98, names: 2.4, bodyDocs: 0, bodyCount: 0 }, documents)!
    expect(half).toBeCloseTo(0.5 ** 3, 12)
    expect(domainWeight({ files: DOMAIN_RULE.minFiles - 1, names: 0, bodyDocs: 0, bodyCount: 0 }, documents)).toBeUndefined()
  })

  it('weigh a phrase as its most domain-like word, and a word the background does not list as 1', () => {
    const domain = new Map([
      ['detail', 0.1],
      ['explan', 0.2],
    ])
    expect(termDomainWeight(domain, 'detail')).toBe(0.1)
    expect(termDomainWeight(domain, 'detail explan')).toBe(0.2)
    expect(termDomainWeight(domain, 'postgresql queri')).toBe(1)
    expect(termDomainWeight(domain, 'detail postgresql')).toBe(1)
    expect(termDomainWeight(domain, 'kafka')).toBe(1)
  })

  it('are counted from names, descriptions and bodies by scripts/build-term-df.ts', () => {
    const agent = (name: string, description: string, body: string) => ({ repo: 'acme/agents', path: `agents/${name}.md`, name, description, body })
    const snapshot: Snapshot = {
      repo: 'acme/agents',
      commit: 'working tree',
      files: 6,
      agents: [
        agent('kafka-pro', 'Runs Kafka clusters, with detailed explanations.', 'Kafka topics. Kafka partitions. Kafka consumers. Kafka lag.'),
        agent('kafka-streams', 'Kafka Streams apps; detailed explanations.', 'Kafka Streams joins. Kafka state stores.'),
        agent('redis-expert', 'Redis caching with detailed explanations.', 'Redis keys and eviction.'),
        agent('mongo-expert', 'MongoDB schemas with detailed explanations.', 'Indexes, explained in detail.'),
        agent('vault-expert', 'Vault secrets, detailed explanations.', 'Policies, explained in detail.'),
        agent('nginx-expert', 'Nginx configs with detailed explanations.', 'Upstreams, explained in detail.'),
      ],
    }
    const bg = buildBackgroundDf([snapshot], 2, TEXT_READING, { ...DOMAIN_RULE, minFiles: 2 })
    expect(bg.domainRule).toEqual({ ...DOMAIN_RULE, minFiles: 2 })
    // "kafka" names two agents and fills their bodies: a domain word, not listed
    expect(bg.domain!['kafka']).toBeUndefined()
    // "detailed" and "explanations" are in every agent and name none: style, (0.1 / 8 / 0.05)³ = 1/64
    expect(bg.domain!['detail']).toBeCloseTo(1 / 64, 3)
    expect(bg.domain!['explan']).toBeCloseTo(1 / 64, 3)
    // "redis" is in one agent only: too little evidence, weighs 1
    expect(bg.domain!['redi']).toBeUndefined()
  })

  it('pull apart two agents of one template that work on different things, and keep an agent written twice together', () => {
    const agents = [
      { name: 'golang-pro', description: 'A Go expert that writes and refactors concurrent Go services. It provides detailed explanations for its choices, focusing on idiomatic code and long-term maintainability.' },
      { name: 'typescript-pro', description: 'A TypeScript expert that writes and refactors type-safe Node.js applications. It provides detailed explanations for its choices, focusing on idiomatic code and long-term maintainability.' },
      { name: 'incident-responder', description: 'Leads the response to production incidents: triage, mitigation, and the postmortem.' },
      { name: 'devops-incident-responder', description: 'Responds to production incidents and outages, finds the root cause from logs and metrics, and fixes it.' },
      { name: 'ui-designer', description: 'Designs screens, components and design tokens in Figma.' },
      { name: 'data-engineer', description: 'Builds batch and streaming pipelines with Spark and Airflow.' },
    ]
    const before = textOf(agents, TEXT_MODEL_GENRE_ONLY, 'golang-pro', 'typescript-pro')
    const after = textOf(agents, TEXT_MODEL, 'golang-pro', 'typescript-pro')
    expect(before.text).toBeGreaterThan(0.2) // the line before
    expect(after.text).toBeLessThan(before.text / 2)
    expect(after.text).toBeLessThan(NEAR_DUPLICATE_SCORE)
    const report = analyseOverlap({ agents: agents.map((a) => ({ ...a, file: `agents/${a.name}.md` })) })
    expect(report.pairs.filter((p) => p.nearDuplicate).map((p) => `${p.a} ~ ${p.b}`)).toEqual(['devops-incident-responder ~ incident-responder'])
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

  it('judges pairs inside one collection too, each once, and none twice across the two truths', () => {
    const truth = JSON.parse(readFileSync(TRUTH_FILE, 'utf8')) as Truth
    const seen = new Set([...truth.same, ...truth.unsure].map((p) => [...p].sort().join(' ~ ')))
    const within = [...truth.within!.overlap, ...truth.within!.different]
    expect(truth.within!.overlap.length).toBeGreaterThanOrEqual(100)
    expect(truth.within!.different.length).toBeGreaterThanOrEqual(20)
    for (const [a, b] of within) {
      expect(a.split(':')[0], `${a} ~ ${b}`).toBe(b.split(':')[0])
      const k = [a, b].sort().join(' ~ ')
      expect(seen.has(k), k).toBe(false)
      seen.add(k)
    }
  })

  it('splits the same-role pairs in two folds that keep a role written several times on one side', () => {
    const same: Array<[string, string]> = [
      ['a:x', 'b:x'],
      ['b:x', 'c:x'],
      ['a:y', 'b:y'],
      ['a:z', 'c:z'],
      ['b:w', 'c:w'],
    ]
    const [foldA, foldB] = truthFolds(same)
    expect(foldA.size + foldB.size).toBe(same.length)
    const side = (a: string, b: string) => (foldA.has(a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`) ? 'A' : 'B')
    expect(side('a:x', 'b:x')).toBe(side('b:x', 'c:x'))
    // the same split whatever the order of the file
    const [againA] = truthFolds([...same].reverse())
    expect([...againA].sort()).toEqual([...foldA].sort())
    const truth = JSON.parse(readFileSync(TRUTH_FILE, 'utf8')) as Truth
    const [A, B] = truthFolds(truth.same)
    expect(Math.min(A.size, B.size)).toBeGreaterThan(truth.same.length / 4)
  })
})
