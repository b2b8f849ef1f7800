import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runCli, runInProcess, tempProject, writeFiles } from './support/cli.js'
import { isRoot, mountTmpfs, runCliLimited, unmount } from './support/disk.js'
import { startMessagesServer, type MessagesServer } from './support/messages-server.js'

/**
 * The output folder (issue 14): an --out that cannot take the run is exit 2
 * before the first request, a run folder is put in place whole at the end,
 * and a disk that fills while writing is one sentence, exit 3, the earlier
 * run folder untouched and the journal kept. The anthropic router runs
 * against the local Messages server, so "nothing sent" is counted.
 */
let server: MessagesServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function serve(): Promise<MessagesServer> {
  server = await startMessagesServer({ models: ['claude-haiku-4-5'] })
  return server
}
const envFor = (s: MessagesServer) => ({ ANTHROPIC_BASE_URL: s.url, ANTHROPIC_API_KEY: 'test-key' })
const ANTHROPIC = ['eval', '--router', 'anthropic', '--style', 'template', '--repeats', '1']

/** Staging folders, set-aside folders and half-written files, anywhere under `dir`. */
async function leftovers(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true })
  return entries.filter((e) => /routecheck-\d+-[0-9a-f]+\.(tmp|old)$|\.\d+\.tmp$/.test(path.basename(e)))
}

