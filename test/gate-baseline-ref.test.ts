import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, runCli, tempDir, tempProject } from './support/cli.js'
import { commitAll, git, gitInit, shallowClone } from './support/git.js'

const CATCH_ALL = 'description: "Use this agent for anything about code."'

/** Makes one agent's description a catch-all: on the bundled datasets it breaks golang-pro's cases. */
async function catchAll(dir: string, agent: string): Promise<void> {
  const file = path.join(dir, 'agents', `${agent}.md`)
  await writeFile(file, (await readFile(file, 'utf8')).replace(/^description:.*$/m, CATCH_ALL))
}

/** A project (the bundled agents and datasets, this repository's config), not yet a repository. */
async function project(): Promise<string> {
  const dir = await tempProject({ datasets: true })
  await writeFile(path.join(dir, 'routecheck.config.json'), await readFile(path.join(ROOT, 'routecheck.config.json')))
  await writeFile(path.join(dir, '.gitignore'), 'reports/latest/\n.routecheck/\n')
  return dir
}

async function baseline(dir: string): Promise<void> {
  const r = await runCli(['baseline'], { cwd: dir })
  expect(r.code, r.stderr).toBe(0)
}

/**
 * The hole: main has the agents, datasets and baseline; the pull request's branch makes
 * golang-pro a catch-all and re-makes the baseline, both committed.
 */
async function rebaselinedPullRequest(): Promise<{ dir: string; base: string }> {
  const dir = await project()
  await baseline(dir)
  const base = await gitInit(dir, 'routecheck: agents, datasets, baseline')
  await git(dir, 'checkout', '-q', '-b', 'pr')
  await catchAll(dir, 'golang-pro')
  await baseline(dir)
  await commitAll(dir, 'golang-pro takes everything; baseline re-made')
  return { dir, base }
}

const gateJson = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'reports/latest/routing/gate.json'), 'utf8'))
const CHANGES_NOTE = (at: string) => `baseline: this pull request changes reports/baseline.json; the gate compares with the one at ${at}, since a baseline re-made in the pull request cannot judge it; the new one takes effect once merged`

