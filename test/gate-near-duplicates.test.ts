import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { NEAR_DUPLICATE_MARGIN, newNearDuplicates, type NewNearDuplicate } from '../src/gate/near-duplicates.js'
import { agentFingerprint, loadCatalogue, type Agent } from '../src/load/catalogue.js'
import { NEAR_DUPLICATE_SCORE, pairTextScores } from '../src/overlap/index.js'

/**
 * The gate's near-duplicate rule on a catalogue shaped like the public
 * community collections (32 roles, three genuinely overlapping pairs), under
 * one realistic edit at a time: whatever an edit does to the text model's
 * document frequencies, a pair of two agents it did not touch must never be
 * reported, and a description copied from another agent must be.
 */

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'community-agents')

type Described = { name: string; description: string; fingerprint: string }

type Edit = {
  label: string
  /** the one agent the edit changes or adds */
  agent: string
  /** the new description, from the agent's old one (or, for an added agent, from the one it copies) */
  rewrite: (old: string) => string
  /** the agent is new, and starts from this agent's description */
  addedFrom?: string
  /** a deliberate copy: the pair with this agent must be flagged */
  copies?: string
}

const EDITS: Edit[] = [
  {
    label: 'reword the first sentence',
    agent: 'python-pro',
    rewrite: (d) => d.replace('Expert Python developer specializing in clean, idiomatic Python 3.11+ code', 'Senior Python engineer who writes clean, idiomatic, fully typed Python 3.12 code'),
  },
  {
    label: 'replace with a longer description',
    agent: 'typescript-pro',
    rewrite: () =>
      'Expert TypeScript developer for type-heavy codebases. Designs generic library APIs, writes conditional, mapped and template literal types, models domain states as discriminated unions, and keeps `strict` on. Migrates JavaScript projects to TypeScript file by file, fixes tsconfig, project references, module resolution (NodeNext, bundler) and .d.ts publishing problems, and speeds up slow type checks. Use PROACTIVELY when a type error is hard to read or a public API needs precise types.',
  },
  { label: 'append a PROACTIVELY trigger', agent: 'golang-pro', rewrite: (d) => `${d} Also use PROACTIVELY for gRPC services, pprof profiling and Go module upgrades.` },
  {
    label: 'add a second example',
    agent: 'rust-pro',
    rewrite: (d) =>
      `${d}\n<example>\nuser: "Wrap this C library so Rust callers never see a raw pointer"\nassistant: "I'll use the rust-pro agent to write a safe FFI wrapper with documented invariants."\n</example>`,
  },
  {
    label: 'reword the trigger sentence',
    agent: 'java-pro',
    rewrite: (d) => d.replace('Use for enterprise Java backends, JVM memory issues, or upgrading legacy Java 8 codebases.', 'Use when a Spring Boot service needs new endpoints, a JVM keeps running out of memory, or a Java 8 codebase must move to Java 21.'),
  },
  {
    label: 'reword one half of an already-overlapping pair',
    agent: 'sql-pro',
    rewrite: (d) => d.replace('Write complex SQL queries, optimize query execution plans', 'Writes and reviews complex SQL, reads query execution plans'),
  },
  { label: 'append a PROACTIVELY trigger', agent: 'react-specialist', rewrite: (d) => `${d} Use PROACTIVELY when a React page feels sluggish or a component grows past a few hundred lines.` },
  {
    label: 'add a second example',
    agent: 'nextjs-developer',
    rewrite: (d) => `${d}\n<example>\nuser: "Move our pages/ directory to the app/ router without breaking SEO"\nassistant: "I'll use the nextjs-developer agent to plan the incremental App Router migration."\n</example>`,
  },
  { label: 'append a PROACTIVELY trigger', agent: 'django-developer', rewrite: (d) => `${d} Use PROACTIVELY for Django migrations that must run on a live database.` },
  { label: 'reword the first sentence', agent: 'fastapi-developer', rewrite: (d) => d.replace('Use this agent for FastAPI services -', 'Builds production FastAPI services with') },
  {
    label: 'replace with a shorter description',
    agent: 'kubernetes-specialist',
    rewrite: () => 'Kubernetes expert for manifests, Helm charts, RBAC, autoscaling and debugging pods stuck in CrashLoopBackOff or Pending. Use for any cluster change on EKS, GKE or AKS.',
  },
  { label: 'append a PROACTIVELY trigger', agent: 'terraform-engineer', rewrite: (d) => `${d} Use PROACTIVELY before any terraform apply that touches networking or IAM.` },
  {
    label: 'replace with a longer description',
    agent: 'docker-expert',
    rewrite: () =>
      'Docker containerization expert. Writes multi-stage Dockerfiles that produce small, reproducible images, pins base images by digest, uses BuildKit cache mounts and secrets, sets up Docker Compose for local development with healthchecks and volumes, and scans images with Trivy or Grype. Use PROACTIVELY when an image is too large, a build is slow, or a container runs as root.',
  },
  {
    label: 'reword one half of an already-overlapping pair',
    agent: 'devops-engineer',
    // 0.25 → 0.31 with sre-engineer: over the line before and after, so never new.
    rewrite: (d) => d.replace('Sets up GitHub Actions or GitLab CI, blue-green and canary deployments', 'Sets up GitHub Actions or GitLab CI, GitOps with Argo CD, blue-green and canary deployments, SLO alerts'),
  },
  {
    label: 'add an example',
    agent: 'security-auditor',
    rewrite: (d) =>
      `${d}\n\n<example>\nuser: "I just finished the password reset flow"\nassistant: "Before this ships I'll use the security-auditor agent to check token expiry, rate limiting and account enumeration."\n</example>`,
  },
  {
    label: 'add an example to one half of an already-overlapping pair',
    agent: 'debugger',
    rewrite: (d) =>
      `${d}\n\n<example>\nuser: "The date parsing test fails only on CI"\nassistant: "I'll use the debugger agent to reproduce it with CI's timezone and locale and find the cause."\n<commentary>\nA failing test with an unknown cause is the debugger's job.\n</commentary>\n</example>`,
  },
  {
    label: 'reword the first sentence',
    agent: 'performance-engineer',
    rewrite: (d) => d.replace('Expert performance engineer specializing in profiling, load testing and optimization across the stack', 'Performance engineer who profiles, load tests and speeds up services end to end'),
  },
  { label: 'drop the example', agent: 'ml-engineer', rewrite: (d) => d.slice(0, d.indexOf('\n\n<example>')) },
  { label: 'append a PROACTIVELY trigger', agent: 'data-engineer', rewrite: (d) => `${d} Use PROACTIVELY when a nightly job misses its deadline or loads duplicate rows.` },
  {
    label: 'reword the trigger sentence',
    agent: 'data-scientist',
    rewrite: (d) => d.replace('Use PROACTIVELY for data analysis questions, metric deep-dives or interpreting experiment results.', 'Use when someone asks why a metric moved, whether an experiment won, or what the data says.'),
  },
  {
    label: 'replace with a longer description',
    agent: 'technical-writer',
    rewrite: () =>
      'Use this agent to write or edit developer documentation: READMEs, getting-started guides, API reference pages generated from OpenAPI or JSDoc, tutorials, migration guides, architecture decision records and release notes. Checks that every code sample runs, keeps terminology consistent, and rewrites dense paragraphs into short steps. Use PROACTIVELY after a feature lands without docs.',
  },
  {
    label: 'add an example',
    agent: 'code-reviewer',
    rewrite: (d) => `${d}\n\n<example>\nuser: "Done with the retry logic for the payment client"\nassistant: "Now I'll use the code-reviewer agent to review the diff before you commit."\n</example>`,
  },
  { label: 'append a sentence', agent: 'test-automator', rewrite: (d) => `${d} Also sets up contract tests between services.` },
  {
    label: 'reword the first sentence',
    agent: 'mobile-developer',
    rewrite: (d) => d.replace('Use this agent when building cross-platform or native mobile apps with', 'Use this agent for iOS and Android app work in'),
  },
  { label: 'append a PROACTIVELY trigger', agent: 'ui-designer', rewrite: (d) => `${d} Use PROACTIVELY when a new screen is being designed or a component gains a new state.` },
  // Moves graphql-architect × api-designer from 0.06 to 0.256: over the line (0.25), under line + margin.
  { label: 'append a REST sentence (hovers at the line)', agent: 'graphql-architect', rewrite: (d) => `${d} Also reviews REST API versioning, pagination, idempotency and rate limits.` },
  {
    label: 'copy most of security-auditor',
    agent: 'penetration-tester',
    copies: 'security-auditor',
    rewrite: () =>
      'Use this agent to test code and configuration for security vulnerabilities - OWASP Top 10 issues, injection, broken authentication and access control, secrets committed to the repository, insecure dependencies and weak cryptography. Produces a prioritized findings report with severity and remediation steps. Use PROACTIVELY before releases.',
  },
  {
    label: 'copy react-specialist with the framework swapped',
    agent: 'vue-expert',
    copies: 'react-specialist',
    rewrite: () =>
      'Expert Vue specialist focused on Vue 3 component architecture, composables, state management with Pinia or Vue Query, and rendering performance through memoization and Suspense. Use when building or refactoring Vue components, fixing re-render storms, or designing a shared component library.',
  },
  {
    label: 'add a new agent copying postgres-pro',
    agent: 'postgres-dba',
    addedFrom: 'postgres-pro',
    copies: 'postgres-pro',
    rewrite: (d) => d.replace('Expert PostgreSQL specialist', 'PostgreSQL DBA').replace(', tunes autovacuum, shared_buffers and', ', tunes autovacuum and'),
  },
]

