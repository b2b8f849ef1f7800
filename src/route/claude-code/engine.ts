import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { promisify } from 'node:util'
import { UsageError } from '../../load/input-error.js'

/**
 * The little of the SDK this router uses. Declared here, not imported from its types, so
 * routecheck still builds where the optional SDK was left out; its messages are checked
 * with zod where they are read.
 */
export type EngineQuery = AsyncIterable<unknown> & { close?(): void }
export type AgentSdk = { query(params: { prompt: string; options: Record<string, unknown> }): EngineQuery }

export const SDK_PACKAGE = '@anthropic-ai/claude-agent-sdk'

/** Loaded on first use only, so routecheck works without the optional SDK until this router is picked. */
export async function loadAgentSdk(): Promise<AgentSdk> {
  try {
    const sdk = (await import(SDK_PACKAGE)) as Partial<AgentSdk>
    if (typeof sdk.query !== 'function') throw new Error('it has no query() export')
    return sdk as AgentSdk
  } catch (e) {
    throw new UsageError(`the claude-code router needs the Claude Agent SDK, which is not installed (${(e as Error).message.split('\n')[0]}): run \`npm install ${SDK_PACKAGE}\``)
  }
}

/** The native binary the SDK ships for this platform (same search order as the SDK), or undefined. */
export function bundledClaudeBinary(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | undefined {
  const require = createRequire(import.meta.url)
  const base = `${SDK_PACKAGE}-${platform}-${arch}`
  const candidates = platform === 'linux' ? [base, `${base}-musl`] : [base]
  for (const pkg of candidates) {
    try {
      return require.resolve(`${pkg}/claude${platform === 'win32' ? '.exe' : ''}`)
    } catch {
      // not installed for this platform: try the next
    }
  }
  return undefined
}

/** `claude` on PATH, if any. */
export function claudeOnPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const names = process.platform === 'win32' ? ['claude.exe', 'claude.cmd'] : ['claude']
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue
    for (const name of names) {
      const file = path.join(dir, name)
      try {
        accessSync(file, constants.X_OK)
        return file
      } catch {
        // not here
      }
    }
  }
  return undefined
}

/** The binary to run: the one asked for, else `claude` on PATH, else the SDK's own. */
export function resolveClaudeBinary(requested?: string, env: NodeJS.ProcessEnv = process.env): string {
  const bin = requested ?? claudeOnPath(env) ?? bundledClaudeBinary()
  if (!bin) {
    throw new UsageError(`no Claude Code binary found: install Claude Code (\`claude\` on PATH), or reinstall ${SDK_PACKAGE} so its ${process.platform}-${process.arch} binary is present`)
  }
  return bin
}

const versions = new Map<string, Promise<string>>()

/** "2.1.330" from `claude --version` ("2.1.330 (Claude Code)"); asked once per binary. */
export function claudeVersion(bin: string): Promise<string> {
  let version = versions.get(bin)
  if (!version) {
    version = promisify(execFile)(bin, ['--version'], { timeout: 30_000 }).then(
      ({ stdout }) => {
        const match = /\d+\.\d+\.\d+\S*/.exec(stdout)
        if (!match) throw new UsageError(`${bin} --version printed no version: "${stdout.trim().slice(0, 100)}"`)
        return match[0]
      },
      (e: Error) => {
        throw new UsageError(`cannot run Claude Code at ${bin}: ${e.message.split('\n')[0]}`)
      },
    )
    versions.set(bin, version)
    version.catch(() => versions.delete(bin))
  }
  return version
}
