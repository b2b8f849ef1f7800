import { parseArgs, type ParseArgsConfig } from 'node:util'
import { z } from 'zod'
import { didYouMean } from '../load/closest-names.js'
import { configSchema, MAX_IMPROVE_ROUNDS, MAX_REPEATS, probeSourceSchema, routerStyleSchema } from '../load/config.js'
import { gitRefSchema } from '../load/git.js'
import { UsageError } from '../load/input-error.js'
import { DEFAULT_PER_AGENT } from '../draft/generate.js'
import { shardSpecSchema } from '../run/shard.js'
import { PROBE_BELOW_LINE, PROBE_PAIRS, PROBE_PROMPTS } from '../draft/probe.js'
import { DEFAULT_DRAFT_MODEL } from '../route/draft-defaults.js'

/**
 * Every flag is declared once, here: its kind, its zod schema, its line of
 * help. A command lists the flags it takes; the parseArgs options, the
 * validation, the parsed type and the help text all come from that list
 * (written by hand rather than with commander or cac, because neither
 * derives types from zod schemas, and node:util parseArgs already does the
 * tokenising).
 */
export type OptionSpec = {
  kind: 'string' | 'boolean'
  multiple?: true
  short?: string
  /** the value's placeholder in help: FILE, DIR, N */
  value?: string
  group: OptionGroup
  help: string
  /** validates parseArgs' raw value (a string, strings, or a boolean) */
  schema: z.ZodType
}
export type OptionGroup = 'Inputs' | 'Router' | 'Run' | 'Output' | 'Gate'
export type OptionTable = Readonly<Record<string, OptionSpec>>

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S
/** A command's parsed flags: camelCase keys, each typed by its schema. */
export type ParsedOptions<T extends OptionTable> = { [K in keyof T & string as CamelCase<K>]: z.output<T[K]['schema']> }

const camelCase = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

const count = (flag: string, min: number, max: number) =>
  z.coerce
    .number({ error: `--${flag} takes a whole number` })
    .int(`--${flag} takes a whole number`)
    .min(min, `--${flag} must be at least ${min}`)
    .max(max, `--${flag} must be at most ${max}`)

const text = z.string().optional()
const flag = z.boolean().default(false)
/** The config's own default for a key, so help states the value a run really gets. */
const configDefault = (key: 'concurrency' | 'timeout' | 'out' | 'agents') => String(configSchema.shape[key].parse(undefined))