/** The pairs of the untouched fixture at or over the line: the three overlaps written into it on purpose. */
const OVERLAPPING = [
  ['debugger', 'incident-responder'],
  ['devops-engineer', 'sre-engineer'],
  ['postgres-pro', 'sql-pro'],
] as const

let agents: Agent[]
let baseline: Described[]

const described = (a: Pick<Agent, 'name' | 'description' | 'tools' | 'disallowedTools'>): Described => ({ name: a.name, description: a.description, fingerprint: agentFingerprint(a) })

/** The catalogue after one edit: every other agent exactly as loaded. */
function apply(edit: Edit): Described[] {
  if (edit.addedFrom !== undefined) {
    const from = agents.find((a) => a.name === edit.addedFrom)!
    return [...baseline, described({ name: edit.agent, description: edit.rewrite(from.description), tools: from.tools })]
  }
  const target = agents.find((a) => a.name === edit.agent)
  if (!target) throw new Error(`no agent ${edit.agent} in the fixture`)
  return agents.map((a) => (a === target ? described({ ...a, description: edit.rewrite(a.description) }) : described(a)))
}

/**
 * A pair's text scores before and after an edit, in one model fitted as the
 * gate fits it: the baseline's descriptions, then the edited agents' new ones.
 */
function gateScores(current: Described[], a: string, b: string): { before: number; after: number } {
  const old = new Map(baseline.map((x) => [x.name, x.fingerprint]))
  const editedAgents = current.filter((x) => old.get(x.name) !== x.fingerprint)
  const docs = [...baseline, ...editedAgents]
  const beforeAt = (name: string) => baseline.findIndex((x) => x.name === name)
  const afterAt = (name: string) => {
    const k = editedAgents.findIndex((x) => x.name === name)
    return k >= 0 ? baseline.length + k : beforeAt(name)
  }
  const [before, after] = pairTextScores(docs, [
    [beforeAt(a), beforeAt(b)],
    [afterAt(a), afterAt(b)],
  ])
  return { before: before!.text, after: after!.text }
}

