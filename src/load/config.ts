import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { didYouMean } from './closest-names.js'
import { errnoCode, fsFailure, InputError, type Problem } from './input-error.js'
import { gitRefSchema } from './git.js'
import { jsonLocator } from './json-file.js'

export const DEFAULT_CONFIG_FILE = 'routecheck.config.json'

/** Repeats per case: past 50, a tie-break is already settled and each repeat is paid for. */
export const MAX_REPEATS = 50

/** Rounds of `improve`: past 5 a rewriter mostly fits the train half (Anthropic's skill-creator stops at 5 too), and each round routes the whole dataset again. */
export const MAX_IMPROVE_ROUNDS = 5

/** Who writes `overlap --probe`'s prompts: Claude, through generate's drafting requests, or the descriptions' own <example> turns, offline. */
export const probeSourceSchema = z.enum(['claude', 'examples'])
export type ProbeSource = z.infer<typeof probeSourceSchema>

/**
 * The anthropic router's request styles: Claude Code's own request, captured from the engine and replayed
 * (needs the Agent SDK); routecheck's hand-written approximation of Claude Code's Agent tool; or a forced
 * `route` classifier tool.
 */
/**
 * The Message Batches API's limits on one batch (Anthropic's batch-processing guide): 100,000
 * requests or 256 MB of request body, whichever comes first.
 */
export const BATCH_LIMITS = { maxRequests: 100_000, maxBytes: 256 * 1024 * 1024 } as const

/** The prompt cache's lifetimes: 5 minutes (the default), or 1 hour at a dearer write (prices.json `cacheWrite1h`). */
export const cacheTtlSchema = z.enum(['5m', '1h'])
export type CacheTtl = z.infer<typeof cacheTtlSchema>

export const routerStyleSchema = z.enum(['claude-code', 'template', 'classifier'])
export type RouterStyle = z.infer<typeof routerStyleSchema>

/** routecheck.config.json. Every object is strict: a misspelt key is an error, not a silent default. */
export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  /** one folder, or several merged with Claude Code's precedence (a project's .claude/agents over ~/.claude/agents) */
  agents: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'takes a folder, or a list of folders' })
    .transform((v) => (typeof v === 'string' ? [v] : v))
    .default(['agents']),
  datasets: z.array(z.string().min(1)).min(1).default(['datasets/routing.csv']),
  router: z.string().min(1).default('lexical'),
  /** run folders go to OUT/<dataset-file-stem>/ */
  out: z.string().min(1).default('reports/latest'),
  /** default: 1 for deterministic routers, 3 for model routers */
  repeats: z.number().int().min(1).max(MAX_REPEATS).optional(),
  concurrency: z.number().int().min(1).max(512).default(8),
  /** seconds per routing request */
  timeout: z.number().positive().max(3600).default(60),
  /** tries per request, the first included, before its error is recorded */
  maxTries: z.number().int().min(1).max(20).default(6),
  /** where the run journal keeps finished requests */
  cacheDir: z.string().min(1).default('.routecheck/cache'),
  lexical: z
    .strictObject({
      noneThreshold: z.number().min(0).optional(),
      nameWeight: z.number().min(0).optional(),
      k1: z.number().positive().optional(),
      b: z.number().min(0).max(1).optional(),
    })
    .prefault({}),
  anthropic: z
    .strictObject({
      model: z.string().min(1).optional(),
      style: routerStyleSchema.optional(),
      template: z.string().min(1).optional(),
      maxTokens: z.number().int().min(1).max(64000).optional(),
      /** sent only when set: some models reject sampling parameters */
      temperature: z.number().min(0).max(1).optional(),
      /** a price table replacing the bundled one (USD per million tokens) */
      prices: z.string().min(1).optional(),
    })
    .prefault({}),
  /** the claude-code router: Claude Code itself routes each case */
  claudeCode: z
    .strictObject({
      /** the Claude Code executable (default: `claude` on PATH, else the Agent SDK's bundled binary) */
      bin: z.string().min(1).optional(),
      /** route inside this real project (its CLAUDE.md, settings, skills and agents), copied, never touched */
      workspace: z.string().min(1).optional(),
    })
    .prefault({}),
  /** `routecheck improve`: rewrites of the agents' descriptions, kept only when proven better */
  improve: z
    .strictObject({
      /** rounds of rewriting; each round drafts one rewrite of every chosen agent and routes every case with it */
      rounds: z.number().int().min(1).max(MAX_IMPROVE_ROUNDS).default(3),
      /** the share of each label's cases held out to pick the winner (the rest is the train half, which the rewriter sees) */
      testShare: z.number().min(0.2).max(0.8).default(0.5),
      /** the model that drafts the rewrites (default: the drafting model, DEFAULT_DRAFT_MODEL) */
      model: z.string().min(1).optional(),
    })
    .prefault({}),
  /** `overlap --probe`: routing evidence without a labelled dataset (unset keys: the defaults in src/draft/probe.ts) */
  probe: z
    .strictObject({
      /** who writes the prompts (default claude) */
      from: probeSourceSchema.optional(),
      /** pairs probed at most: the near-duplicates first, then a few just under the line */
      pairs: z.number().int().min(1).max(1000).optional(),
      /** prompts per agent of a probed pair */
      prompts: z.number().int().min(1).max(100).optional(),
      /** the model that drafts them (default: the drafting model, DEFAULT_DRAFT_MODEL) */
      model: z.string().min(1).optional(),
    })
    .prefault({}),
  /** --batch: the anthropic router's requests go through the Message Batches API */
  batch: z
    .strictObject({
      /** seconds between status checks of a batch in flight (--batch-poll) */
      pollSeconds: z.number().positive().max(3600).default(30),
      /**
       * the prompt cache's lifetime for the shared prefix: a batch can take longer than 5 minutes to
       * reach every request, so by default the first write lives an hour
       */
      cacheTtl: cacheTtlSchema.default('1h'),
      /** requests per batch, at most the API's limit; smaller batches end sooner */
      maxRequests: z.number().int().min(1).max(BATCH_LIMITS.maxRequests).default(BATCH_LIMITS.maxRequests),
    })
    .prefault({}),
  gate: z
    .strictObject({
      maxAccuracyDrop: z.number().min(0).max(1).default(0.02),
      maxAgentF1Drop: z.number().min(0).max(1).default(0.1),
      minSupport: z.number().int().min(0).default(5),
      maxStableFlips: z.number().int().min(0).default(0),
      failOnNewNearDuplicates: z.boolean().default(true),
      /**
       * an agent the change edits or adds needs this many cases of its own (labelled for it, not
       * from-description) or the gate fails; 0 only notes it: with none, its recall is unmeasured,
       * but failing every pull request that edits an agent the dataset lacks would cry wolf
       */
      minChangedAgentCases: z.number().int().min(0).default(0),
      /**
       * read the baseline as it is at this git revision (the branch pull requests go into), not the
       * working tree's: a pull request that re-makes the baseline would be compared with itself
       */
      baselineRef: gitRefSchema.optional(),
    })
    .prefault({}),
})
export type Config = z.infer<typeof configSchema>

