import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { loadConfig } from '../load/config.js'
import { fsFailure, InputError, throwIfProblems, type Problem } from '../load/input-error.js'
import { decisionSchema, type Decision } from '../route/router.js'
import type { Attempt } from '../route/run.js'
import { planEval, recordRun, type RoutedRun, type RunEnv, type RunHooks } from './evaluate.js'
import { RESULT_LINE_KEYS, RUN_FILES, WriteError } from './files.js'
import { stageRunFolders, type KeptPath } from './out-folder.js'
import { expandRunFolders, readRuns } from './read.js'
import type { Summary } from './record.js'
import { shardOfCase } from './shard.js'

/**
 * `routecheck merge DIR...`: shard run folders (eval --shard K/N on N
 * machines) joined into one run folder per dataset. The shards must be one
 * run cut in N: the same catalogue, router and settings, routecheck version,
 * dataset and repeats, every shard present once. The attempts are read back
 * from each shard's results.jsonl and scored, analysed and recorded by the
 * same code as an unsharded run, so the merged summary.json is the one the
 * unsharded run would have written, timings apart.
 */

export type MergeRequest = {
  /** shard run folders, or folders holding them (a shard's --out of a run of several datasets) */
  dirs: readonly string[]
  config?: string | undefined
  out?: string | undefined
}

/** One shard's run folder, read back. */
export type ShardRun = { dir: string; summary: Summary & { shard: NonNullable<Summary['shard']> }; attempts: Attempt[] }

/** The merged runs, and what the shards spent against the run's --max-cost when they kept to one. */
export type MergeResult = { summaries: Summary[]; spend: ShardSpend | undefined }

export async function mergeShards(request: MergeRequest, env: Pick<RunEnv, 'now' | 'toolVersion'>, hooks: Pick<RunHooks, 'reports'> & { onRun?: (summary: Summary, dir: string, dropped: string[]) => void } = {}): Promise<MergeResult> {
  const shards = await readShardRuns(request.dirs)
  const { config, file: configFile } = await loadConfig(request.config)
  // The config's order of datasets, as eval runs them; others after, as found.
  const rank = (p: string) => config.datasets.indexOf(p) >>> 0
  const runs = joinShards(shards, env).sort((a, b) => rank(a.dataset.path) - rank(b.dataset.path))
  const plan = planEval(config, { dataset: runs.map((r) => r.dataset.path), out: request.out })
  const keep: KeptPath[] = [
    ...[...new Set(shards.map((s) => s.dir))].map((d) => ({ path: d, what: 'the shard folder' })),
    ...runs.map((r) => ({ path: r.dataset.path, what: 'the dataset' })),
    ...plan.agentsDirs.map((d) => ({ path: d, what: 'the agents folder' })),
    ...(configFile ? [{ path: configFile, what: 'the config file' }] : []),
    { path: config.cacheDir, what: 'the run journal folder (cacheDir)' },
  ]
  const folders = await stageRunFolders({ folders: runs.map((r) => plan.outFor(r.dataset.path)), agentsDirs: plan.agentsDirs, keep })
  const summaries: Summary[] = []
  let dir = ''
  try {
    for (const run of runs) {
      dir = plan.outFor(run.dataset.path)
      const folder = folders.get(dir)
      const summary = await recordRun(run, folder.staging)
      await hooks.reports?.(summary, folder.staging, run.dataset)
      const { dropped } = await folder.commit()
      summaries.push(summary)
      hooks.onRun?.(summary, dir, dropped)
    }
  } catch (e) {
    if (e instanceof WriteError) {
      throw new WriteError(e.file, e.reason, e.code, `could not write the run folder ${dir} (${path.basename(e.file)}: ${e.reason}); ${existsSync(dir) ? 'the earlier run folder there is as it was' : 'nothing was left there'}, and the shard folders are unchanged: free some space and merge again`)
    }
    throw e
  } finally {
    await folders.discardAll()
  }
  return { summaries, spend: shardSpend(shards) }
}

