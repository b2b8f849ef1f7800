import { randomBytes } from 'node:crypto'
import { existsSync, realpathSync, rmSync, constants as fsConstants } from 'node:fs'
import { access, lstat, mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises'
import path from 'node:path'
import { errnoCode, fsFailure, InputError, type Problem } from '../load/input-error.js'
import { RUN_FILES, WriteError } from './files.js'

/**
 * Run folders are checked before the first request and written all at once.
 *
 * Checked: an --out that is a file or a device, lies inside the agents folder,
 * holds an input (a dataset, the agents, the config, the journal, the
 * baseline), holds files routecheck did not write, or cannot be written is
 * bad input (exit 2) found before anything is routed or sent.
 *
 * Written all at once: a run writes each run folder into a hidden sibling
 * (`.NAME.routecheck-PID-RANDOM.tmp`) and, when its files are all there,
 * renames the earlier folder aside, renames the new one into place and
 * removes the earlier one. A reader sees the earlier run or the new one,
 * never a mix, and a run that fails while writing (a full disk) leaves the
 * earlier folder as it was and no temporary file behind. Where the folder
 * cannot be renamed (a mount point, as a Docker volume is, or a parent the
 * user may not write), the staging folder is made inside it and the files
 * are renamed into place one by one, each whole, the gate's verdict of an
 * earlier run removed first.
 */

/** Something a run folder must never hold, since the folder is replaced whole: an input of the run. */
export type KeptPath = { path: string; what: string }

export type RunFolderCheck = {
  /** the run folders this command writes */
  folders: readonly string[]
  /** the agents folders: no run folder may lie in one (its report.md would be read as an agent) */
  agentsDirs?: readonly string[] | undefined
  /** the run's inputs: no run folder may hold one */
  keep: readonly KeptPath[]
  /** the flag or setting that named the folders, for the fix: "--out" */
  named?: string
  /** where the command writes without that flag, for the fix (the config's `out`, or the probe folder in it) */
  byDefault?: string
}

/** A run folder being written: its files go to `staging` until `commit` puts them at `dir`. */
export type RunFolder = {
  dir: string
  staging: string
  /** Puts the staged run in place of any earlier one; says which of the earlier run's files are gone (an earlier gate.json). */
  commit(): Promise<{ replaced: boolean; dropped: string[] }>
  /** Removes the staged files; the earlier run folder stays as it was. */
  discard(): Promise<void>
}

export type StagedRunFolders = {
  /** the staged folder for a run folder (as planned by outFor) */
  get(dir: string): RunFolder
  /** every folder not yet committed is discarded */
  discardAll(): Promise<void>
}

/**
 * The least free space a run folder needs: report.html alone is 95 KB for a
 * one-case run (the page's script and styles), and summary.json 64 KB with
 * the 15 bundled agents. A disk with less than this free for each run folder
 * would fail while writing, after every request was paid for.
 */
export const MIN_FREE_BYTES_PER_FOLDER = 160 * 1024

/** What a file manager leaves in any folder a user opens, and git's placeholder for an empty folder: carried into the new run folder, never a reason to refuse. */
const CARRIED_FILES = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini', '.gitkeep'])
const OWN_FILES = new Set<string>(Object.values(RUN_FILES))
/** writeAtomic's temporary names (FILE.PID.tmp), left by a run killed mid-write */
const ATOMIC_LEFTOVER = /^[\w.-]+\.\d+\.tmp$/
/** this module's staging and set-aside names, with the pid of the run that made them */
const STAGING = /^\.(?:(.+)\.)?routecheck-(\d+)-[0-9a-f]+\.(tmp|old)$/

/** Checks the run folders without touching anything (for --dry-run, and first of all in stageRunFolders). */
export async function checkRunFolders(check: RunFolderCheck): Promise<void> {
  const problems: Problem[] = []
  for (const dir of check.folders) problems.push(...(await folderProblems(dir, check)))
  if (problems.length > 0) throw new InputError(problems)
}

/**
 * Checks the run folders, then makes each one's staging folder, so that a
 * folder that cannot be written is found before the first request (exit 2).
 * Staging folders left by a killed run are removed on the way.
 */
export async function stageRunFolders(check: RunFolderCheck): Promise<StagedRunFolders> {
  await checkRunFolders(check)
  const staged = new Map<string, RunFolder>()
  const open = new Set<string>()
  // A second Ctrl-C exits at once: what was staged goes with the process (the journal keeps the work).
  const sweep = () => {
    for (const s of open) rmSync(s, { recursive: true, force: true })
  }
  process.on('exit', sweep)
  const settle = (staging: string) => {
    open.delete(staging)
    if (open.size === 0) process.off('exit', sweep)
  }
  const discardAll = async () => {
    for (const f of staged.values()) await f.discard()
    process.off('exit', sweep)
  }
  const problems: Problem[] = []
  const perDisk = new Map<number, { free: number; folders: string[] }>()
  for (const dir of new Set(check.folders)) {
    try {
      const { folder, disk } = await stageOne(dir, settle)
      staged.set(dir, folder)
      open.add(folder.staging)
      if (disk) {
        const d = perDisk.get(disk.dev) ?? { free: disk.free, folders: [] }
        d.folders.push(dir)
        perDisk.set(disk.dev, d)
      }
    } catch (e) {
      if (errnoCode(e) === undefined) {
        await discardAll()
        throw e
      }
      problems.push({ file: dir, message: `the run folder (${check.named ?? "--out"}) cannot be written (${fsFailure(e)})`, fix: `choose a folder you can write for ${check.named ?? "--out"}, or fix the permissions` })
    }
  }
  for (const { free, folders } of perDisk.values()) {
    const needed = MIN_FREE_BYTES_PER_FOLDER * folders.length
    if (free < needed) {
      problems.push({
        file: folders[0]!,
        message: `the disk holding the run folder${folders.length > 1 ? 's' : ''} has ${kib(free)} free, and ${folders.length > 1 ? `${folders.length} run folders need` : 'a run folder needs'} at least ${kib(needed)} (report.html alone is about 95 KB)`,
        fix: `free some space, or choose a folder on another disk for ${check.named ?? '--out'}`,
      })
    }
  }
  if (problems.length > 0) {
    await discardAll()
    throw new InputError(problems)
  }
  return {
    get(dir) {
      const f = staged.get(dir)
      if (!f) throw new Error(`no staged run folder for ${dir}`)
      return f
    },
    discardAll,
  }
}

/** A single file a command writes (the baseline, a rebuilt report.html): what `--baseline`/RUN_DIR names must take it. */
export type OutputFileCheck = {
  file: string
  /** "--baseline" */
  named: string
  /** inputs it must not overwrite */
  keep: readonly KeptPath[]
  /** run folders it must not lie in (a run replaces them whole) */
  folders: readonly string[]
}

/** Checks a file before the work that makes it: exit 2 if it could not be written, found before anything is routed. */
export async function checkOutputFile(check: OutputFileCheck): Promise<void> {
  const { file, named } = check
  const where = resolveReal(file)
  const problems: Problem[] = []
  const input = check.keep.find((k) => resolveReal(k.path) === where)
  const folder = check.folders.find((f) => isInside(where, resolveReal(f)))
  const kind = await kindOf(file)
  if (input) problems.push({ file, message: `this is ${input.what}: writing here would replace it`, fix: `give ${named} another file` })
  else if (folder !== undefined) problems.push({ file, message: `this lies inside the run folder ${folder}, which a run replaces whole: it would be deleted`, fix: `give ${named} a file outside the run folders` })
  else if (kind.kind === 'under-file') problems.push({ file, message: `this lies under ${kind.file}, which is a file, not a folder`, fix: `give ${named} another path` })
  else if (kind.kind === 'error') problems.push({ file, message: `this cannot be used (${fsFailure(kind.error)})`, fix: `check the path given to ${named}` })
  else if (kind.kind === 'dir' || kind.kind === 'other') problems.push({ file, message: `this is ${kind.kind === 'dir' ? 'a folder' : 'a device, a pipe or a socket'}, not a file`, fix: `give ${named} a file path` })
  else {
    // The file is written beside itself and renamed over: its folder must be writable (or makeable).
    const parent = path.dirname(path.resolve(file))
    const missing = !existsSync(parent)
    const problem = missing ? await creatable(parent, named) : await access(parent, fsConstants.W_OK).then(() => undefined, (e: unknown) => [{ file, message: `its folder cannot be written (${fsFailure(e)})`, fix: `give ${named} a file in a folder you can write` }])
    problems.push(...(problem ?? []))
  }
  if (problems.length > 0) throw new InputError(problems)
}

const kib = (bytes: number) => `${Math.floor(bytes / 1024).toLocaleString('en-US')} KiB`

/** Everything wrong with one run folder, found without writing. */
async function folderProblems(dir: string, check: RunFolderCheck): Promise<Problem[]> {
  const named = check.named ?? '--out'
  const fresh = `choose a new or empty folder for ${named}`
  const where = resolveReal(dir)
  const agentsDir = (check.agentsDirs ?? []).find((d) => isInside(where, resolveReal(d)))
  if (agentsDir !== undefined) {
    return [
      {
        file: dir,
        message: `the run folder (${named}) ${where === resolveReal(agentsDir) ? 'is the agents folder' : `lies inside the agents folder ${agentsDir}`}: its report.md would be read as an agent file, by routecheck and by Claude Code`,
        fix: `choose a folder outside ${agentsDir} for ${named}${check.byDefault ? ` (the default is ${check.byDefault})` : ''}`,
      },
    ]
  }
  const same = check.keep.find((k) => resolveReal(k.path) === where)
  if (same) return [{ file: dir, message: `the run folder (${named}) is ${same.what}: a run folder is replaced whole when a run ends, so it would be deleted`, fix: fresh }]
  const held = check.keep.filter((k) => isInside(resolveReal(k.path), where))
  if (held.length > 0) {
    const list = held.slice(0, 3).map((k) => `${k.what} ${k.path}`).join(', ')
    return [{ file: dir, message: `the run folder (${named}) holds ${list}${held.length > 3 ? ` and ${held.length - 3} more` : ''}: a run folder is replaced whole when a run ends, so ${held.length > 1 ? 'they' : 'it'} would be deleted`, fix: fresh }]
  }
  const kind = await kindOf(dir)
  if (kind.kind === 'missing') return (await creatable(dir, named)) ?? []
  if (kind.kind === 'error') return [{ file: dir, message: `the run folder (${named}) cannot be used (${fsFailure(kind.error)})`, fix: `check the path given to ${named}` }]
  if (kind.kind === 'under-file') return [{ file: dir, message: `the run folder (${named}) lies under ${kind.file}, which is a file, not a folder`, fix: `choose another path for ${named}` }]
  if (kind.kind !== 'dir') {
    return [{ file: dir, message: `the run folder (${named}) is ${kind.kind === 'file' ? 'a file' : 'a device, a pipe or a socket'}, not a folder`, fix: `give ${named} a folder (it is made if missing)` }]
  }
  const problems: Problem[] = []
  const { foreign, runFolders } = await foreignEntries(dir)
  if (foreign.length > 0) {
    const list = foreign.slice(0, 5).join(', ')
    problems.push({ file: dir, message: `the run folder (${named}) holds files routecheck did not write (${list}${foreign.length > 5 ? `, and ${foreign.length - 5} more` : ''}): a run folder is replaced whole when a run ends, so they would be lost`, fix: `${fresh}, or move them out` })
  } else if (runFolders.length > 0) {
    problems.push({
      file: dir,
      message: `the run folder (${named}) holds the run folders of a run of several datasets (${runFolders.slice(0, 5).map((r) => `${r}/`).join(', ')}): this run would replace them`,
      fix: `give ${named} a folder of its own for this dataset`,
    })
  }
  try {
    // The earlier run's files are removed when the new run replaces them.
    await access(dir, fsConstants.W_OK)
  } catch (e) {
    problems.push({ file: dir, message: `the run folder (${named}) cannot be written (${fsFailure(e)})`, fix: `choose a folder you can write for ${named}, or fix its permissions` })
  }
  return problems
}

/** A missing run folder: the nearest folder above it that exists must be writable, for it to be made. */
async function creatable(dir: string, named: string): Promise<Problem[] | undefined> {
  let at = path.resolve(dir)
  while (!existsSync(at) && path.dirname(at) !== at) at = path.dirname(at)
  try {
    await access(at, fsConstants.W_OK)
    return undefined
  } catch (e) {
    return [{ file: dir, message: `the run folder (${named}) cannot be made in ${path.relative(process.cwd(), at) || '.'} (${fsFailure(e)})`, fix: `choose a folder you can write for ${named}, or fix the permissions` }]
  }
}

/** Entries of an existing run folder that routecheck did not write, and subfolders that are run folders. */
async function foreignEntries(dir: string): Promise<{ foreign: string[]; runFolders: string[] }> {
  const entries = await readdir(dir, { withFileTypes: true })
  const foreign: string[] = []
  const runFolders: string[] = []
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (CARRIED_FILES.has(e.name) || ATOMIC_LEFTOVER.test(e.name) || STAGING.test(e.name)) continue
    if (OWN_FILES.has(e.name) && !e.isDirectory()) continue
    if (e.isDirectory() && existsSync(path.join(dir, e.name, RUN_FILES.summary))) runFolders.push(e.name)
    else foreign.push(e.isDirectory() ? `${e.name}/` : e.name)
  }
  return { foreign, runFolders }
}