/**
 * Reads the config file. A missing default config is fine (defaults apply); a
 * missing file named with --config is an error. Paths in the file are
 * relative to the file's folder.
 */
export async function loadConfig(file: string | undefined): Promise<{ config: Config; file: string | undefined }> {
  const target = file ?? DEFAULT_CONFIG_FILE
  let text: string
  try {
    text = await readFile(target, 'utf8')
  } catch (e) {
    const code = errnoCode(e)
    const missing = code === 'ENOENT' || code === 'ENOTDIR'
    // A routecheck.config.json that is a folder or unreadable is not "no config": its settings would be lost without a word.
    if (file !== undefined || !missing) {
      throw new InputError([{ file: target, message: missing ? 'the config file does not exist' : `the config file cannot be read (${fsFailure(e)})`, fix: file !== undefined ? 'check the path given to --config' : `make ${target} a readable JSON file, or remove it` }])
    }
    // No config: the agents are where Claude Code keeps them, unless the repository has an agents/ folder.
    const claudeAgents = path.join('.claude', 'agents')
    const agents = !existsSync('agents') && existsSync(claudeAgents) ? [claudeAgents] : undefined
    return { config: configSchema.parse(agents ? { agents } : {}), file: undefined }
  }
  const config = parseConfig(target, text)
  const base = path.dirname(target)
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.relative(process.cwd(), path.join(base, p)) || '.')
  // "~/.claude/agents" in a config means the user's folder, as in a shell.
  const home = process.env.HOME || process.env.USERPROFILE || os.homedir()
  const resolveHome = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(home, p.slice(1)) : resolve(p))
  return {
    config: {
      ...config,
      agents: config.agents.map(resolveHome),
      datasets: config.datasets.map(resolve),
      out: resolve(config.out),
      cacheDir: resolve(config.cacheDir),
      anthropic: {
        ...config.anthropic,
        ...(config.anthropic.template ? { template: resolve(config.anthropic.template) } : {}),
        ...(config.anthropic.prices ? { prices: resolve(config.anthropic.prices) } : {}),
      },
      claudeCode: {
        ...(config.claudeCode.bin ? { bin: resolve(config.claudeCode.bin) } : {}),
        ...(config.claudeCode.workspace ? { workspace: resolve(config.claudeCode.workspace) } : {}),
      },
    },
    file: target,
  }
}

export function parseConfig(file: string, text: string): Config {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    const position = Number(/position (\d+)/.exec(String(e))?.[1] ?? NaN)
    const place = Number.isNaN(position) ? {} : lineAndColumn(text, position)
    throw new InputError([{ file, ...place, message: `not valid JSON: ${(e as Error).message}`, fix: 'fix the JSON syntax (no comments or trailing commas)' }])
  }
  const parsed = configSchema.safeParse(json)
  if (parsed.success) return parsed.data
  const locate = jsonLocator(text)
  const problems: Problem[] = parsed.error.issues.map((issue) => {
    const keys = [...issue.path]
    const where = keys.length > 0 ? `"${keys.map(String).join('.')}"` : 'the config'
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(keys)
      const hints = issue.keys.map((k) => `"${k}"${allowed.length > 0 ? ` (${didYouMean(k, allowed) || `allowed: ${allowed.join(', ')}`})` : ''}`)
      return { file, ...locate([...keys, issue.keys[0]!]), message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${hints.join(', ')} in ${where}`, fix: 'remove or rename the key' }
    }
    return { file, ...locate(keys), message: `${where}: ${issue.message}`, fix: 'see "Configuration" in the README for the allowed values' }
  })
  throw new InputError(problems)
}

function allowedKeys(at: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema
  for (const key of at) {
    const inner = unwrap(schema)
    if (!(inner instanceof z.ZodObject)) return []
    const next = (inner.shape as Record<string, z.ZodType>)[String(key)]
    if (!next) return []
    schema = next
  }
  const inner = unwrap(schema)
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : []
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType
  return s
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n')
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 }
}