/** What the shards spent, each against its share of the run's --max-cost; undefined when none had one. */
export type ShardSpend = {
  /** the --max-cost each shard was given, the whole run's (one value unless the shards were given different ones) */
  runCapsUsd: number[]
  spentUsd: number
  shards: Array<{ index: number; count: number; spentUsd: number; shareUsd: number | undefined }>
}

/** Each shard's spend (this run's requests, over its datasets) and share, and the total. */
export function shardSpend(shards: readonly ShardRun[]): ShardSpend | undefined {
  const capped = shards.filter((s) => s.summary.shard.maxCost)
  if (capped.length === 0) return undefined
  const byIndex = new Map<number, ShardSpend['shards'][number]>()
  for (const s of shards) {
    const { index, count, maxCost } = s.summary.shard
    const entry = byIndex.get(index) ?? { index, count, spentUsd: 0, shareUsd: maxCost?.shareUsd }
    entry.spentUsd += s.summary.cost?.usdThisRun ?? 0
    byIndex.set(index, entry)
  }
  const list = [...byIndex.values()].sort((a, b) => a.index - b.index)
  return {
    runCapsUsd: [...new Set(capped.map((s) => s.summary.shard.maxCost!.runCapUsd))].sort((a, b) => a - b),
    spentUsd: list.reduce((n, s) => n + s.spentUsd, 0),
    shards: list,
  }
}

/** The merge's account of the spend: the total against the run's cap, then each shard against its share. */
export function shardSpendText(spend: ShardSpend): string {
  const cap = spend.runCapsUsd.length === 1 ? `the run's --max-cost ${spend.runCapsUsd[0]} USD` : `--max-cost ${spend.runCapsUsd.join(', ')} USD (the shards were given different caps)`
  const each = spend.shards.map((s) => `${s.index}/${s.count} $${s.spentUsd.toFixed(4)}${s.shareUsd === undefined ? ' (no cap)' : ` of $${s.shareUsd.toFixed(4)}`}`)
  return `merge: the shards spent $${spend.spentUsd.toFixed(4)} of ${cap} (shard ${each.join(' · ')})`
}

/** Reads each shard's summary.json and results.jsonl; a folder that is no shard is named. */
export async function readShardRuns(dirs: readonly string[]): Promise<ShardRun[]> {
  const folders = await expandRunFolders(dirs, 'give the shard run folders (the --out of each eval --shard K/N), or the folders holding them')
  const summaries = await readRuns(folders)
  const problems: Problem[] = []
  const shards: ShardRun[] = []
  for (const [i, summary] of summaries.entries()) {
    const dir = folders[i]!
    if (!summary.shard) {
      problems.push({ file: dir, message: 'this is a whole run, not a shard (its summary.json has no "shard" record)', fix: 'give the folders of eval --shard K/N (or gate --shard K/N), one per shard' })
      continue
    }
    const attempts = await readAttempts(path.join(dir, RUN_FILES.results), problems)
    shards.push({ dir, summary: summary as ShardRun['summary'], attempts })
  }
  throwIfProblems(problems)
  return shards
}

const resultLineSchema = z.looseObject({
  id: z.string(),
  repeat: z.number().int().nonnegative(),
  error: z.string().optional(),
  tries: z.number({ error: 'no "tries": written by a routecheck older than merge (route the shard again)' }).int().nonnegative(),
  cached: z.literal(true).optional(),
  notSent: z.literal(true).optional(),
  errorKind: z.string().optional(),
})