const names = (p: NewNearDuplicate) => [p.a, p.b].sort().join(' × ')

beforeAll(async () => {
  const { catalogue, invalid } = await loadCatalogue(FIXTURE)
  expect(invalid).toEqual([])
  agents = catalogue.agents
  baseline = agents.map(described)
})

describe('the community-agents fixture', () => {
  it('loads 32 agents, and only its three deliberate overlaps score at or over the line untouched', () => {
    expect(agents).toHaveLength(32)
    expect(baseline.map((a) => a.fingerprint)).toEqual(agents.map((a) => a.fingerprint))
    const pairs: Array<[string, string]> = []
    for (const x of agents) for (const y of agents) if (x.name < y.name) pairs.push([x.name, y.name])
    const scores = pairTextScores(
      agents,
      pairs.map(([a, b]) => [agents.findIndex((x) => x.name === a), agents.findIndex((x) => x.name === b)] as const),
    )
    const over = pairs.filter((_, k) => scores[k]!.text >= NEAR_DUPLICATE_SCORE)
    expect(over).toEqual(OVERLAPPING.map(([a, b]) => [a, b]))
  })
})

describe('newNearDuplicates under single-agent edits of the community fixture', () => {
  it(`never reports a pair of two untouched agents, over ${EDITS.length} edits`, () => {
    expect(EDITS.length).toBeGreaterThanOrEqual(20)
    let flagged = 0
    const violations: string[] = []
    for (const edit of EDITS) {
      const current = apply(edit)
      // The edit touches exactly its one agent.
      const changed = current.filter((a) => baseline.find((b) => b.name === a.name)?.fingerprint !== a.fingerprint).map((a) => a.name)
      expect(changed, edit.label).toEqual([edit.agent])
      const pairs = newNearDuplicates(baseline, current)
      flagged += pairs.length
      for (const p of pairs) {
        if (p.a !== edit.agent && p.b !== edit.agent) violations.push(`${edit.agent} (${edit.label}): ${names(p)}`)
        else expect(p.edited, `${edit.agent}: ${names(p)}`).toEqual([edit.agent])
        expect(p.after).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE + NEAR_DUPLICATE_MARGIN)
        if (p.before !== undefined) expect(p.before).toBeLessThan(NEAR_DUPLICATE_SCORE)
      }
    }
    console.log(`near-duplicate gate on test/fixtures/community-agents: ${EDITS.length} single-agent edits tried, ${flagged} pairs flagged, ${violations.length} pairs naming two untouched agents`)
    expect(violations).toEqual([])
  })

  it('flags the deliberate copies with the agent they copy, and no ordinary edit', () => {
    for (const edit of EDITS) {
      const pairs = newNearDuplicates(baseline, apply(edit))
      if (edit.copies === undefined) {
        expect(pairs.map(names), `${edit.agent} (${edit.label})`).toEqual([])
        continue
      }
      const copy = pairs.find((p) => [p.a, p.b].includes(edit.copies!))
      expect(copy, `${edit.agent} copying ${edit.copies}`).toBeDefined()
      expect(copy!.edited).toEqual([edit.agent])
      expect(copy!.after).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE + NEAR_DUPLICATE_MARGIN)
      expect(copy!.sharedTerms.length).toBeGreaterThan(0)
      if (edit.addedFrom !== undefined) expect(copy!.before).toBeUndefined()
      else expect(copy!.before!).toBeLessThan(NEAR_DUPLICATE_SCORE)
    }
  })

  it('does not flag a pair an edit leaves hovering between the line and line + margin', () => {
    const edit = EDITS.find((e) => e.agent === 'graphql-architect')!
    const current = apply(edit)
    const { before, after } = gateScores(current, 'api-designer', 'graphql-architect')
    expect(before).toBeLessThan(NEAR_DUPLICATE_SCORE)
    expect(after).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE)
    expect(after).toBeLessThan(NEAR_DUPLICATE_SCORE + NEAR_DUPLICATE_MARGIN)
    expect(newNearDuplicates(baseline, current)).toEqual([])
    // The margin is what holds it back: with none, the same edit is flagged, with the same scores.
    const unguarded = newNearDuplicates(baseline, current, NEAR_DUPLICATE_SCORE, 0)
    expect(unguarded.map(names)).toEqual(['api-designer × graphql-architect'])
    expect(unguarded[0]!.before).toBeCloseTo(before, 12)
    expect(unguarded[0]!.after).toBeCloseTo(after, 12)
  })

  it('leaves a pair already over the line unflagged, whether the edit touches it or not', () => {
    for (const edit of EDITS) {
      const flagged = newNearDuplicates(baseline, apply(edit)).map(names)
      for (const [a, b] of OVERLAPPING) expect(flagged, `${edit.agent} (${edit.label})`).not.toContain(`${a} × ${b}`)
    }
    // An edit to one half of an overlapping pair, scored with no margin at all: still not new, because it was over before.
    for (const [agent, partner] of [
      ['sql-pro', 'postgres-pro'],
      ['devops-engineer', 'sre-engineer'],
      ['debugger', 'incident-responder'],
    ] as const) {
      const current = apply(EDITS.find((e) => e.agent === agent)!)
      const { before, after } = gateScores(current, agent, partner)
      expect(before, `${agent} × ${partner} before`).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE)
      expect(after, `${agent} × ${partner} after`).toBeGreaterThanOrEqual(NEAR_DUPLICATE_SCORE)
      expect(newNearDuplicates(baseline, current, NEAR_DUPLICATE_SCORE, 0).map(names)).not.toContain([agent, partner].sort().join(' × '))
    }
  })
})
