import { execFile } from 'node:child_process'

/** git's environment in tests: no prompts, no signing, no user or system config, English messages. */
const GIT_ENV = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C', GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 'test@example.com', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 'test@example.com' }

/** Runs git in `cwd` with an argument array; its stdout, trimmed, or a rejection with its stderr. */
export function git(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('git', args, { cwd, env: GIT_ENV }, (error, stdout, stderr) => (error ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim()))),
  )
}

/** Makes `dir` a repository on branch main and commits everything in it; the commit's sha. */
export async function gitInit(dir: string, message = 'initial'): Promise<string> {
  await git(dir, 'init', '-q', '-b', 'main')
  return commitAll(dir, message)
}

/** Commits every change in `dir`; the commit's sha. */
export async function commitAll(dir: string, message: string): Promise<string> {
  await git(dir, 'add', '-A')
  await git(dir, 'commit', '-q', '--no-gpg-sign', '-m', message)
  return git(dir, 'rev-parse', 'HEAD')
}

/** A shallow clone of `branch` of the repository at `from` (as actions/checkout makes one: one commit), into `to`. */
export async function shallowClone(from: string, branch: string, to: string): Promise<void> {
  await git(from, 'clone', '-q', '--depth=1', '--no-tags', '--branch', branch, `file://${from}`, to)
}
