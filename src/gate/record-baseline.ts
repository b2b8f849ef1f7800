import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { loadAgentFolders, type Catalogue } from '../load/catalogue.js'
import { loadConfig } from '../load/config.js'
import { InputError, UsageError } from '../load/input-error.js'
import { completion, prepareEval, runDatasets, type EvalOptions, type RunEnv, type RunHooks } from '../run/evaluate.js'
import { writeAtomic, WriteError } from '../run/files.js'
import { checkOutputFile } from '../run/out-folder.js'
import { expandRunFolders, readRuns, refuseShards } from '../run/read.js'
import type { Summary } from '../run/record.js'
import { buildBaseline, DEFAULT_BASELINE, type Baseline } from './baseline.js'
import { nearDuplicatePairs } from './near-duplicates.js'

export type BaselineRequest = EvalOptions & {
  /** where to write it (default reports/baseline.json) */
  baseline?: string | undefined
  /** run folders to take the decisions from instead of routing now */
  runDirs: readonly string[]
  /** accept run folders with undecided cases */
  allowIncomplete?: boolean | undefined
}

export type RecordedBaseline =
  | { kind: 'written'; file: string; baseline: Baseline }
  | { kind: 'fatal'; message: string; unreachable: boolean }
  | { kind: 'incomplete'; notes: string[] }

/**
 * The baseline use case: route the configured datasets (or read run folders
 * routed with the agents as they are now) and write the baseline file. A
 * baseline must have a decision for every case.
 */
export async function recordBaseline(request: BaselineRequest, env: RunEnv, signal?: AbortSignal, hooks: Pick<RunHooks, 'reports'> = {}): Promise<RecordedBaseline> {
  const target = request.baseline ?? DEFAULT_BASELINE
  let summaries: Summary[]
  let catalogue: Catalogue
  if (request.runDirs.length > 0) {
    const { config } = await loadConfig(request.config)
    const agentsDirs = request.agents ?? config.agents
    catalogue = (await loadAgentFolders(agentsDirs, { env: env.env })).catalogue
    const runDirs = await expandRunFolders(request.runDirs)
    summaries = await readRuns(runDirs)
    refuseShards(summaries, runDirs)
    await checkOutputFile({ file: target, named: '--baseline', keep: agentsDirs.map((d) => ({ path: d, what: 'the agents folder' })), folders: runDirs })
    for (const [i, s] of summaries.entries()) {
      if (s.catalogueFingerprint !== catalogue.fingerprint) {
        throw new UsageError(`${runDirs[i]} was routed with other agent descriptions than ${agentsDirs.join(' + ')} has now; run it again, or run routecheck baseline without run folders`)
      }
      if (s.metrics.errored > 0 && !request.allowIncomplete) {
        throw new InputError([{ file: path.join(runDirs[i]!, 'summary.json'), message: `${s.metrics.errored} of ${s.dataset.cases} cases have no decision: the run was interrupted or its requests failed`, fix: 'finish it (run the same eval again: finished requests are not sent twice), or pass --allow-incomplete' }])
      }
    }
  } else {
    const setup = await prepareEval(request, env, { keep: [{ path: target, what: 'the baseline' }], outputFile: { path: target, named: '--baseline' } })
    const run = await runDatasets(setup, env, { ...hooks, ...(signal ? { signal } : {}) }).finally(() => setup.router.close?.())
    if (run.fatal) return { kind: 'fatal', ...run.fatal }
    const done = completion(run.summaries, request.maxCost)
    if (!done.complete) return { kind: 'incomplete', notes: [...done.notes, 'no baseline written: a baseline must have a decision for every case'] }
    summaries = run.summaries
    catalogue = setup.loaded.catalogue
  }
  const baseline = buildBaseline({ summaries, catalogue, nearDuplicatePairs: nearDuplicatePairs(catalogue.agents), toolVersion: env.toolVersion, createdAt: env.now() })
  try {
    await mkdir(path.dirname(target), { recursive: true })
  } catch (e) {
    throw WriteError.of(target, e)
  }
  await writeAtomic(target, `${JSON.stringify(baseline, null, 2)}\n`)
  return { kind: 'written', file: target, baseline }
}
