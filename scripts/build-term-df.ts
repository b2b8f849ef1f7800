/**
 * Builds src/overlap/background-df.json: how many real agent descriptions
 * hold each term, so the overlap text model can tell a word of the genre
 * ("type", "idiomatic", "explanations", "proactively") from a word of a
 * domain ("postgres", "terraform") in a catalogue of thirty agents, where
 * every word is rare.
 *
 *   node --import tsx scripts/build-term-df.ts SNAPSHOT… [--out FILE]
 *
 * A SNAPSHOT is a git directory of a public collection of Claude Code agents
 * (its HEAD is read; `owner/name=PATH` names it, else a PATH laid out as
 * …/owner+name/repo gives the name), or a plain folder. Nothing is
 * downloaded here. Each `.md` file is read with routecheck's own loader
 * (parseAgentFile): files that are no agent file (no frontmatter, no name or
 * description), skills (SKILL.md, skills/) and commands (commands/) are left
 * out, and a description seen before (folded whitespace, any case: forks and
 * plugins copy files) counts once. Each agent is read into terms exactly as
 * the overlap text model reads it (termsOfAgent), and only terms in two
 * documents or more are kept: the counts are derived statistics; no text of
 * the collections is written.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAgentFile } from '../src/load/catalogue.js'
import { BACKGROUND_MIN_DF, DOMAIN_RULE, domainWeight, termsOfAgent, TEXT_READING, type BackgroundDf, type DomainRule, type TextReading, type WordStats } from '../src/overlap/text.js'
import { nameWords, termTokens } from '../src/text/terms.js'

export type SnapshotAgent = { repo: string; path: string; name: string; description: string; body: string }
export type Snapshot = { repo: string; commit: string; files: number; agents: SnapshotAgent[] }

/** Folders whose Markdown files are not subagents even when they carry a name and a description. */
const NOT_AGENTS = /(^|\/)(commands|skills|docs|templates|\.github|\.claude\/commands)\//i
const isAgentPath = (p: string) => p.endsWith('.md') && !NOT_AGENTS.test(p) && path.basename(p).toUpperCase() !== 'SKILL.MD'

function git(gitDir: string, args: string[], input?: string): string {
  return execFileSync('git', [`--git-dir=${gitDir}`, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, ...(input !== undefined ? { input } : {}) })
}

/** `owner/name=PATH`, or a PATH whose folders say owner+name. */
export function parseSpec(spec: string): { repo: string; location: string } {
  const eq = spec.indexOf('=')
  if (eq > 0 && /^[\w.-]+\/[\w.-]+$/.test(spec.slice(0, eq))) return { repo: spec.slice(0, eq), location: spec.slice(eq + 1) }
  const named = path
    .resolve(spec)
    .split(path.sep)
    .reverse()
    .find((part) => /^[\w.-]+\+[\w.-]+$/.test(part))
  return { repo: named ? named.replace('+', '/') : path.basename(path.resolve(spec)), location: spec }
}

