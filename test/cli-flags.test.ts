import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { COMMANDS } from '../src/cli/run.js'
import { GLOBAL_OPTIONS, OPTIONS } from '../src/cli/options.js'
import { ROOT, runCli, runInProcess } from './support/cli.js'

/** The flags a help text lists in its option lines ("  --name VALUE  help", "  -h, --help  help"). */
const helpFlags = (help: string) => [...help.matchAll(/^ {2}(?:-\w, )?--([a-z][a-z-]*)/gm)].map((m) => m[1]!)

const EVERY_FLAG = [...Object.keys(OPTIONS), ...Object.keys(GLOBAL_OPTIONS)]
const refused = /does not take|unknown flag/

describe('each command declares its flags once: parser and help agree', () => {
  it.each(COMMANDS.map((c) => [c.name]))('%s: every flag in its help is accepted, every other flag is refused', async (name) => {
    const help = await runInProcess([name, '--help'])
    expect(help.code).toBe(0)
    const listed = helpFlags(help.stdout)
    expect(listed.length).toBeGreaterThan(2)
    expect(new Set(listed).size).toBe(listed.length) // no flag listed twice
    for (const flag of EVERY_FLAG) {
      const r = await runInProcess([name, `--${flag}`, ...(OPTIONS[flag as keyof typeof OPTIONS]?.kind === 'string' ? ['1'] : []), '--help'])
      if (listed.includes(flag)) expect(r.stderr, `${name} --${flag}`).not.toMatch(refused)
      else {
        expect(r.code, `${name} --${flag}`).toBe(2)
        expect(r.stderr).toMatch(new RegExp(`${name} does not take --${flag}; it takes --`))
      }
    }
  })

  it('the built CLI: --version and -V print the package version; a mistyped command gets a did-you-mean; init refuses --max-cost', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
    for (const args of [['--version'], ['-V'], ['eval', '--version']]) {
      const r = await runCli(args)
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`routecheck ${version}\n`)
    }
    const typo = await runCli(['evaluate'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toMatch(/unknown command "evaluate": did you mean "eval"\?/)
    const init = await runCli(['init', '--max-cost', '3'])
    expect(init.code).toBe(2)
    expect(init.stderr).toMatch(/init does not take --max-cost; it takes --agents, --config, --dataset, --force/)
  })

  it('eval --help lists the run flags it used to omit, and gate lists --dataset once', async () => {
    const ev = helpFlags((await runInProcess(['eval', '--help'])).stdout)
    expect(ev).toEqual(expect.arrayContaining(['dry-run', 'max-cost', 'no-cache']))
    const gate = helpFlags((await runInProcess(['gate', '--help'])).stdout)
    expect(gate.filter((f) => f === 'dataset')).toHaveLength(1)
  })
})
