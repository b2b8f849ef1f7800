import { seededRandom as rng } from '../src/score/stats.js'
import { analyseOverlap, type OverlapAgent } from '../src/overlap/index.js'

/**
 * Overlap at scale: synthetic catalogues of 200, 1,000 and 2,000 agents with
 * realistic descriptions (roles with their own vocabularies, shared
 * boilerplate, optional <example> blocks, 200–2,000 characters, a few planted
 * copies), timed through `analyseOverlap`. Returns the rows; prints nothing.
 */


const ROLES: Array<[string, string]> = [
  ['frontend', 'react components hooks nextjs tailwind css accessibility aria hydration bundle webpack vite redux zustand storybook'],
  ['backend', 'rest endpoints graphql resolvers pagination rate limiting idempotency webhooks openapi grpc middleware sessions'],
  ['python', 'django fastapi flask pydantic sqlalchemy celery asyncio pytest poetry typing dataclasses uvicorn'],
  ['golang', 'goroutines channels context cancellation pprof modules generics interfaces errgroup race detector'],
  ['rust', 'ownership borrowing lifetimes tokio cargo traits unsafe serde clippy async wasm'],
  ['java', 'spring boot hibernate maven gradle jvm garbage collection jpa kafka reactive'],
  ['database', 'postgresql mysql indexes explain query plans vacuum replication partitioning deadlocks migrations'],
  ['devops', 'terraform kubernetes helm docker pipelines github actions argo rollouts autoscaling ingress'],
  ['cloud', 'aws gcp azure iam vpc lambda s3 cloudformation cost budgets landing zones'],
  ['security', 'owasp injection xss csrf secrets cve threat model penetration jwt oauth audit compliance'],
  ['testing', 'playwright cypress jest vitest flaky fixtures mocks coverage snapshot contract e2e'],
  ['data-science', 'pandas notebooks regression hypothesis experiments ab tests statistics features leakage'],
  ['ml', 'pytorch training fine tuning embeddings evaluation datasets gpus inference quantization mlflow'],
  ['data-engineering', 'airflow dbt spark warehouse etl batch streaming parquet lakehouse schemas'],
  ['mobile', 'ios android swift kotlin swiftui compose flutter push notifications app store deep links'],
  ['docs', 'readme tutorials reference changelog guides docusaurus diagrams tone style glossary'],
  ['review', 'code review readability naming complexity refactoring smells duplication maintainability'],
  ['sre', 'incidents slos alerting on call runbooks postmortems latency error budgets tracing'],
  ['observability', 'prometheus grafana opentelemetry logs metrics traces dashboards cardinality'],
  ['ux', 'wireframes user research personas usability prototypes figma journeys heuristics'],
  ['product', 'roadmap prioritisation requirements user stories okrs discovery stakeholders'],
  ['game', 'unity unreal shaders physics gameplay frame rate multiplayer netcode assets'],
  ['embedded', 'firmware microcontrollers rtos interrupts i2c spi bootloader power consumption'],
  ['blockchain', 'solidity smart contracts ethereum gas audits tokens wallets evm'],
  ['accessibility', 'wcag screen readers keyboard focus contrast captions semantic markup audits'],
  ['performance', 'profiling flame graphs latency throughput caching allocation benchmarks hot paths'],
  ['api-design', 'versioning resources pagination errors schemas sdk deprecation contracts'],
  ['search', 'elasticsearch relevance ranking analyzers synonyms vectors bm25 indexing'],
  ['payments', 'stripe invoices subscriptions refunds pci reconciliation ledgers webhooks'],
  ['legal', 'contracts licences gdpr privacy policies terms clauses compliance review'],
]