/** results.jsonl back into attempts, each line's decision kept as it was written (its keys in their order). */
async function readAttempts(file: string, problems: Problem[]): Promise<Attempt[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    problems.push({ file, message: `a shard's results.jsonl cannot be read (${fsFailure(e)})`, fix: 'copy the whole shard folder (merge reads summary.json and results.jsonl)' })
    return []
  }
  const attempts: Attempt[] = []
  const omit = new Set<string>(RESULT_LINE_KEYS)
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return
    let json: unknown
    try {
      json = JSON.parse(raw)
    } catch {
      problems.push({ file, line: i + 1, message: 'not a JSON line (the file was cut or edited)', fix: 'copy the shard folder again, or route the shard again' })
      return
    }
    const line = resultLineSchema.safeParse(json)
    if (!line.success) {
      const issue = line.error.issues[0]!
      problems.push({ file, line: i + 1, message: `"${issue.path.join('.')}": ${issue.message}`, fix: 'route the shard again with this routecheck' })
      return
    }
    const { id, repeat, error, tries, cached, notSent, errorKind } = line.data
    const how = { tries, ...(cached ? { cached } : {}), ...(notSent ? { notSent } : {}), ...(errorKind !== undefined ? { errorKind } : {}) }
    if (error !== undefined) {
      attempts.push({ caseId: id, repeat, error, ...how })
      return
    }
    const rest = Object.fromEntries(Object.entries(line.data).filter(([k]) => !omit.has(k)))
    const decision = decisionSchema.safeParse(rest)
    if (!decision.success) {
      problems.push({ file, line: i + 1, message: `not a decision: ${decision.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`, fix: 'route the shard again' })
      return
    }
    attempts.push({ caseId: id, repeat, decision: rest as Decision, ...how })
  })
  return attempts
}

/** What all the shards of one run share; two shards that differ in any of these are two runs. */
const SHARED: ReadonlyArray<{ what: string; of: (s: ShardRun['summary']) => unknown }> = [
  { what: 'agents (catalogue fingerprint)', of: (s) => s.catalogueFingerprint },
  { what: 'router', of: (s) => s.router.id },
  { what: 'router settings (model, style, template, lexical settings)', of: (s) => s.shard.settings },
  { what: 'agent files left out', of: (s) => JSON.stringify(s.invalidAgents) },
  { what: 'routecheck version', of: (s) => s.tool.version },
  { what: 'number of shards', of: (s) => s.shard.count },
  { what: 'prices', of: (s) => JSON.stringify(s.shard.price) },
]
/** What the shards of one dataset share besides. */
const SHARED_PER_DATASET: ReadonlyArray<{ what: string; of: (s: ShardRun['summary']) => unknown }> = [
  { what: 'dataset (its cases changed between the shards)', of: (s) => s.dataset.fingerprint },
  { what: 'repeats', of: (s) => s.repeats },
]

/**
 * Checks the shards are one run cut in N (exit 2 naming the folders
 * otherwise) and puts each dataset's cases and attempts back in the
 * dataset's order.
 */