/** The one table of flags. */
export const OPTIONS = {
  config: { kind: 'string', value: 'FILE', group: 'Inputs', help: 'config file (default: routecheck.config.json, if present)', schema: text },
  agents: {
    kind: 'string',
    multiple: true,
    value: 'DIR',
    group: 'Inputs',
    help: `an agents folder (default: the config's, else ${configDefault('agents')}/, else .claude/agents/); repeat to merge a project's .claude/agents with ~/.claude/agents, project winning a shared name, as in Claude Code`,
    schema: z.array(z.string().min(1, '--agents needs a folder')).optional(),
  },
  dataset: { kind: 'string', multiple: true, value: 'FILE', group: 'Inputs', help: "a .csv or .jsonl dataset; repeat for several (default: the config's list)", schema: z.array(z.string()).optional() },
  'skip-invalid': { kind: 'boolean', group: 'Inputs', help: 'load the agent files that parse, report the rest, go on', schema: flag },
  router: { kind: 'string', value: 'NAME', group: 'Router', help: 'lexical (offline, the default), anthropic, claude-code (Claude Code itself), or ./my-router.mjs', schema: text },
  model: { kind: 'string', value: 'ID', group: 'Router', help: 'the model of the anthropic and claude-code routers', schema: text },
  style: { kind: 'string', value: 'STYLE', group: 'Router', help: `the anthropic request style: ${routerStyleSchema.options.map((s) => ({ 'claude-code': "claude-code (default: Claude Code's own request, captured once and replayed; needs the Agent SDK)", template: "template (an approximation of Claude Code's Agent tool; no SDK needed)", classifier: 'classifier (a forced route tool)' } satisfies Record<(typeof routerStyleSchema.options)[number], string>)[s]).join(', ')}`, schema: routerStyleSchema.optional() },
  'claude-bin': { kind: 'string', value: 'PATH', group: 'Router', help: 'claude-code router: the Claude Code to drive (default: `claude` on PATH, else the Agent SDK\'s own)', schema: text },
  workspace: { kind: 'string', value: 'DIR', group: 'Router', help: 'claude-code router: route inside this project (its CLAUDE.md, settings, skills); it is copied, never changed', schema: text },
  repeats: { kind: 'string', value: 'K', group: 'Run', help: 'route each case K times, majority vote (default 1 lexical, 3 model routers)', schema: count('repeats', 1, MAX_REPEATS).optional() },
  concurrency: { kind: 'string', value: 'N', group: 'Run', help: `requests in flight (default ${configDefault('concurrency')})`, schema: count('concurrency', 1, 512).optional() },
  timeout: {
    kind: 'string',
    value: 'SECONDS',
    group: 'Run',
    help: `per request (default ${configDefault('timeout')})`,
    schema: z.coerce.number({ error: '--timeout takes a number of seconds' }).positive('--timeout must be above 0 seconds').optional(),
  },
  'max-cost': {
    kind: 'string',
    value: 'USD',
    group: 'Run',
    help: "stop sending before the run would cost more than this (finished requests are kept); with --shard K/N, the whole run's cap: each shard keeps to its share",
    schema: z.coerce.number({ error: '--max-cost takes an amount in USD' }).positive('--max-cost must be above 0').optional(),
  },
  batch: {
    kind: 'boolean',
    group: 'Run',
    help: 'anthropic router: send the requests through the Message Batches API, at half the price; results within 24 h (usually minutes). A rerun reattaches to its batches',
    schema: flag,
  },
  'batch-poll': {
    kind: 'string',
    value: 'SECONDS',
    group: 'Run',
    help: `with --batch, seconds between status checks (default ${configSchema.shape.batch.parse(undefined).pollSeconds})`,
    schema: z.coerce.number({ error: '--batch-poll takes a number of seconds' }).positive('--batch-poll must be above 0 seconds').max(3600, '--batch-poll must be at most 3600 seconds').optional(),
  },
  shard: {
    kind: 'string',
    value: 'K/N',
    group: 'Run',
    help: "route only shard K of N (each case's shard is a hash of its id); routecheck merge joins the N shard folders (default --out: OUT/shard-K-of-N/)",
    schema: shardSpecSchema.optional(),
  },
  'dry-run': { kind: 'boolean', group: 'Run', help: 'print the first request and the estimated requests, tokens and cost; send nothing', schema: flag },
  'no-cache': { kind: 'boolean', group: 'Run', help: 'neither read nor write the run journal of finished requests', schema: flag },
  out: { kind: 'string', value: 'DIR', group: 'Output', help: `the run folder (default: ${configDefault('out')}/<dataset-stem>/; one dataset: DIR itself)`, schema: text },
  json: { kind: 'boolean', group: 'Output', help: 'print JSON to stdout instead of text', schema: flag },
  'no-color': { kind: 'boolean', group: 'Output', help: 'plain text even on a terminal', schema: flag },
  'only-failures': { kind: 'boolean', group: 'Output', help: "after the scorecard, list the misrouted cases: id, expected, decision, the prompt's first line", schema: flag },
  agent: {
    kind: 'string',
    multiple: true,
    value: 'NAME',
    group: 'Output',
    help: 'show and score only the cases naming this agent (expected or decided); repeat for several. The run folder keeps every case',
    schema: z.array(z.string().min(1, '--agent needs a name')).default([]),
  },
  tag: {
    kind: 'string',
    multiple: true,
    value: 'TAG',
    group: 'Output',
    help: 'show and score only the cases with this tag; repeat for several. The run folder keeps every case',
    schema: z.array(z.string().min(1, '--tag needs a tag')).default([]),
  },
  append: {
    kind: 'boolean',
    group: 'Output',
    help: 'add the rows to the end of the --out dataset, in its format (its header, columns and line endings), its rows kept byte for byte; new ids never collide with its ids, and a prompt near-identical to one of its rows is not added',
    schema: flag,
  },
  force: { kind: 'boolean', group: 'Output', help: 'replace files that already exist (without it, an existing file is exit 2, never overwritten)', schema: flag },
  'per-agent': { kind: 'string', value: 'N', group: 'Run', help: `prompts kept per agent (default ${DEFAULT_PER_AGENT}); boundary, none and Explore prompts come on top`, schema: count('per-agent', 1, 100).optional() },
  'from-examples': { kind: 'boolean', group: 'Inputs', help: "offline: rows from the user turns of the descriptions' <example> blocks, tagged from-description (the router sees them, so they measure little)", schema: flag },
  verify: { kind: 'boolean', group: 'Run', help: 'ask the installed Claude Code which agents it lists for the folder, and compare', schema: flag },
  baseline: { kind: 'string', value: 'FILE', group: 'Gate', help: 'the baseline file (default: reports/baseline.json)', schema: text },
  'baseline-ref': {
    kind: 'string',
    value: 'REF',
    group: 'Gate',
    help: "read the baseline as it is at git revision REF, the branch the pull request goes into (default: the config's gate.baselineRef, else the working tree's file): a baseline the pull request re-makes takes effect once merged",
    schema: gitRefSchema.optional(),
  },
  'allow-incomplete': {
    kind: 'boolean',
    group: 'Gate',
    help: 'accept a baseline (or run folders) with undecided cases, comparing the decided ones; the verdict says so',
    schema: flag,
  },
  'only-if-changed': { kind: 'boolean', group: 'Gate', help: "exit 0 at once, sending nothing, when no agent's routing fields and no dataset changed", schema: flag },
  cluster: { kind: 'string', value: 'N', group: 'Inputs', help: 'cluster N of `routecheck overlap` (default 1, the largest)', schema: count('cluster', 1, 1000).optional() },
  rounds: { kind: 'string', value: 'N', group: 'Run', help: `rounds of rewriting (default: the config's improve.rounds, 3; at most ${MAX_IMPROVE_ROUNDS})`, schema: count('rounds', 1, MAX_IMPROVE_ROUNDS).optional() },
  'draft-model': { kind: 'string', value: 'ID', group: 'Router', help: `the model that drafts rewrites (default: the config's improve.model, else ${DEFAULT_DRAFT_MODEL})`, schema: text },
  probe: {
    kind: 'boolean',
    group: 'Inputs',
    help: "routing evidence without a dataset: draft prompts aimed at each agent of the near-duplicate pairs (and a few just under the line), route them, and judge each pair by how often they cross over",
    schema: flag,
  },
  'probe-from': {
    kind: 'string',
    value: 'SOURCE',
    group: 'Inputs',
    help: "who writes the probe prompts: claude (default: generate's drafting requests; ANTHROPIC_API_KEY) or examples (offline: the descriptions' own <example> turns, which the router reads, so they flatter it)",
    schema: probeSourceSchema.optional(),
  },
  'probe-pairs': { kind: 'string', value: 'N', group: 'Run', help: `pairs probed at most: the near-duplicates first, then ${PROBE_BELOW_LINE} just under the line (default ${PROBE_PAIRS})`, schema: count('probe-pairs', 1, 1000).optional() },
  'probe-prompts': { kind: 'string', value: 'N', group: 'Run', help: `prompts per agent of a probed pair (default ${PROBE_PROMPTS}: a pair's 16 show a coin toss confused and 3 right in 4 told apart)`, schema: count('probe-prompts', 1, 100).optional() },
  pr: { kind: 'string', value: 'N', group: 'Output', help: 'the pull request to comment on (default: pull_request.number in $GITHUB_EVENT_PATH)', schema: count('pr', 1, Number.MAX_SAFE_INTEGER).optional() },
} as const satisfies OptionTable

