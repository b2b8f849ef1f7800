import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import type { Catalogue } from '../load/catalogue.js'
import { sha256 } from '../load/catalogue.js'
import type { CapturedRequest } from './claude-code/capture.js'
import { checkCacheFolder } from './journal.js'

/**
 * Captured Claude Code requests, kept next to the run journal (config `cacheDir`), one file per
 * Claude Code version × model × catalogue (× workspace, when one is routed in), so a later run
 * replays the same request without starting the engine again. Written whole (a temporary file,
 * then a rename), so a run killed mid-write or two runs capturing at once leave a whole file.
 */
export type CaptureKey = {
  /** Claude Code's version, from `claude --version` */
  version: string
  model: string
  /** the catalogue's routing fingerprint */
  catalogue: string
  /** every agent's frontmatter exactly as written: the fingerprint folds whitespace, the engine lists the text as it is */
  agents: string
  /** the project the engine ran in (its CLAUDE.md and settings reach the request), or null for an empty one */
  workspace: string | null
}

const capturedSchema = z.object({
  version: z.string().min(1),
  url: z.string().startsWith('/'),
  headers: z.record(z.string(), z.string()),
  body: z.record(z.string(), z.unknown()),
  requests: z.number().int().nonnegative(),
})
const keySchema = z.object({ version: z.string(), model: z.string(), catalogue: z.string(), agents: z.string(), workspace: z.string().nullable() })
const storedSchema = z.object({ routecheckCapture: z.literal(1), key: keySchema, created: z.string(), captured: capturedSchema })

export type StoredCapture = { file: string; created: string; captured: CapturedRequest }

const NOT_FRONTMATTER = new Set(['file', 'nameLine', 'descriptionLine', 'body', 'fingerprint', 'quotingRetry'])

export function captureKey(catalogue: Catalogue, s: { version: string; model: string; workspace?: string | undefined }): CaptureKey {
  const frontmatter = catalogue.agents.map((a) => Object.fromEntries(Object.entries(a).filter(([k]) => !NOT_FRONTMATTER.has(k))))
  return { version: s.version, model: s.model, catalogue: catalogue.fingerprint, agents: sha256(JSON.stringify(frontmatter)), workspace: s.workspace ?? null }
}

export function captureFile(cacheDir: string, key: CaptureKey): string {
  return path.join(cacheDir, `claude-code-request-${sha256(JSON.stringify(key)).slice(0, 24)}.json`)
}

/** The stored capture for this key; undefined when there is none, `problem` when the file is unreadable or belongs to another key. */
export function readCapture(cacheDir: string, key: CaptureKey): StoredCapture | { file: string; problem: string } | undefined {
  const file = captureFile(cacheDir, key)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { file, problem: 'not JSON' }
  }
  const parsed = storedSchema.safeParse(json)
  if (!parsed.success) return { file, problem: `not a captured request (${parsed.error.issues[0]?.path.join('.') || 'top level'}: ${parsed.error.issues[0]?.message})` }
  if (JSON.stringify(parsed.data.key) !== JSON.stringify(keySchema.parse(key))) return { file, problem: 'captured for another version, model or catalogue' }
  return { file, created: parsed.data.created, captured: parsed.data.captured }
}

export function writeCapture(cacheDir: string, key: CaptureKey, captured: CapturedRequest, now: Date = new Date()): StoredCapture {
  const file = captureFile(cacheDir, key)
  checkCacheFolder(cacheDir) // a cacheDir that is a file is bad input (exit 2), not a crash
  mkdirSync(cacheDir, { recursive: true })
  const created = now.toISOString()
  const temp = `${file}.${process.pid}.tmp`
  writeFileSync(temp, `${JSON.stringify({ routecheckCapture: 1, key, created, captured })}\n`)
  renameSync(temp, file)
  return { file, created, captured }
}
