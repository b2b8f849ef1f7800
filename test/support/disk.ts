import { execFile, execFileSync } from 'node:child_process'
import { afterAll } from 'vitest'
import { CLI, type CliResult } from './cli.js'

/**
 * Real file systems that refuse writes, for the output-folder tests: a small
 * or read-only tmpfs where this process may mount one (root with
 * CAP_SYS_ADMIN, as in this repository's CI container), and the two ways
 * that need no privilege: a folder a user may not write (the CLI run as
 * `nobody` when the tests run as root), and a file-size limit (`ulimit -f`).
 */
const mounted: string[] = []
afterAll(() => {
  for (const dir of mounted.splice(0)) unmount(dir)
})

export const isRoot = process.getuid?.() === 0

/** Mounts a tmpfs of `sizeKb` on `dir` (read-only with `readOnly`); false where this process may not mount. */
export function mountTmpfs(dir: string, opts: { sizeKb: number; readOnly?: boolean }): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.sizeKb}k,mode=0777${opts.readOnly ? ',ro' : ''}`, 'tmpfs', dir], { stdio: 'ignore' })
    mounted.push(dir)
    return true
  } catch {
    return false
  }
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' })
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
  }
  const i = mounted.indexOf(dir)
  if (i >= 0) mounted.splice(i, 1)
}

/**
 * The built CLI with limits: as the user `nobody` (uid 65534) when this
 * process is root (`unprivileged`, so folder permissions apply), and with a
 * file-size limit (`fileSizeKb`: a write past it fails with EFBIG; SIGXFSZ,
 * which would kill the process instead, is ignored as a shell's `trap` leaves it).
 */
export function runCliLimited(args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; unprivileged?: boolean; fileSizeKb?: number }): Promise<CliResult> {
  const limit = opts.fileSizeKb !== undefined ? `ulimit -f ${opts.fileSizeKb}; ` : ''
  const script = `trap '' XFSZ; ${limit}exec "$0" "$@"`
  const drop = opts.unprivileged && isRoot ? { uid: 65534, gid: 65534 } : {}
  return new Promise((resolve) => {
    execFile('bash', ['--norc', '--noprofile', '-c', script, process.execPath, CLI, ...args], { cwd: opts.cwd, env: { PATH: process.env.PATH, NO_COLOR: '1', ...opts.env }, maxBuffer: 64 * 1024 * 1024, ...drop }, (error, stdout, stderr) => {
      const code = error && typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : error ? 1 : 0
      resolve({ code, stdout, stderr })
    })
  })
}
