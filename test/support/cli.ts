import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll } from 'vitest'
import { run, version } from '../../src/cli/run.js'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const CLI = path.join(ROOT, 'dist/cli/main.js')

export type CliResult = { code: number; stdout: string; stderr: string }

/** Runs the built CLI as a child process, the way a user or CI does. */
export function runCli(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: opts.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error && typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : error ? 1 : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Starts the built CLI as a child and returns at once, for tests that kill it midway (`exited`: code 128 when a signal ended it). */
export function startCli(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): { child: ChildProcess; exited: Promise<CliResult>; stderr(): string } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, NO_COLOR: '1', ...opts.env } })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (d) => (stderr += d))
  child.stdout.on('data', (d) => (stdout += d))
  const exited = new Promise<CliResult>((resolve) => child.on('exit', (code, sig) => resolve({ code: code ?? (sig ? 128 : 1), stdout, stderr })))
  return { child, exited, stderr: () => stderr }
}

/** Waits until `check` holds, looking every 50 ms for at most 30 s. */
export async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

let queue: Promise<unknown> = Promise.resolve()

/**
 * Runs a command in this process, through the same `run` the CLI calls, with
 * captured output, the given environment, working folder and terminal width
 * (`columns`; none: not a terminal). Paths on the
 * command line are relative to the working folder, so calls take turns.
 */
export function runInProcess(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; columns?: number; /** stands for Ctrl-C */ signal?: AbortSignal } = {}): Promise<CliResult> {
  const next = queue.then(async () => {
    let stdout = ''
    let stderr = ''
    const home = process.cwd()
    process.chdir(opts.cwd ?? ROOT)
    try {
      const code = await run(args, {
        out: (t) => void (stdout += t),
        annotate: (t) => void (stdout += t),
        warn: (t) => void (stderr += t),
        color: false,
        env: { ...process.env, NO_COLOR: '1', ...opts.env },
        columns: opts.columns,
        now: () => new Date(),
        progress: () => ({ tick() {}, retry() {}, done() {} }),
        toolVersion: version(),
        signal: opts.signal ?? new AbortController().signal,
        stoppable: () => ({ signal: opts.signal ?? new AbortController().signal, release() {} }),
      })
      return { code, stdout, stderr }
    } finally {
      process.chdir(home)
    }
  })
  queue = next.catch(() => undefined)
  return next
}

const made: string[] = []
afterAll(async () => {
  await Promise.all(made.map((d) => rm(d, { recursive: true, force: true })))
})

/** A fresh temp folder, removed after the test file. */
export async function tempDir(prefix = 'routecheck-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** A JSON file the CLI wrote (summary.json, gate.json, …), parsed. */
export const readJson = async <T = Record<string, any>>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T

/** A temp project holding a copy of the bundled agents (and datasets, when asked). */
export async function tempProject(opts: { datasets?: boolean } = {}): Promise<string> {
  const dir = await tempDir()
  await cp(path.join(ROOT, 'agents'), path.join(dir, 'agents'), { recursive: true })
  if (opts.datasets) await cp(path.join(ROOT, 'datasets'), path.join(dir, 'datasets'), { recursive: true })
  return dir
}

/** Six cases, one for each of five bundled agents and one for none: a small dataset for the batch tests. */
export const SIX_CASES = [
  ['c1', 'goroutine leak in the grpc server', 'golang-pro'],
  ['c2', 'terraform wants to destroy the kubernetes cluster', 'devops-engineer'],
  ['c3', 'swiftui list scrolls slowly on the iphone', 'mobile-developer'],
  ['c4', 'slow postgres query plan with a sequential scan', 'database-optimizer'],
  ['c5', 'write the readme for the command line tool', 'technical-writer'],
  ['c6', 'what is the capital of peru', 'none'],
] as const

/** A dataset's text from rows of id, prompt and expected (no field holding a comma, a quote or a newline). */
export const casesCsv = (rows: readonly (readonly string[])[]) => `id,prompt,expected\n${rows.map((r) => r.join(',')).join('\n')}\n`

export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await writeFile(path.join(dir, name), text)
  }
}