type Kind = { kind: 'missing' } | { kind: 'dir' | 'file' | 'other' } | { kind: 'under-file'; file: string } | { kind: 'error'; error: unknown }

async function kindOf(p: string): Promise<Kind> {
  try {
    const st = await stat(p)
    return { kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other' }
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT') return { kind: 'missing' }
    if (code === 'ENOTDIR') {
      let at = path.dirname(p)
      while (path.dirname(at) !== at && (await stat(at).then((s) => !s.isFile(), () => true))) at = path.dirname(at)
      return { kind: 'under-file', file: at }
    }
    return { kind: 'error', error: e }
  }
}

/**
 * Makes the staging folder of one run folder: a sibling when the folder can
 * be renamed as a whole, else inside it. Removes what killed runs left there.
 */
async function stageOne(dir: string, settle: (staging: string) => void): Promise<{ folder: RunFolder; disk: { dev: number; free: number } | undefined }> {
  const parent = path.dirname(path.resolve(dir))
  await mkdir(parent, { recursive: true })
  await sweepStale(parent, path.basename(path.resolve(dir)), dir)
  const token = `routecheck-${process.pid}-${randomBytes(4).toString('hex')}`
  const whole = await renamable(dir, parent)
  const staging = whole ? path.join(path.dirname(dir), `.${path.basename(path.resolve(dir))}.${token}.tmp`) : path.join(dir, `.${token}.tmp`)
  if (!whole) await mkdir(dir, { recursive: true })
  await mkdir(staging)
  const free = await statfs(staging).then((s) => Number(s.bavail) * Number(s.bsize), () => undefined)
  const disk = free === undefined ? undefined : { dev: (await stat(staging)).dev, free }
  let done = false
  const finish = () => {
    done = true
    settle(staging)
  }
  const folder: RunFolder = {
    dir,
    staging,
    async commit() {
      if (done) throw new Error(`run folder ${dir} was already committed or discarded`)
      try {
        const result = whole ? await swapWhole(dir, staging, token) : await swapFiles(dir, staging)
        finish()
        return result
      } catch (e) {
        await rm(staging, { recursive: true, force: true }).catch(() => undefined)
        finish()
        throw WriteError.of(dir, e)
      }
    },
    async discard() {
      if (done) return
      await rm(staging, { recursive: true, force: true }).catch(() => undefined)
      finish()
    },
  }
  return { folder, disk }
}

/**
 * Whether the run folder can be replaced by a rename: it is not there yet,
 * or it is an ordinary folder (not a mount point, not a symlink) in a parent
 * this process may write.
 */
async function renamable(dir: string, parent: string): Promise<boolean> {
  const st = await stat(dir).catch(() => undefined)
  if (st) {
    // A symlink to the run folder stays a symlink: the files are replaced where it points.
    if ((await lstat(dir)).isSymbolicLink()) return false
    const up = await stat(parent)
    if (up.dev !== st.dev) return false // a mount point: it cannot be renamed
  }
  try {
    await access(parent, fsConstants.W_OK)
    return true
  } catch (e) {
    if (st) return false
    throw e // nowhere to make it
  }
}

/** The earlier folder aside, the new one in, the earlier one removed; on failure the earlier one is put back. */
async function swapWhole(dir: string, staging: string, token: string): Promise<{ replaced: boolean; dropped: string[] }> {
  const aside = path.join(path.dirname(dir), `.${path.basename(path.resolve(dir))}.${token}.old`)
  const earlier = await readdir(dir).catch(() => undefined)
  let dropped: string[] = []
  if (earlier) {
    const ours = new Set(await readdir(staging))
    // Anything not routecheck's that appeared since the check (or a carried file) moves into the new folder, never away with the old.
    for (const name of earlier) {
      if (OWN_FILES.has(name) || ATOMIC_LEFTOVER.test(name) || STAGING.test(name) || ours.has(name)) continue
      await rename(path.join(dir, name), path.join(staging, name))
    }
    dropped = earlier.filter((n) => OWN_FILES.has(n) && !ours.has(n))
    await rename(dir, aside)
  }
  try {
    await rename(staging, dir)
  } catch (e) {
    if (earlier) await rename(aside, dir).catch(() => undefined)
    throw e
  }
  if (earlier) await rm(aside, { recursive: true, force: true }).catch(() => undefined)
  return { replaced: earlier !== undefined, dropped }
}

/** File by file, for a folder that cannot be renamed: an earlier gate.json goes first, summary.json comes last. */
async function swapFiles(dir: string, staging: string): Promise<{ replaced: boolean; dropped: string[] }> {
  const fresh = await readdir(staging)
  const earlier = (await readdir(dir)).filter((n) => OWN_FILES.has(n))
  const dropped = earlier.filter((n) => !fresh.includes(n))
  for (const name of dropped) await rm(path.join(dir, name), { force: true })
  const order = [...fresh.filter((n) => n !== RUN_FILES.summary), ...fresh.filter((n) => n === RUN_FILES.summary)]
  for (const name of order) await rename(path.join(staging, name), path.join(dir, name))
  await rm(staging, { recursive: true, force: true })
  return { replaced: earlier.length > 0, dropped }
}

/**
 * Staging folders of runs that are no longer running (killed with SIGKILL,
 * or by a power cut) are removed; an earlier folder set aside just before
 * such a kill is put back if nothing took its place.
 */
async function sweepStale(parent: string, name: string, dir: string): Promise<void> {
  const places = [parent, path.resolve(dir)]
  for (const place of places) {
    const entries = await readdir(place).catch(() => [] as string[])
    for (const entry of entries) {
      const m = STAGING.exec(entry)
      if (!m) continue
      const [, owner, pid, kind] = m
      if (place === parent && owner !== name) continue
      if (alive(Number(pid))) continue
      const full = path.join(place, entry)
      if (kind === 'old' && !existsSync(dir)) await rename(full, dir).catch(() => undefined)
      else await rm(full, { recursive: true, force: true }).catch(() => undefined)
    }
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false // an earlier command of this process: finished, or it would not be here
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return errnoCode(e) === 'EPERM'
  }
}

/** The path with every part that exists resolved through its symlinks, so `--out ./link-to-agents` is seen for what it is. */
function resolveReal(p: string): string {
  let at = path.resolve(p)
  const tail: string[] = []
  for (;;) {
    try {
      return path.join(realpathSync(at), ...tail)
    } catch {
      const up = path.dirname(at)
      if (up === at) return path.join(at, ...tail)
      tail.unshift(path.basename(at))
      at = up
    }
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child)
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
}
