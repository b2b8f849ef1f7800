import { execFile } from 'node:child_process'
import { realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { UsageError } from './input-error.js'

/**
 * A git revision as the user names it (a branch, a tag, a commit): never one starting with "-",
 * which git would read as an option. Checked once here for the flag and the config key alike.
 */
export const gitRefSchema = z
  .string()
  .min(1, 'needs a git ref (a branch, a tag or a commit)')
  .refine((r) => !r.startsWith('-'), 'a git ref cannot start with "-" (git would read it as an option)')
  .refine((r) => !/[\0-\x1f\x7f]/.test(r), 'a git ref has no control characters')

/** A file as it is in one commit, beside the working tree's copy. */
export type FileAtRef = {
  /** the commit REF names */
  commit: string
  /** the file's path from the repository's root, with "/" */
  repoPath: string
  /** absent: the commit has no such file; `text` is left unread (undefined) past `maxBytes` */
  blob?: { text: string | undefined; bytes: number }
  /** the working tree's copy: the same as the commit's (as `git add` would store it), another, or none */
  workingCopy: 'same' | 'differs' | 'absent'
}

/** git's answer to one command, or why there is none. */
type GitResult = { ok: true; stdout: string } | { ok: false; code: number | string | undefined; stderr: string }

/** One git command: an argument array, no shell; nothing from input is ever an option (refs are checked, paths come after `--` or in `REF:path`). */
function git(args: readonly string[], cwd: string, maxBuffer = 1 << 20): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile('git', [...args], { cwd, maxBuffer, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (!error) return resolve({ ok: true, stdout })
      const code = (error as { code?: number | string }).code
      resolve({ ok: false, code, stderr: String(stderr ?? error.message) })
    })
  })
}

const firstLine = (text: string) => text.trim().split('\n')[0]?.replace(/^(fatal|error): /, '') ?? ''

/** The nearest folder of `file` that exists (the file, or its folder, may be missing from the working tree). */
async function existingFolder(file: string): Promise<{ folder: string; rest: string[] }> {
  const rest: string[] = [path.basename(file)]
  let folder = path.dirname(file)
  for (;;) {
    try {
      if ((await stat(folder)).isDirectory()) return { folder: await realpath(folder), rest }
    } catch {
      // missing: try its parent
    }
    const parent = path.dirname(folder)
    if (parent === folder) return { folder, rest }
    rest.unshift(path.basename(folder))
    folder = parent
  }
}

/**
 * `file` as it is at git revision `ref` (`git show REF:path` in effect): the commit REF names, the
 * file's text there if it has one, and whether the working tree's copy is the same. Usage errors
 * (exit 2), each with its fix: git missing, not a repository, a REF git does not know (a shallow
 * clone's usual case), a file outside the repository.
 */
export async function fileAtRef(file: string, ref: string, opts: { flag: string; maxBytes: number }): Promise<FileAtRef> {
  const checked = gitRefSchema.safeParse(ref)
  if (!checked.success) throw new UsageError(`${opts.flag} ${JSON.stringify(ref)}: ${checked.error.issues[0]!.message}`)
  const absolute = path.resolve(file)
  const { folder, rest } = await existingFolder(absolute)
  const top = await git(['rev-parse', '--show-toplevel'], folder)
  if (!top.ok) {
    if (top.code === 'ENOENT') {
      throw new UsageError(`${opts.flag} ${ref}: git is not installed (or not on PATH), and the baseline at ${ref} is read with it; fix: install git, or leave out ${opts.flag} to compare with ${file} as it is`)
    }
    const why = firstLine(top.stderr)
    const what = /not a git repository/i.test(why) ? `${folder} is not in a git repository` : `git cannot read the repository at ${folder} (${why})`
    throw new UsageError(`${opts.flag} ${ref}: ${what}; fix: run the gate in a clone of the repository (actions/checkout), or leave out ${opts.flag} to compare with ${file} as it is`)
  }
  const root = top.stdout.trim()
  const repoPath = path.relative(root, path.join(folder, ...rest)).split(path.sep).join('/')
  if (repoPath.startsWith('../') || path.isAbsolute(repoPath)) throw new UsageError(`${opts.flag} ${ref}: ${file} is outside the git repository at ${root}; fix: pass a --baseline inside it`)

  const resolved = await git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], root)
  if (!resolved.ok) {
    throw new UsageError(
      `${opts.flag} ${ref}: git does not know ${ref} here (a shallow clone, actions/checkout's default, has only the commit it checked out); fix: git fetch --no-tags --depth=1 origin ${ref}, or check out with fetch-depth: 0`,
    )
  }
  const commit = resolved.stdout.trim()
  // `ls-tree -l` says whether the commit has the path, what it is, and its size, before anything is read.
  const listed = await git(['ls-tree', '-l', '--full-tree', commit, '--', repoPath], root)
  if (!listed.ok) throw new UsageError(`${opts.flag} ${ref}: git could not list ${repoPath} at ${commit.slice(0, 12)} (${firstLine(listed.stderr)})`)
  const entry = /^\d+ (\w+) ([0-9a-f]+) +(\d+|-)\t/.exec(listed.stdout)
  const working = async (): Promise<FileAtRef['workingCopy']> => {
    if (!(await stat(absolute).then((s) => s.isFile(), () => false))) return 'absent'
    if (!entry) return 'differs'
    // hash-object applies the path's clean filters (line endings): the same blob means the same file as committed.
    const hashed = await git(['hash-object', '--', repoPath], root)
    return hashed.ok && hashed.stdout.trim() === entry[2] ? 'same' : 'differs'
  }
  if (!entry) return { commit, repoPath, workingCopy: await working() }
  if (entry[1] !== 'blob') throw new UsageError(`${opts.flag} ${ref}: ${repoPath} is a ${entry[1] === 'tree' ? 'folder' : entry[1]} at ${ref}, not a file; fix: pass the baseline file with --baseline`)
  const bytes = Number(entry[3])
  if (bytes > opts.maxBytes) return { commit, repoPath, blob: { text: undefined, bytes }, workingCopy: await working() }
  const shown = await git(['cat-file', 'blob', entry[2]!], root, bytes + 1024)
  if (!shown.ok) throw new UsageError(`${opts.flag} ${ref}: git could not read ${repoPath} at ${commit.slice(0, 12)} (${firstLine(shown.stderr)})`)
  return { commit, repoPath, blob: { text: shown.stdout, bytes }, workingCopy: await working() }
}