/** The flags every command takes, handled before the command runs. */
export const GLOBAL_OPTIONS = {
  help: { kind: 'boolean', short: 'h', group: 'Output', help: 'show this help', schema: flag },
  version: { kind: 'boolean', short: 'V', group: 'Output', help: "print routecheck's version", schema: flag },
} as const satisfies OptionTable

type Shared = typeof OPTIONS
/** A command's own wording of a shared flag: its help, and where its meaning moves, the value's placeholder or the help group it is listed in. */
type OwnWording = string | { help: string; value?: string; group?: OptionGroup }

/** Some of the shared flags, with a command's own wording of the help (and of the value's placeholder or group) where its meaning narrows. */
export function pick<K extends keyof Shared>(names: readonly K[], help: Partial<Record<K, OwnWording>> = {}): { [N in K]: Shared[N] } {
  return Object.fromEntries(
    names.map((n) => {
      const own = help[n] as OwnWording | undefined
      const shared: OptionSpec = OPTIONS[n]
      return [n, own === undefined ? shared : typeof own === 'string' ? { ...shared, help: own } : { ...shared, ...own }]
    }),
  ) as { [N in K]: Shared[N] }
}

function parseArgsOptions(table: OptionTable): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(
    Object.entries(table).map(([name, o]) => [name, { type: o.kind, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]),
  )
}

