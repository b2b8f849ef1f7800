import { parseArgs, type ParseArgsConfig } from 'node:util'
import { z } from 'zod'
import { didYouMean } from '../load/closest-names.js'
import { routerStyleSchema } from '../load/config.js'
import { UsageError } from '../load/input-error.js'

/** Every flag the commands share (DESIGN "CLI and exit codes"). */
export const FLAG_SPEC = {
  config: { type: 'string' },
  agents: { type: 'string' },
  dataset: { type: 'string', multiple: true },
  router: { type: 'string' },
  model: { type: 'string' },
  style: { type: 'string' },
  repeats: { type: 'string' },
  concurrency: { type: 'string' },
  timeout: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  'no-cache': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'max-cost': { type: 'string' },
  'skip-invalid': { type: 'boolean' },
  baseline: { type: 'string' },
  'only-if-changed': { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

const count = (flag: string, min: number, max: number) =>
  z.coerce
    .number({ error: `--${flag} takes a whole number` })
    .int(`--${flag} takes a whole number`)
    .min(min, `--${flag} must be at least ${min}`)
    .max(max, `--${flag} must be at most ${max}`)

/** Flag values after validation; absent flags stay undefined so the config's values apply. */
export const flagsSchema = z.object({
  config: z.string().optional(),
  agents: z.string().optional(),
  dataset: z.array(z.string()).optional(),
  router: z.string().optional(),
  model: z.string().optional(),
  style: routerStyleSchema.optional(),
  repeats: count('repeats', 1, 50).optional(),
  concurrency: count('concurrency', 1, 512).optional(),
  timeout: z.coerce.number({ error: '--timeout takes a number of seconds' }).positive('--timeout must be above 0 seconds').optional(),
  out: z.string().optional(),
  json: z.boolean().default(false),
  'no-cache': z.boolean().default(false),
  'dry-run': z.boolean().default(false),
  'max-cost': z.coerce.number({ error: '--max-cost takes an amount in USD' }).positive('--max-cost must be above 0').optional(),
  'skip-invalid': z.boolean().default(false),
  baseline: z.string().optional(),
  'only-if-changed': z.boolean().default(false),
  'no-color': z.boolean().default(false),
  help: z.boolean().default(false),
})
export type Flags = z.infer<typeof flagsSchema>

export function parseFlags(argv: readonly string[]): { flags: Flags; positionals: string[] } {
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options: FLAG_SPEC, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError(explainParseError(e as Error))
  }
  const result = flagsSchema.safeParse(parsed.values)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const flag = String(issue.path[0])
    const message = issue.message.startsWith('--') ? issue.message : `--${flag}: ${issue.message}`
    throw new UsageError(flag === 'style' ? '--style takes claude-code or classifier' : message)
  }
  return { flags: result.data, positionals: parsed.positionals }
}

function explainParseError(e: Error): string {
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(e.message)?.[1]
  if (unknown) {
    const hint = didYouMean(unknown.replace(/^-+/, ''), Object.keys(FLAG_SPEC))
    return `unknown flag ${unknown}${hint ? `: ${hint.replace(/"([^"]+)"/g, '--$1')}` : ''} (see --help)`
  }
  const ambiguous = /Option '(-{1,2}[^']+?)' argument is ambiguous/.exec(e.message)?.[1]
  if (ambiguous) return `${ambiguous} needs a value; for one starting with "-", write ${ambiguous}=-1 (see --help)`
  const missing = /Option '(-{1,2}[^']+?)(?: <value>)?' argument missing/.exec(e.message)?.[1]
  if (missing) return `${missing} needs a value (see --help)`
  return `${e.message} (see --help)`
}