/** Every agent file of one snapshot (a git directory's HEAD, or a folder), read with routecheck's loader. */
export function readSnapshot(spec: string): Snapshot {
  const { repo, location } = parseSpec(spec)
  const texts: Array<{ path: string; text: string }> = []
  let commit = 'working tree'
  const isGit = statSync(location).isDirectory() && (() => {
    try {
      git(location, ['rev-parse', '--verify', 'HEAD'])
      return true
    } catch {
      return false
    }
  })()
  if (isGit) {
    commit = git(location, ['rev-parse', 'HEAD']).trim()
    const blobs = git(location, ['ls-tree', '-r', '-z', 'HEAD'])
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const [meta, file] = line.split('\t') as [string, string]
        const [, type, sha] = meta.split(' ') as [string, string, string]
        return { type, sha, file }
      })
      .filter((b) => b.type === 'blob' && isAgentPath(b.file))
      .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
    // One `git cat-file --batch` for all blobs: "<sha> blob <size>\n<content>\n" each.
    const out = execFileSync('git', [`--git-dir=${location}`, 'cat-file', '--batch'], { input: blobs.map((b) => b.sha).join('\n') + '\n', maxBuffer: 1 << 30 })
    let at = 0
    for (const b of blobs) {
      const headerEnd = out.indexOf(0x0a, at)
      const header = out.subarray(at, headerEnd).toString('utf8')
      const size = Number(header.split(' ')[2])
      if (!Number.isFinite(size)) throw new Error(`${repo}: cannot read ${b.file} (${header})`)
      texts.push({ path: b.file, text: out.subarray(headerEnd + 1, headerEnd + 1 + size).toString('utf8') })
      at = headerEnd + 1 + size + 1
    }
  } else {
    const files = (readdirSync(location, { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/')).filter(isAgentPath).sort()
    for (const f of files) texts.push({ path: f, text: readFileSync(path.join(location, f), 'utf8') })
  }
  const agents: SnapshotAgent[] = []
  for (const { path: file, text } of texts) {
    const parsed = parseAgentFile(file, text)
    if ('reason' in parsed) continue
    agents.push({ repo, path: file, name: parsed.name, description: parsed.description, body: parsed.body })
  }
  return { repo, commit, files: texts.length, agents }
}

/** The key under which two descriptions are one document: forks and plugin folders copy files verbatim. */
export const descriptionKey = (description: string) => description.replace(/\s+/g, ' ').trim().toLowerCase()

/**
 * Document frequencies over the snapshots' agents, each distinct description
 * counted once, pruned to terms in `minDf` documents or more; and each word's
 * domain weight (`domainWeight`), from how often agents are named after it
 * and how it is spread over their bodies (the body of a file is read for
 * these counts only, never written).
 */
export function buildBackgroundDf(snapshots: readonly Snapshot[], minDf = BACKGROUND_MIN_DF, reading: TextReading = TEXT_READING, rule: DomainRule = DOMAIN_RULE): BackgroundDf {
  const seen = new Set<string>()
  const counts = new Map<string, number>()
  const words = new Map<string, WordStats>()
  const stats = (w: string) => {
    let st = words.get(w)
    if (!st) words.set(w, (st = { files: 0, names: 0, bodyDocs: 0, bodyCount: 0 }))
    return st
  }
  const role = new Set(reading.roleWords)
  const wordsOf = (text: string) => termTokens(text).filter((t) => !role.has(t.word)).map((t) => t.term)
  let documents = 0
  const sources: BackgroundDf['sources'] = []
  for (const s of snapshots) {
    let kept = 0
    for (const a of s.agents) {
      const k = descriptionKey(a.description)
      if (seen.has(k)) continue
      seen.add(k)
      kept++
      documents++
      const terms = termsOfAgent(a, reading)
      for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1)
      const body = wordsOf(a.body ?? '')
      const inBody = new Map<string, number>()
      for (const w of body) inBody.set(w, (inBody.get(w) ?? 0) + 1)
      for (const [w, c] of inBody) {
        const st = stats(w)
        st.bodyDocs++
        st.bodyCount += c
      }
      for (const w of new Set(wordsOf(nameWords(a.name)))) stats(w).names++
      for (const w of new Set([...[...terms].filter((t) => !t.includes(' ')), ...inBody.keys()])) stats(w).files++
    }
    sources.push({ repo: s.repo, commit: s.commit, agentFiles: s.agents.length, documents: kept })
  }
  const df: Record<string, number> = {}
  for (const [t, c] of [...counts].filter(([, c]) => c >= minDf).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) df[t] = c
  const domain: Record<string, number> = {}
  for (const [w, st] of [...words].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const weight = domainWeight(st, documents, rule)
    if (weight !== undefined && weight < 1) domain[w] = Number(weight.toPrecision(3))
  }
  return {
    $comment: 'Document frequencies of the overlap text model\'s terms (stems, and two stems joined by a space) over public collections of Claude Code agent descriptions, and each word\'s domain weight (how much it names a domain rather than a style of writing); derived counts only. Rebuild with scripts/build-term-df.ts.',
    reading,
    documents,
    minDf,
    sources,
    df,
    domainRule: rule,
    domain,
  }
}

/** JSON with one source and one term a line, so a rebuild reads as a diff. */
export function formatBackground(bg: BackgroundDf): string {
  const { df, sources, domain, ...head } = bg
  const lines = [
    '{',
    ...Object.entries(head).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`),
    '  "sources": [',
    sources.map((s) => `    ${JSON.stringify(s)}`).join(',\n'),
    '  ],',
    '  "df": {',
    Object.entries(df)
      .map(([t, c]) => `${JSON.stringify(t)}:${c}`)
      .join(',\n'),
    `  }${domain ? ',' : ''}`,
    ...(domain
      ? [
          '  "domain": {',
          Object.entries(domain)
            .map(([t, w]) => `${JSON.stringify(t)}:${w}`)
            .join(',\n'),
          '  }',
        ]
      : []),
    '}',
  ]
  return `${lines.join('\n')}\n`
}

async function main(argv: string[]): Promise<void> {
  const outAt = argv.indexOf('--out')
  const out = outAt >= 0 ? argv[outAt + 1]! : fileURLToPath(new URL('../src/overlap/background-df.json', import.meta.url))
  const specs = outAt >= 0 ? argv.filter((_, i) => i !== outAt && i !== outAt + 1) : argv
  if (specs.length === 0) {
    console.error('usage: node --import tsx scripts/build-term-df.ts SNAPSHOT… [--out FILE]\n  SNAPSHOT: a git directory or folder of agent files, optionally as owner/name=PATH')
    process.exit(2)
  }
  const snapshots = specs.map(readSnapshot)
  const bg = buildBackgroundDf(snapshots)
  for (const s of bg.sources) console.error(`${s.repo}@${s.commit.slice(0, 12)}: ${s.agentFiles} agent files, ${s.documents} new descriptions`)
  writeFileSync(out, formatBackground(bg))
  console.error(`${bg.documents} documents, ${Object.keys(bg.df).length} terms in ≥ ${bg.minDf} documents, ${Object.keys(bg.domain ?? {}).length} words weighing under 1, ${(statSync(out).size / 1024).toFixed(0)} KB → ${path.relative(process.cwd(), out)}`)
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2))