const BOILERPLATE = `Use this agent when|Use PROACTIVELY for|Expert in|Specialises in|Handles|Helps teams with|Reviews and improves|Designs and builds|Debugs and fixes|Plans and documents`.split('|')
const GENERIC = 'production quality reliable scalable best practices modern maintainable robust performance design implementation review architecture tooling workflows automation debugging optimisation'.split(' ')
const DOMAINS = 'healthcare fintech retail logistics gaming media education insurance travel energy telecom government agriculture automotive'.split(' ')
const SYLLABLES = 'ka lo mi ne tor va zen rix qu pel dor fi sa mo tek lan bri gor ux el'.split(' ')

/** A synthetic catalogue with planted near-copies (`planted` names each copy and its source). */
export function syntheticCatalogue(n: number, seed = 1): { agents: OverlapAgent[]; planted: Array<[string, string]> } {
  const random = rng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const pickSome = <T>(xs: readonly T[], k: number): T[] => Array.from({ length: k }, () => pick(xs))
  // Each role also gets made-up product names, so a large catalogue has a large vocabulary, as real ones do.
  const roles = ROLES.map(([role, words]) => {
    const products = Array.from({ length: 40 }, () => pickSome(SYLLABLES, 2 + Math.floor(random() * 2)).join(''))
    return { role, words: words.split(' '), products }
  })

  const agents: OverlapAgent[] = []
  const planted: Array<[string, string]> = []
  const plantEvery = 50
  for (let k = 0; agents.length < n; k++) {
    if (k > 0 && k % plantEvery === 0 && agents.length > 0) {
      // A copy with light edits under another name.
      const source = agents[Math.floor(random() * agents.length)]!
      const name = `copy-${k}-of-${source.name}`
      const words = source.description.split(' ')
      for (let e = 0; e < Math.max(2, words.length / 25); e++) words[Math.floor(random() * words.length)] = pick(GENERIC)
      agents.push({ name, description: words.join(' '), file: `agents/${name}.md` })
      planted.push([source.name, name])
      continue
    }
    const r = pick(roles)
    const name = `${r.role}-${pick(['engineer', 'expert', 'pro', 'helper', 'architect', 'reviewer', 'specialist'])}-${k}`
    // Each agent has a focus: a few of its role's words, its own products, a domain and a handful of words of its own.
    const focus = Array.from(new Set(pickSome(r.words, 6)))
    const products = pickSome(r.products, 4)
    const own = Array.from({ length: 6 }, () => pickSome(SYLLABLES, 3).join(''))
    const vocabulary = [...focus, ...products, ...own, ...own, pick(DOMAINS), pick(DOMAINS)]
    const target = 200 + Math.floor(random() * random() * 1800)
    const sentences: string[] = []
    let text = ''
    while (text.length < target) {
      const kind = random()
      let s: string
      if (kind < 0.55) s = `${pick(BOILERPLATE)} ${pickSome(vocabulary, 3 + Math.floor(random() * 4)).join(', ')} and ${pick(vocabulary)}.`
      else if (kind < 0.8) s = `It covers ${pick(GENERIC)} ${pick(vocabulary)} with ${pick(vocabulary)}, ${pick(vocabulary)} and ${pick(GENERIC)} ${pick(r.words)}.`
      else {
        const ask = pickSome(vocabulary, 4).join(' ')
        s = `<example>Context: the user works on ${pick(vocabulary)}. user: "Please help with ${ask} in ${pick(products)}" assistant: "I'll use the ${name} agent to handle the ${pick(vocabulary)} work" <commentary>${pick(focus)} work is what ${name} is for.</commentary></example>`
      }
      sentences.push(s)
      text = sentences.join(' ')
    }
    agents.push({ name, description: text.slice(0, 2000), file: `agents/${name}.md` })
  }
  return { agents, planted }
}

/** One size, measured in a process of its own (the harness spawns one per case), so peak RSS is this run's alone. */
export function benchOverlap(n: number): Record<string, number> {
  const { agents } = syntheticCatalogue(n, n)
  const started = performance.now()
  const report = analyseOverlap({ agents })
  const ms = performance.now() - started
  return { agents: n, ms: Math.round(ms), pairs: report.pairs.length, clusters: report.clusters.length }
}
