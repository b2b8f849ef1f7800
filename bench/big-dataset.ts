import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchPrompts } from './lexical.js'

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * A `rows`-row dataset through the real CLI (lexical router): wall time and
 * the CLI process's own peak RSS, read by a preload that reports maxRSS at exit.
 */
export function benchBigDataset(rows: number): Record<string, number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'routecheck-bench-'))
  try {
    const labels = (readFileSync(path.join(root, 'datasets/routing.csv'), 'utf8').match(/^r\d+,[^,\n]*,([a-z-]+)/gm) ?? []).map((l) => l.split(',')[2]!)
    const prompts = benchPrompts(rows)
    const csv = ['id,prompt,expected', ...prompts.map((p, i) => `b${i},"${p.replace(/"/g, '""')}",${labels[i % labels.length] ?? 'none'}`)].join('\n')
    const file = path.join(dir, 'big.csv')
    writeFileSync(file, `${csv}\n`)
    const preload = path.join(dir, 'rss.cjs')
    writeFileSync(preload, "process.on('exit', () => process.stderr.write(`\\nmaxrss ${process.resourceUsage().maxRSS}\\n`))\n")
    const started = performance.now()
    const r = spawnSync(process.execPath, ['--require', preload, path.join(root, 'dist/cli/main.js'), 'eval', '--agents', path.join(root, 'agents'), '--dataset', file, '--out', path.join(dir, 'run')], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30 })
    const ms = performance.now() - started
    if (r.status !== 0) throw new Error(`eval exited ${r.status}: ${r.stderr.slice(-500)}`)
    const maxRssKb = Number(/maxrss (\d+)/.exec(r.stderr)?.[1] ?? 0)
    const size = (name: string) => Math.round(statSync(path.join(dir, 'run', name)).size / 1048576)
    return { rows, datasetMb: Math.round(statSync(file).size / 1048576), ms: Math.round(ms), cliPeakRssMb: Math.round(maxRssKb / 1024), summaryMb: size('summary.json'), resultsMb: size('results.jsonl') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