/**
 * Parses a command's arguments against its table: unknown flags, flags the
 * command does not take, and bad values are usage errors naming the fix.
 * `everyFlag` lets the message tell "not for this command" from "no such flag".
 */
export function parseOptions<T extends OptionTable>(
  command: string,
  table: T,
  argv: readonly string[],
  everyFlag: readonly string[],
): { flags: ParsedOptions<T> & { help: boolean; version: boolean }; positionals: string[] } {
  const all: OptionTable = { ...table, ...GLOBAL_OPTIONS }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: [...argv], options: parseArgsOptions(all), allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError(explainParseError(command, e as Error, Object.keys(table), everyFlag))
  }
  const values: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(all)) {
    const result = spec.schema.safeParse(parsed.values[name])
    if (!result.success) throw new UsageError(valueError(name, result.error.issues[0]!))
    values[camelCase(name)] = result.data
  }
  return { flags: values as ParsedOptions<T> & { help: boolean; version: boolean }, positionals: parsed.positionals }
}

function valueError(flag: string, issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_value') return `--${flag} takes ${issue.values.map(String).join(' or ')}`
  return issue.message.startsWith('--') ? issue.message : `--${flag}: ${issue.message}`
}

function explainParseError(command: string, e: Error, takes: readonly string[], everyFlag: readonly string[]): string {
  const see = `(see routecheck ${command} --help)`
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(e.message)?.[1]
  if (unknown) {
    const name = unknown.replace(/^-+/, '')
    const list = takes.map((t) => `--${t}`).join(', ')
    if (everyFlag.includes(name)) return `${command} does not take ${unknown}; it takes ${list || 'no flags'} ${see}`
    const hint = didYouMean(name, takes)
    return `unknown flag ${unknown}${hint ? `: ${hint.replace(/"([^"]+)"/g, '--$1')}` : ''} ${see}`
  }
  const ambiguous = /Option '(-{1,2}[^']+?)' argument is ambiguous/.exec(e.message)?.[1]
  if (ambiguous) return `${ambiguous} needs a value; for one starting with "-", write ${ambiguous}=-1 ${see}`
  const missing = /Option '(-{1,2}[^']+?)(?: <value>)?' argument missing/.exec(e.message)?.[1]
  if (missing) return `${missing} needs a value ${see}`
  return `${e.message} ${see}`
}

/** The help's flag lines, grouped, from the table. */
export function optionsHelp(table: OptionTable): string {
  const rows = Object.entries({ ...table, ...GLOBAL_OPTIONS } as OptionTable).map(([name, o]) => ({ group: o.group, left: `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`, help: o.help }))
  const width = Math.max(...rows.map((r) => r.left.length)) + 2
  const groups = [...new Set(rows.map((r) => r.group))]
  return groups.map((g) => [`${g}:`, ...rows.filter((r) => r.group === g).map((r) => `  ${r.left.padEnd(width)} ${r.help}`)].join('\n')).join('\n')
}