export function joinShards(shards: readonly ShardRun[], env: Pick<RunEnv, 'now' | 'toolVersion'>): RoutedRun[] {
  const problems: Problem[] = []
  const [first] = shards
  if (!first) throw new InputError([{ file: '.', message: 'no shard folders given', fix: 'routecheck merge SHARD_DIR... (the --out of each eval --shard K/N)' }])
  const differ = (group: readonly ShardRun[], fields: typeof SHARED) => {
    for (const f of fields) {
      const values = new Map<string, string[]>()
      for (const s of group) {
        const v = String(f.of(s.summary))
        values.set(v, [...(values.get(v) ?? []), s.dir])
      }
      if (values.size > 1) {
        const sides = [...values.entries()].map(([v, dirs]) => `${dirs.join(', ')} (${v.length > 80 ? `${v.slice(0, 77)}…` : v})`)
        problems.push({ file: group[0]!.dir, message: `these shards differ in their ${f.what}: ${sides.join(' against ')}; they are not one run`, fix: 'merge the shards of one run: every eval --shard K/N with the same agents, dataset, router and settings' })
      }
    }
  }
  differ(shards, SHARED)
  const byDataset = new Map<string, ShardRun[]>()
  for (const s of shards) byDataset.set(s.summary.dataset.path, [...(byDataset.get(s.summary.dataset.path) ?? []), s])
  for (const group of byDataset.values()) differ(group, SHARED_PER_DATASET)
  throwIfProblems(problems)

  const count = first.summary.shard.count
  const runs: RoutedRun[] = []
  for (const [datasetPath, group] of byDataset) {
    const before = problems.length
    const byIndex = new Map<number, ShardRun[]>()
    for (const s of group) byIndex.set(s.summary.shard.index, [...(byIndex.get(s.summary.shard.index) ?? []), s])
    const missing = Array.from({ length: count }, (_, i) => i + 1).filter((k) => !byIndex.has(k))
    if (missing.length > 0) {
      problems.push({ file: datasetPath, message: `shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing (given: ${group.map((s) => `${s.summary.shard.index} in ${s.dir}`).join(', ')})`, fix: 'give every shard folder, 1 to N' })
    }
    for (const [k, twice] of byIndex) {
      if (twice.length > 1) problems.push({ file: datasetPath, message: `shard ${k} of ${count} given ${twice.length} times: ${twice.map((s) => s.dir).join(', ')}`, fix: 'give each shard once' })
    }
    if (problems.length > before) continue
    const cases = new Map<string, { c: Summary['cases'][number]; position: number; dir: string }>()
    const overlaps: string[] = []
    for (const s of group) {
      for (const c of s.summary.cases) {
        const earlier = cases.get(c.id)
        const home = shardOfCase(c.id, count)
        if (earlier) overlaps.push(`${c.id} in ${earlier.dir} and ${s.dir}`)
        else if (home !== s.summary.shard.index) problems.push({ file: s.dir, message: `case ${c.id} belongs to shard ${home} of ${count}, not ${s.summary.shard.index}`, fix: 'route each shard with eval --shard K/N, unedited' })
        else if (c.position === undefined || c.prompt === undefined) problems.push({ file: s.dir, message: `case ${c.id} has no position or prompt in summary.json`, fix: 'route the shard again with this routecheck' })
        else cases.set(c.id, { c, position: c.position, dir: s.dir })
      }
    }
    if (overlaps.length > 0) problems.push({ file: datasetPath, message: `the shards overlap: ${overlaps.length} case(s) are in two of them (${overlaps.slice(0, 3).join('; ')}${overlaps.length > 3 ? '; …' : ''})`, fix: 'give each shard once' })
    const datasetCases = group[0]!.summary.shard.datasetCases
    if (problems.length === before && cases.size !== datasetCases) {
      problems.push({ file: datasetPath, message: `the shards hold ${cases.size} cases; the dataset has ${datasetCases}`, fix: 'route the missing cases again (a shard folder was cut or edited)' })
    }
    if (problems.length > before) continue
    const ordered = [...cases.values()].sort((a, b) => a.position - b.position)
    const place = new Map(ordered.map((x, i) => [x.c.id, i]))
    const attempts = group.flatMap((s) => s.attempts).sort((a, b) => place.get(a.caseId)! - place.get(b.caseId)! || a.repeat - b.repeat)
    const repeats = group[0]!.summary.repeats
    const stray = attempts.find((a) => !place.has(a.caseId))
    if (stray || attempts.length !== ordered.length * repeats) {
      problems.push({ file: datasetPath, message: stray ? `results.jsonl holds case ${stray.caseId}, which no shard's summary.json has` : `the shards' results.jsonl hold ${attempts.length} requests; ${ordered.length} cases × ${repeats} repeats need ${ordered.length * repeats}`, fix: 'copy each shard folder whole, or route it again' })
      continue
    }
    const s0 = group[0]!.summary
    const pricedModel = group.map((s) => s.summary.cost?.model).find((m) => m !== undefined)
    runs.push({
      toolVersion: env.toolVersion,
      createdAt: env.now(),
      router: { id: s0.router.id, ...(pricedModel ? { pricedModel } : {}) },
      price: s0.shard.price ?? undefined,
      dataset: { path: datasetPath, fingerprint: s0.dataset.fingerprint, cases: ordered.map(({ c }) => ({ id: c.id, prompt: c.prompt!, expected: c.expected, tags: c.tags })) },
      catalogue: { agents: s0.agents.map((a) => ({ ...a, description: a.description ?? '' })), fingerprint: s0.catalogueFingerprint },
      invalidAgents: s0.invalidAgents,
      repeats,
      attempts,
    })
  }
  throwIfProblems(problems)
  return runs
}
