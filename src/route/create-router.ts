import path from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Catalogue } from '../load/catalogue.js'
import type { Config, RouterStyle } from '../load/config.js'
import { UsageError } from '../load/input-error.js'
import { createLexicalRouter } from './lexical.js'
import { decisionSchema, RouterError, type Router } from './router.js'

export type RouterSettings = Pick<Config, 'lexical' | 'anthropic' | 'claudeCode'> & {
  /** --model and --style, over the config's anthropic settings */
  model?: string
  style?: RouterStyle
  timeoutMs: number
  dryRun: boolean
  /** where keys and base URLs come from (the process's environment in the CLI) */
  env: Readonly<Record<string, string | undefined>>
  /** the catalogue the run routes: the anthropic router captures Claude Code's request for it up front */
  catalogue?: Catalogue
  /** the run journal's folder, where the anthropic router also keeps captured requests */
  cacheDir?: string
  /** --no-cache: reuse nothing stored */
  noCache?: boolean
  /** one line for the user (stderr in the CLI) */
  warn?: (text: string) => void
}

/** `lexical`, `anthropic`, or a path to a module whose default export is a Router factory. */
export async function createRouter(spec: string, settings: RouterSettings): Promise<Router> {
  if (spec === 'lexical') return createLexicalRouter(settings.lexical)
  if (spec === 'anthropic') {
    const a = settings.anthropic
    // Loaded only for this router: @anthropic-ai/sdk is 300 modules and 180–220 ms a start, which lexical runs never pay.
    const { createAnthropicRouter } = await import('./anthropic.js')
    return createAnthropicRouter({
      ...a,
      ...(settings.model ? { model: settings.model } : {}),
      ...(settings.style ? { style: settings.style } : {}),
      timeoutMs: settings.timeoutMs,
      dryRun: settings.dryRun,
      env: settings.env,
      // The claude-code style captures Claude Code's request with the claude-code router's binary and workspace.
      ...(settings.claudeCode.bin ? { claudeBin: settings.claudeCode.bin } : {}),
      ...(settings.claudeCode.workspace ? { workspace: settings.claudeCode.workspace } : {}),
      ...(settings.catalogue ? { catalogue: settings.catalogue } : {}),
      ...(settings.cacheDir !== undefined ? { cacheDir: settings.cacheDir } : {}),
      ...(settings.noCache ? { noCache: true } : {}),
      ...(settings.warn ? { warn: settings.warn } : {}),
    })
  }
  if (spec === 'claude-code') {
    // Loaded only for this router: the engine's module, and through it the Agent SDK, stay out of every other run.
    const { createClaudeCodeRouter } = await import('./claude-code/index.js')
    return createClaudeCodeRouter({
      ...(settings.claudeCode.bin ? { claudeBin: settings.claudeCode.bin } : {}),
      ...(settings.claudeCode.workspace ? { workspace: settings.claudeCode.workspace } : {}),
      model: settings.model ?? settings.anthropic.model,
      timeoutMs: settings.timeoutMs,
      // A dry run sends nothing, so it needs no key.
      env: settings.dryRun ? { ...settings.env, ANTHROPIC_API_KEY: 'dry-run' } : settings.env,
    })
  }
  if (/[\\/]|\.(m?js|cjs)$/.test(spec)) return loadCustomRouter(spec, settings)
  throw new UsageError(`unknown router "${spec}": use lexical, anthropic, claude-code, or a path to a router module such as ./my-router.mjs`)
}

async function loadCustomRouter(spec: string, settings: RouterSettings): Promise<Router> {
  const file = path.resolve(spec)
  let mod: { default?: unknown }
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown }
  } catch (e) {
    throw new UsageError(`cannot load router module ${spec}: ${(e as Error).message}`)
  }
  if (typeof mod.default !== 'function') {
    throw new UsageError(`${spec} must export a default function that returns a router ({ id, route(prompt, catalogue, signal) })`)
  }
  const router = (await (mod.default as (s: RouterSettings) => unknown)(settings)) as Partial<Router> | undefined
  if (!router || typeof router.id !== 'string' || typeof router.route !== 'function') {
    throw new UsageError(`${spec}: the default export must return an object with a string \`id\` and a \`route(prompt, catalogue, signal)\` method`)
  }
  return checkedDecisions(router as Router)
}

/**
 * A custom router is user code: each decision it returns is checked against
 * the schema, and a malformed one is its request's error (not retried). The
 * built-in routers build their decisions typed, so the run engine checks
 * none (it was as dear as the lexical router itself).
 */
function checkedDecisions(router: Router): Router {
  const route = router.route.bind(router)
  return Object.assign(Object.create(router) as Router, {
    async route(...args: Parameters<Router['route']>) {
      const parsed = decisionSchema.safeParse(await route(...args))
      if (parsed.success) return parsed.data
      throw new RouterError('bad_output', `router ${router.id} returned a malformed decision: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { retryable: false })
    },
  })
}