describe('gate --baseline-ref: the reference is the base branch\'s baseline', () => {
  it('a pull request that re-makes the baseline passes the plain gate, and fails against main\'s, naming the agent, the broken cases and the changed baseline', async () => {
    const { dir, base } = await rebaselinedPullRequest()
    const at = `main (${base.slice(0, 12)})`

    // The hole, reproduced: compared with itself, the pull request passes.
    const plain = await runCli(['gate'], { cwd: dir })
    expect(plain.code).toBe(0)
    expect(plain.stdout).toMatch(/^agents changed: — · added: — · removed: —$/m)
    expect(plain.stdout).not.toContain('baseline:')

    const r = await runCli(['gate', '--baseline-ref', 'main'], { cwd: dir })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stdout).toMatch(/^FAIL: /)
    expect(r.stdout).toContain(`\ngate · router lexical · baseline reports/baseline.json at ${at}\n${CHANGES_NOTE(at)}\nagents changed: golang-pro · added: — · removed: —\n`)
    expect(r.stdout).toMatch(/FAIL agent-f1-drop \(datasets\/routing\.csv\): golang-pro: F1 fell 0\.\d\d → 0\.00/)
    const broke = [...r.stdout.matchAll(/^│ (\S+) +│ golang-pro +│ golang-pro +│ [a-z-]+ +│ right → wrong │$/gm)].map((m) => m[1])
    expect(broke.length).toBeGreaterThanOrEqual(5)
    expect(r.stdout).toMatch(new RegExp(`FAIL stable-flips \\(datasets/routing\\.csv\\): \\d+ case\\(s\\) went from right to wrong .*${broke[0]} golang-pro →`))

    const record = await gateJson(dir)
    expect(record.passed).toBe(false)
    expect(record.baselineRef).toEqual({ ref: 'main', commit: base, file: 'reports/baseline.json', atRef: true, workingCopyDiffers: true })
    const markdown = await readFile(path.join(dir, 'reports/latest/routing/report.md'), 'utf8')
    expect(markdown).toContain(`Router \`lexical\` against \`reports/baseline.json\` at main (${base.slice(0, 12)}).\n\n> baseline: this pull request changes reports/baseline.json;`)
    expect(await readFile(path.join(dir, 'reports/latest/routing/report.html'), 'utf8')).toContain('<p class="callout" role="note">baseline: this pull request changes reports/baseline.json;')
  })

  it('every way the gate reads the baseline reads REF\'s: --only-if-changed, saved run folders, --dry-run, the config key, a commit as REF', async () => {
    const { dir, base } = await rebaselinedPullRequest()
    // The working tree's baseline matches the agents: without REF, --only-if-changed would send nothing.
    const unchanged = await runCli(['gate', '--only-if-changed'], { cwd: dir })
    expect(unchanged.stdout).toMatch(/^gate: no agent's routing fields .* changed since reports\/baseline\.json; nothing sent/m)
    const onlyIfChanged = await runCli(['gate', '--only-if-changed', '--baseline-ref', 'main'], { cwd: dir })
    expect(onlyIfChanged.code).toBe(1)
    expect(onlyIfChanged.stdout).toMatch(/^agents changed: golang-pro/m)

    // The runs that gate just wrote, judged again as a merged matrix run is.
    const saved = await runCli(['gate', '--baseline-ref', 'main', 'reports/latest'], { cwd: dir })
    expect(saved.code).toBe(1)
    expect(saved.stdout).toContain(CHANGES_NOTE(`main (${base.slice(0, 12)})`))
    const savedDry = await runCli(['gate', '--baseline-ref', 'main', 'reports/latest', '--dry-run'], { cwd: dir })
    expect(savedDry.code).toBe(0)
    expect(savedDry.stdout.split('\n').slice(0, 2)).toEqual([CHANGES_NOTE(`main (${base.slice(0, 12)})`), 'gate --dry-run: 2 saved run(s) (reports/latest/routing, reports/latest/python-backend) compared with main:reports/baseline.json, router lexical; comparing them routes nothing'])
    expect(savedDry.stdout).toMatch(/without re-tests \(every stable flip holding\) the rules fail: accuracy-drop, agent-f1-drop, stable-flips/)

    // A route job of a matrix says it too.
    const shard = await runCli(['gate', '--baseline-ref', 'main', '--shard', '1/2', '--out', 'reports/shards'], { cwd: dir })
    expect(shard.code).toBe(0)
    expect(shard.stdout.split('\n')[0]).toBe(CHANGES_NOTE(`main (${base.slice(0, 12)})`))

    // The config key, and the base commit's sha as the action passes it (shown short, once).
    const config = JSON.parse(await readFile(path.join(dir, 'routecheck.config.json'), 'utf8'))
    await writeFile(path.join(dir, 'routecheck.config.json'), JSON.stringify({ ...config, gate: { ...config.gate, baselineRef: base } }))
    const byConfig = await runCli(['gate'], { cwd: dir })
    expect(byConfig.code).toBe(1)
    expect(byConfig.stdout).toContain(`gate · router lexical · baseline reports/baseline.json at ${base.slice(0, 12)}\n${CHANGES_NOTE(base.slice(0, 12))}\n`)
    expect((await gateJson(dir)).baselineRef).toMatchObject({ ref: base, commit: base })
  })

  it('report --baseline-ref rebuilds the page with the comparison the gate judged: REF\'s baseline and its note', async () => {
    const { dir, base } = await rebaselinedPullRequest()
    const at = `main (${base.slice(0, 12)})`
    expect((await runCli(['gate', '--baseline-ref', 'main'], { cwd: dir })).code).toBe(1)
    const run = 'reports/latest/routing'
    const page = () => readFile(path.join(dir, run, 'report.html'), 'utf8')
    const gateSection = (html: string) => html.slice(html.indexOf('<section class="part" id="gate"'), html.indexOf('</section>', html.indexOf('id="gate"')))

    // Without the REF, the page compares the pull request with its own re-made baseline: it passes.
    const plain = await runCli(['report', run, '--baseline', 'reports/baseline.json'], { cwd: dir })
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toBe(`wrote ${run}/report.html (gate passed against reports/baseline.json)\n`)
    const itself = gateSection(await page())
    expect(itself).toContain('✓ Routing gate passed')
    expect(itself).not.toContain('golang-pro')
    expect(itself).not.toContain('class="callout"')

    // With it, the page shows what the gate judged: main's baseline, the note, the agent that changed.
    const r = await runCli(['report', run, '--baseline', 'reports/baseline.json', '--baseline-ref', 'main'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe(`wrote ${run}/report.html (gate failed against reports/baseline.json at ${at})\n`)
    const judged = gateSection(await page())
    expect(judged).toContain('✗ Routing gate failed')
    expect(judged).toContain(`against <code>reports/baseline.json</code> at ${at}.`)
    expect(judged).toContain(`<p class="callout" role="note">${CHANGES_NOTE(at)}</p>`)
    expect(judged).toContain('agents changed: golang-pro')
    expect(judged).toMatch(/agent-f1-drop/)

    // --baseline-ref alone reads the default baseline file; the config key is read as the gate reads it.
    const alone = await runCli(['report', run, '--baseline-ref', 'main'], { cwd: dir })
    expect(alone.stdout).toBe(r.stdout)
    const config = JSON.parse(await readFile(path.join(dir, 'routecheck.config.json'), 'utf8'))
    await writeFile(path.join(dir, 'routecheck.config.json'), JSON.stringify({ ...config, gate: { ...config.gate, baselineRef: base } }))
    const byConfig = await runCli(['report', run, '--baseline', 'reports/baseline.json'], { cwd: dir })
    expect(byConfig.stdout).toBe(`wrote ${run}/report.html (gate failed against reports/baseline.json at ${base.slice(0, 12)})\n`)
    // Without --baseline, the config's key adds nothing: the page is the run's alone.
    expect((await runCli(['report', run], { cwd: dir })).stdout).toBe(`wrote ${run}/report.html\n`)
    expect(await page()).not.toContain('id="gate"')

    // A REF git does not know is the gate's exit 2, worded as the gate words it.
    const unknown = await runCli(['report', run, '--baseline-ref', 'nosuchbranch'], { cwd: dir })
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/^routecheck: --baseline-ref nosuchbranch: git does not know nosuchbranch here/)
  })

  it('a REF a shallow clone lacks is exit 2 naming REF and the fetch; after that fetch the gate judges', async () => {
    const { dir, base } = await rebaselinedPullRequest()
    const checkout = path.join(await tempDir('routecheck-checkout-'), 'repo')
    await shallowClone(dir, 'pr', checkout)
    const missing = await runCli(['gate', '--baseline-ref', base], { cwd: checkout })
    expect(missing.code).toBe(2)
    expect(missing.stdout).toBe('')
    expect(missing.stderr).toBe(
      `routecheck: --baseline-ref ${base}: git does not know ${base} here (a shallow clone, actions/checkout's default, has only the commit it checked out); fix: git fetch --no-tags --depth=1 origin ${base}, or check out with fetch-depth: 0\n`,
    )
    // The fix, as printed.
    await git(checkout, 'fetch', '--no-tags', '--depth=1', 'origin', base)
    const fetched = await runCli(['gate', '--baseline-ref', base], { cwd: checkout })
    expect(fetched.code).toBe(1)
    expect(fetched.stdout).toMatch(/^agents changed: golang-pro/m)
  })

  it('no baseline at REF (the pull request adopting routecheck): a note, and the working tree\'s baseline, exit by the rules', async () => {
    const dir = await project()
    const base = await gitInit(dir, 'agents and datasets, no routecheck yet')
    await git(dir, 'checkout', '-q', '-b', 'adopt')
    await baseline(dir)
    await commitAll(dir, 'adopt routecheck')
    const r = await runCli(['gate', '--baseline-ref', 'main'], { cwd: dir })
    expect(r.code, r.stderr).toBe(0)
    const at = `main (${base.slice(0, 12)})`
    expect(r.stdout).toContain(
      `\ngate · router lexical · baseline reports/baseline.json (the working tree's: ${at} has none)\nbaseline: ${at} has no reports/baseline.json (as in the pull request that adopts routecheck), so the gate compares with the working tree's, the pull request's own: it gates nothing this pull request did; once merged, it is the reference\n`,
    )
    expect((await gateJson(dir)).baselineRef).toEqual({ ref: 'main', commit: base, file: 'reports/baseline.json', atRef: false, workingCopyDiffers: true })
    // Neither there nor here: exit 2, saying both.
    await rm(path.join(dir, 'reports/baseline.json'))
    const none = await runCli(['gate', '--baseline-ref', 'main'], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain(`reports/baseline.json: the baseline file is neither in the working tree nor at ${at} (--baseline-ref)\n  fix: make one with \`routecheck baseline\` and commit it`)
  })

  it('the baseline unchanged at REF: no note, and an edit it judges', async () => {
    const dir = await project()
    await baseline(dir)
    const base = await gitInit(dir)
    await git(dir, 'checkout', '-q', '-b', 'pr')
    await catchAll(dir, 'golang-pro')
    await commitAll(dir, 'golang-pro takes everything')
    const r = await runCli(['gate', '--baseline-ref', 'main'], { cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`\ngate · router lexical · baseline reports/baseline.json at main (${base.slice(0, 12)})\nagents changed: golang-pro · added: — · removed: —\n`)
    expect(r.stdout).not.toContain('baseline: ')
    expect((await gateJson(dir)).baselineRef).toMatchObject({ atRef: true, workingCopyDiffers: false })
    expect(await readFile(path.join(dir, 'reports/latest/routing/report.md'), 'utf8')).not.toContain('> baseline:')
  })

  it('REF\'s baseline is checked as a file is: cut cases are exit 2 at REF:path and line', async () => {
    const dir = await project()
    await baseline(dir)
    const file = path.join(dir, 'reports/baseline.json')
    const good = await readFile(file, 'utf8')
    const cut = JSON.parse(good)
    cut.datasets[0].cases.splice(3, 1)
    await writeFile(file, `${JSON.stringify(cut, null, 2)}\n`)
    await gitInit(dir)
    await git(dir, 'checkout', '-q', '-b', 'pr')
    await writeFile(file, good)
    await commitAll(dir, 'a good baseline')
    expect((await runCli(['gate'], { cwd: dir })).code).toBe(0)
    const r = await runCli(['gate', '--baseline-ref', 'main'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^main:reports\/baseline\.json:\d+:\d+: "datasets\.0\.cases": the cases of datasets\/routing\.csv are not the ones this baseline recorded/m)
  })

  it('bad REFs and places: a leading "-", not a repository', async () => {
    const dir = await project()
    await baseline(dir)
    const dash = await runCli(['gate', '--baseline-ref=--output=/tmp/x'], { cwd: dir })
    expect(dash.code).toBe(2)
    expect(dash.stderr).toBe('routecheck: --baseline-ref: a git ref cannot start with "-" (git would read it as an option)\n')
    await writeFile(path.join(dir, 'bad.json'), JSON.stringify({ gate: { baselineRef: '-main' } }))
    const config = await runCli(['gate', '--config', 'bad.json'], { cwd: dir })
    expect(config.code).toBe(2)
    expect(config.stderr).toMatch(/bad\.json:1:\d+: "gate\.baselineRef": a git ref cannot start with "-"/)

    // Not a repository (git is told to look no higher than the temp folder).
    const env = { GIT_CEILING_DIRECTORIES: path.dirname(dir) }
    const notRepo = await runCli(['gate', '--baseline-ref', 'main'], { cwd: dir, env })
    expect(notRepo.code).toBe(2)
    expect(notRepo.stderr).toMatch(/^routecheck: --baseline-ref main: \S+\/reports is not in a git repository; fix: run the gate in a clone of the repository \(actions\/checkout\), or leave out --baseline-ref to compare with reports\/baseline\.json as it is\n$/)
  })
})
