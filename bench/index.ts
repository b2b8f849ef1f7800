/**
 * npm run bench: every benchmark case in a fresh Node process (so each peak
 * RSS is that case's own), printed as a table and written to
 * bench/results.json. Figures, not assertions: the tests never time anything.
 *
 *   npm run bench                  all cases
 *   npm run bench -- overlap       the cases whose name starts with "overlap"
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchBareClient, benchBareProcess, benchCliHarness, benchCliLexical } from './e2e.js'
import { benchLexical } from './lexical.js'
import { benchOverlap } from './overlap.js'
import { benchPipeline } from './pipeline.js'
import { benchRateLimit } from './rate-limit.js'
import { benchReport } from './report.js'
import { benchEngine, benchReplay } from './replay.js'

type Row = Record<string, number | string>
const CASES: Record<string, () => Row | Promise<Row>> = {
  'harness:c1': () => benchCliHarness(1),
  'harness:c8': () => benchCliHarness(8),
  'harness:c32': () => benchCliHarness(32),
  'harness:c64': () => benchCliHarness(64),
  'harness:c32:bare-client': () => benchBareClient(32),
  'harness:c32:bare-process': () => benchBareProcess(32),
  // Four times the prompts: the fixed start-up and report work against a longer routing.
  'harness:c32:12800': () => benchCliHarness(32, 12_800),
  'ratelimit:requests:adaptive': () => benchRateLimit('requests', 'adaptive', 64),
  'ratelimit:requests:429-only': () => benchRateLimit('requests', '429-only', 64),
  'ratelimit:requests:fixed8': () => benchRateLimit('requests', 'fixed', 8),
  'ratelimit:requests:fixed64': () => benchRateLimit('requests', 'fixed', 64),
  'ratelimit:input-tokens:adaptive': () => benchRateLimit('input-tokens', 'adaptive', 64),
  'ratelimit:input-tokens:429-only': () => benchRateLimit('input-tokens', '429-only', 64),
  'ratelimit:input-tokens:fixed8': () => benchRateLimit('input-tokens', 'fixed', 8),
  'ratelimit:input-tokens:fixed64': () => benchRateLimit('input-tokens', 'fixed', 64),
  'replay:c32': () => benchReplay(32),
  'replay:c32:test-server': () => benchReplay(32, 'test', 500),
  'engine:c1': () => benchEngine(1),
  'engine:c4': () => benchEngine(4),
  'engine:c8': () => benchEngine(8),
  'lexical:15': () => benchLexical(15),
  'lexical:200': () => benchLexical(200),
  'lexical:1000': () => benchLexical(1000),
  'pipeline:10000x200': () => benchPipeline(10_000, 200),
  'e2e:lexical:2000': () => benchCliLexical(2000),
  'e2e:lexical:20000': () => benchCliLexical(20_000),
  'e2e:lexical:100000': () => benchCliLexical(100_000),
  'overlap:200': () => benchOverlap(200),
  'overlap:1000': () => benchOverlap(1000),
  'overlap:2000': () => benchOverlap(2000),
  'report:300': () => benchReport(300),
  'report:10000': () => benchReport(10_000),
}

const here = path.dirname(fileURLToPath(import.meta.url))

async function runOne(name: string): Promise<void> {
  const baselineRss = process.memoryUsage().rss
  const row = await CASES[name]!()
  const peak = Math.max(process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024)
  process.stdout.write(JSON.stringify({ case: name, ...row, peakRssMb: Math.round(peak / 1048576), startRssMb: Math.round(baselineRss / 1048576) }))
}

function main(): void {
  const filter = process.argv[2]
  const names = Object.keys(CASES).filter((n) => !filter || n.startsWith(filter))
  const rows: Row[] = []
  for (const name of names) {
    process.stderr.write(`bench ${name} …\n`)
    const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(here, 'index.ts'), '--case', name], { encoding: 'utf8', maxBuffer: 64 << 20 })
    rows.push(JSON.parse(out) as Row)
  }
  printTables(rows)
  const file = path.join(here, 'results.json')
  // A filtered run replaces its own rows and keeps the others, so results.json always has every case; other
  // sections (bench/overlap-eval.ts writes one) are kept too. Each row says when and on what CPU it was measured.
  let earlier: { rows?: Row[] } & Record<string, unknown> = {}
  try {
    earlier = JSON.parse(readFileSync(file, 'utf8')) as typeof earlier
  } catch {
    // no earlier results
  }
  const date = new Date().toISOString()
  const cpu = os.cpus()[0]?.model ?? ''
  // Rows of cases that no longer exist go; the others stay until their case runs again.
  const kept = (earlier.rows ?? []).filter((r) => !names.includes(String(r.case)) && String(r.case) in CASES)
  const all = [...kept, ...rows.map((r): Row => ({ ...r, date, cpu }))].sort((a, b) => Object.keys(CASES).indexOf(String(a.case)) - Object.keys(CASES).indexOf(String(b.case)))
  writeFileSync(file, `${JSON.stringify({ ...earlier, date, node: process.version, cpus: os.cpus().length, cpu, rows: all }, null, 2)}\n`)
  console.log(`\nwrote ${path.relative(process.cwd(), file)}`)
}

/**
 * One table per family of cases (the name before the first ":"), since each
 * family has its own columns; the end-to-end cases' phases ("ms:route", …)
 * follow as a table of their own, a phase a line and a case a column.
 */
function printTables(rows: readonly Row[]): void {
  const table = (head: string[], body: string[][]) => {
    const width = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)))
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ')
    console.log([line(head), ...body.map(line)].join('\n'))
  }
  const families = [...new Set(rows.map((r) => String(r.case).split(':')[0]!))]
  for (const family of families) {
    const mine = rows.filter((r) => String(r.case).split(':')[0] === family)
    const keys = [...new Set(mine.flatMap((r) => Object.keys(r)))]
    const plain = keys.filter((k) => !k.startsWith('ms:'))
    const phases = keys.filter((k) => k.startsWith('ms:'))
    table(plain, mine.map((r) => plain.map((k) => String(r[k] ?? ''))))
    if (phases.length > 0) {
      console.log('')
      table(['phase (ms)', ...mine.map((r) => String(r.case))], phases.map((p) => [p.slice(3), ...mine.map((r) => String(r[p] ?? ''))]))
    }
    console.log('')
  }
}

if (process.argv[2] === '--case') await runOne(process.argv[3]!)
else main()