/** Every file under a folder with its bytes, to show it did not change. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of (await readdir(dir, { recursive: true })).sort()) {
    const full = path.join(dir, e)
    if ((await stat(full)).isFile()) out[e] = (await readFile(full)).toString('base64')
  }
  return out
}

describe('--out is checked before the first request: exit 2, nothing sent, nothing written', () => {
  const cases: Array<{ out: string; message: RegExp; setup?: Record<string, string> }> = [
    { out: 'agents', message: /^agents: the run folder \(--out\) is the agents folder: its report\.md would be read as an agent file.*\n.*fix: choose a folder outside agents for --out \(the default is reports\/latest\)/m },
    { out: 'agents/reports', message: /^agents\/reports: the run folder \(--out\) lies inside the agents folder agents/m },
    { out: 'existing-file', setup: { 'existing-file': 'a file of mine\n' }, message: /^existing-file: the run folder \(--out\) is a file, not a folder/m },
    { out: 'existing-file/run', setup: { 'existing-file': 'a file of mine\n' }, message: /^existing-file\/run: the run folder \(--out\) lies under existing-file, which is a file, not a folder/m },
    { out: '/dev/full', message: /^\/dev\/full: the run folder \(--out\) is a device, a pipe or a socket, not a folder/m },
    { out: 'datasets', message: /^datasets: the run folder \(--out\) holds the dataset datasets\/python-backend\.csv: a run folder is replaced whole when a run ends, so it would be deleted/m },
    { out: 'datasets/python-backend.csv', message: /^datasets\/python-backend\.csv: the run folder \(--out\) is the dataset/m },
    { out: 'mine', setup: { 'mine/notes.txt': 'my notes\n', 'mine/summary.json': '{}' }, message: /^mine: the run folder \(--out\) holds files routecheck did not write \(notes\.txt\): .* so they would be lost/m },
    { out: '.', message: /^\.: the run folder \(--out\) holds the agents folder agents, the dataset datasets\/python-backend\.csv, the run journal folder/m },
    { out: '.routecheck', message: /^\.routecheck: the run folder \(--out\) holds the run journal folder \(cacheDir\) \.routecheck\/cache/m },
  ]
  it.each(cases)('--out $out', async ({ out, setup, message }) => {
    const dir = await tempProject({ datasets: true })
    if (setup) await writeFiles(dir, setup)
    const before = await snapshot(dir)
    const s = await serve()
    const r = await runCli([...ANTHROPIC, '--dataset', 'datasets/python-backend.csv', '--out', out], { cwd: dir, env: envFor(s) })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/)
    expect(s.requests).toHaveLength(0)
    expect(await snapshot(dir)).toEqual(before)
    expect(await leftovers(dir)).toEqual([])
  })

  it('--dry-run checks the folder too; gate and baseline check theirs and the baseline file before routing', async () => {
    const dir = await tempProject({ datasets: true })
    const dry = await runInProcess(['eval', '--dry-run', '--dataset', 'datasets/python-backend.csv', '--out', 'agents'], { cwd: dir })
    expect(dry.code).toBe(2)
    expect(dry.stderr).toContain('is the agents folder')
    // A probe run's folder is found in the config's out by default, and the fix says so.
    const probe = await runInProcess(['overlap', '--probe', '--probe-from', 'examples', '--out', 'agents'], { cwd: dir })
    expect(probe.code).toBe(2)
    expect(probe.stderr).toContain(`(the default is ${path.join('reports', 'latest', 'probes')})`)
    const made = await runInProcess(['baseline', '--dataset', 'datasets/python-backend.csv'], { cwd: dir })
    expect(made.code, made.stderr).toBe(0)
    const before = await snapshot(dir)
    const gate = await runInProcess(['gate', '--out', 'agents'], { cwd: dir })
    expect(gate.code).toBe(2)
    expect(gate.stderr).toMatch(/^agents: the run folder \(--out\) is the agents folder/m)
    const overDataset = await runInProcess(['baseline', '--dataset', 'datasets/python-backend.csv', '--baseline', 'datasets/python-backend.csv'], { cwd: dir })
    expect(overDataset.code).toBe(2)
    expect(overDataset.stderr).toMatch(/^datasets\/python-backend\.csv: this is the dataset: writing here would replace it/m)
    const overAgents = await runInProcess(['baseline', '--dataset', 'datasets/python-backend.csv', '--baseline', 'agents'], { cwd: dir })
    expect(overAgents.code).toBe(2)
    expect(overAgents.stderr).toMatch(/^agents: this is the agents folder: writing here would replace it/m)
    const overFolder = await runInProcess(['baseline', '--dataset', 'datasets/python-backend.csv', '--baseline', 'datasets'], { cwd: dir })
    expect(overFolder.code).toBe(2)
    expect(overFolder.stderr).toMatch(/^datasets: this is a folder, not a file/m)
    const inRun = await runInProcess(['baseline', '--dataset', 'datasets/python-backend.csv', '--out', 'run', '--baseline', 'run/baseline.json'], { cwd: dir })
    expect(inRun.code).toBe(2)
    expect(inRun.stderr).toMatch(/^run: the run folder \(--out\) holds the baseline run\/baseline\.json/m)
    expect(await snapshot(dir)).toEqual(before)
  })

  it('a read-only file system (EROFS) and a folder the user may not write (EACCES)', async () => {
    const dir = await tempProject({ datasets: true })
    await chmod(dir, 0o777) // the unprivileged run reads the project
    const s = await serve()
    await mkdir(path.join(dir, 'ro'))
    if (mountTmpfs(path.join(dir, 'ro'), { sizeKb: 512, readOnly: true })) {
      const r = await runCli([...ANTHROPIC, '--dataset', 'datasets/python-backend.csv', '--out', 'ro/run'], { cwd: dir, env: envFor(s) })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(/^ro\/run: the run folder \(--out\) cannot be made in ro \(the file system is read-only \(EROFS\)\)/m)
      unmount(path.join(dir, 'ro'))
    }
    await mkdir(path.join(dir, 'locked'))
    await chmod(path.join(dir, 'locked'), 0o555)
    // A folder that exists but may not be written: its earlier run could not be replaced.
    await mkdir(path.join(dir, 'sealed'))
    await writeFile(path.join(dir, 'sealed/summary.json'), '{}')
    await chmod(path.join(dir, 'sealed'), 0o555)
    for (const [out, message] of [
      ['locked/run', /^locked\/run: the run folder \(--out\) cannot be made in locked \(permission denied\)/m],
      ['sealed', /^sealed: the run folder \(--out\) cannot be written \(permission denied\)/m],
    ] as const) {
      const r = await runCliLimited([...ANTHROPIC, '--dataset', 'datasets/python-backend.csv', '--out', out, '--no-cache'], { cwd: dir, env: envFor(s), unprivileged: true })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toMatch(message)
    }
    expect(s.requests).toHaveLength(0)
    expect(await readdir(path.join(dir, 'locked'))).toEqual([])
  })
})

describe('a run folder is put in place whole', () => {
  it('replaces the earlier run: its gate.json and half-written files gone, a desktop file kept, a killed run\'s staging folder swept', async () => {
    const dir = await tempProject({ datasets: true })
    const first = await runInProcess(['eval', '--dataset', 'datasets/python-backend.csv', '--out', 'run'], { cwd: dir })
    expect(first.code).toBe(0)
    const earlier = JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8')) as { createdAt: string }
    await writeFiles(dir, {
      'run/gate.json': '{"passed": false}\n',
      'run/summary.json.4242.tmp': '{"half": ',
      'run/.DS_Store': 'finder',
      'run/.gitkeep': '',
      // a run killed with SIGKILL (pid 999999 is not running) left its staging folder
      '.run.routecheck-999999-0a0b0c0d.tmp/summary.json': '{}',
    })
    await new Promise((r) => setTimeout(r, 5))
    const listeners = process.listenerCount('exit')
    const second = await runInProcess(['eval', '--dataset', 'datasets/python-backend.csv', '--out', 'run'], { cwd: dir })
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toContain('wrote run/ (summary.json, results.jsonl, report.html, report.md, junit.xml) and confusion.csv; removed gate.json from an earlier run')
    expect((await readdir(path.join(dir, 'run'))).sort()).toEqual(['.DS_Store', '.gitkeep', 'confusion.csv', 'junit.xml', 'report.html', 'report.md', 'results.jsonl', 'summary.json'])
    const now = JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8')) as { createdAt: string }
    expect(now.createdAt).not.toBe(earlier.createdAt)
    expect(await leftovers(dir)).toEqual([])
    expect(process.listenerCount('exit')).toBe(listeners)
  })

  it("with several datasets each run folder is replaced on its own; the out folder's other files stay", async () => {
    const dir = await tempProject({ datasets: true })
    await writeFiles(dir, { 'out/README.md': 'notes about these runs\n', 'out/elsewhere/summary.json': '{"mine": true}\n', 'out/routing/gate.json': '{}' })
    const r = await runInProcess(['eval', '--dataset', 'datasets/routing.csv', '--dataset', 'datasets/python-backend.csv', '--out', 'out'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect((await readdir(path.join(dir, 'out'))).sort()).toEqual(['README.md', 'elsewhere', 'python-backend', 'routing'])
    expect(await readFile(path.join(dir, 'out/elsewhere/summary.json'), 'utf8')).toBe('{"mine": true}\n')
    expect(await readdir(path.join(dir, 'out/routing'))).not.toContain('gate.json')
    // A run of one dataset into that out folder would replace the others' run folders: refused.
    const single = await runInProcess(['eval', '--dataset', 'datasets/routing.csv', '--out', 'out'], { cwd: dir })
    expect(single.code).toBe(2)
    expect(single.stderr).toMatch(/holds files routecheck did not write \(README\.md\)/)
  })

  it('a symlink to the run folder stays a symlink; the files are replaced where it points', async () => {
    const dir = await tempProject({ datasets: true })
    await mkdir(path.join(dir, 'real'))
    await symlink('real', path.join(dir, 'link'))
    for (let i = 0; i < 2; i++) {
      const r = await runInProcess(['eval', '--dataset', 'datasets/python-backend.csv', '--out', 'link'], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
    }
    expect((await lstat(path.join(dir, 'link'))).isSymbolicLink()).toBe(true)
    expect((await readdir(path.join(dir, 'real'))).sort()).toEqual(['confusion.csv', 'junit.xml', 'report.html', 'report.md', 'results.jsonl', 'summary.json'])
    expect(await leftovers(dir)).toEqual([])
  })
})

describe('a disk that fills while the run folder is written', () => {
  it('is one sentence and exit 3; the earlier run folder is as it was, nothing half-written is left, and a run after freeing space sends 0 requests', async () => {
    const dir = await tempProject({ datasets: true })
    const disk = path.join(dir, 'disk')
    await mkdir(disk)
    // 2 MiB: room for python-backend.csv's run folder (~0.4 MB) and routing.csv's (~0.7 MB) side by side, as the swap needs.
    const small = mountTmpfs(disk, { sizeKb: 2048 })
    const s = await serve()
    // Without a mount, a file-size limit makes the same failure (EFBIG) for the CLI alone.
    const run = (dataset: string, limited: boolean) =>
      small || !limited
        ? runCli([...ANTHROPIC, '--dataset', dataset, '--out', 'disk/run'], { cwd: dir, env: envFor(s) })
        : runCliLimited([...ANTHROPIC, '--dataset', dataset, '--out', 'disk/run'], { cwd: dir, env: envFor(s), fileSizeKb: 150 })

    const first = await run('datasets/python-backend.csv', false)
    expect(first.code, first.stderr).toBe(0)
    const earlier = await snapshot(path.join(disk, 'run'))

    if (small) {
      // Leave 200 KiB: more than the 160 KiB a run folder needs at least, less than routing.csv's run folder (~700 KB).
      const { bavail, bsize } = await import('node:fs/promises').then((fs) => fs.statfs(disk))
      await writeFile(path.join(disk, 'filler'), Buffer.alloc(Number(bavail) * Number(bsize) - 200 * 1024))
    }
    s.reset()
    const full = await run('datasets/routing.csv', true)
    expect(full.code, full.stderr).toBe(3)
    const sentence = /^routecheck: could not write the run folder disk\/run \([\w.]+: (no space left on the device \(ENOSPC\)|the file would pass the file-size limit \(EFBIG\))\); the earlier run folder there is as it was, and every finished request is in the run journal \.routecheck\/cache\/\w+\.jsonl, so a run after freeing space sends none of them again$/m
    expect(full.stderr).toMatch(sentence)
    expect(full.stderr).not.toMatch(/\n\s+at .*\.js:\d+/)
    expect(s.requests).toHaveLength(352)
    expect(await snapshot(path.join(disk, 'run'))).toEqual(earlier)
    expect(await leftovers(dir)).toEqual([])

    if (small) {
      // Filled to the brim: refused before the first request.
      const { bavail, bsize } = await import('node:fs/promises').then((fs) => fs.statfs(disk))
      await writeFile(path.join(disk, 'filler2'), Buffer.alloc(Math.max(0, Number(bavail) * Number(bsize) - 64 * 1024)))
      s.reset()
      const brim = await runCli([...ANTHROPIC, '--dataset', 'datasets/routing.csv', '--out', 'disk/run', '--no-cache'], { cwd: dir, env: envFor(s) })
      expect(brim.code, brim.stderr).toBe(2)
      expect(brim.stderr).toMatch(/^disk\/run: the disk holding the run folder has \d+ KiB free, and a run folder needs at least 160 KiB/m)
      expect(s.requests).toHaveLength(0)
      await rm(path.join(disk, 'filler'))
      await rm(path.join(disk, 'filler2'))
    }

    s.reset()
    const again = await run('datasets/routing.csv', false)
    expect(again.code, again.stderr).toBe(0)
    expect(s.requests).toHaveLength(0)
    const summary = JSON.parse(await readFile(path.join(disk, 'run/summary.json'), 'utf8')) as { dataset: { path: string }; requests: { sent: number; fromCache: number } }
    expect(summary.dataset.path).toBe('datasets/routing.csv')
    expect(summary.requests).toMatchObject({ sent: 0, fromCache: 352 })
    if (small) unmount(disk)
  })

  it('a run journal on a disk that fills: the run goes on with a warning; its folder says what is kept', async () => {
    const dir = await tempProject({ datasets: true })
    const cache = path.join(dir, 'cache')
    await mkdir(cache)
    // 16 KiB holds about 80 of routing.csv's 352 journal lines.
    const small = mountTmpfs(cache, { sizeKb: 16 })
    await writeFiles(dir, { 'routecheck.config.json': JSON.stringify({ cacheDir: 'cache' }) })
    const s = await serve()
    const args = [...ANTHROPIC, '--dataset', 'datasets/routing.csv', '--out', 'run']
    const r = small ? await runCli(args, { cwd: dir, env: envFor(s) }) : await runCliLimited(args, { cwd: dir, env: envFor(s), fileSizeKb: 16 })
    expect(s.requests).toHaveLength(352)
    const warning = /^warning: the run journal cache\/\w+\.jsonl could not be written \((no space left on the device \(ENOSPC\)|the file would pass the file-size limit \(EFBIG\))\): what finished since is in the run folder only, and a run after freeing space sends it again$/m
    expect(r.stderr).not.toMatch(/\n\s+at .*\.js:\d+/)
    if (small) {
      expect(r.stderr).toMatch(warning)
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(await readFile(path.join(dir, 'run/summary.json'), 'utf8')).metrics.decided).toBe(352)
      unmount(cache)
    } else {
      // Under a file-size limit the run folder's big files fail too: the sentence says the journal could not be written either.
      expect(r.code).toBe(3)
      expect(r.stderr).toMatch(/the run journal cache\/\w+\.jsonl could not be written either \(the file would pass the file-size limit \(EFBIG\)\), so a run after freeing space sends what it lacks again$/m)
    }
  })

  it('a GitHub step summary that cannot be written is exit 3 naming it, after the verdict', async () => {
    const dir = await tempProject({ datasets: true })
    expect((await runInProcess(['baseline', '--dataset', 'datasets/python-backend.csv'], { cwd: dir })).code).toBe(0)
    const r = await runInProcess(['gate'], { cwd: dir, env: { GITHUB_STEP_SUMMARY: '/dev/full' } })
    expect(r.code).toBe(3)
    expect(r.stdout).toContain('gate: passed')
    expect(r.stderr).toMatch(/^routecheck: could not write \/dev\/full: no space left on the device \(ENOSPC\)$/m)
  })
})
