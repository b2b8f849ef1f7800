import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { errnoCode, fsFailure, InputError, throwIfProblems, type Problem } from '../load/input-error.js'
import { readJsonFile } from '../load/json-file.js'
import { RUN_FILES } from './files.js'
import { summarySchema, type Summary } from './record.js'

/**
 * The run folders named on a command line: each DIR itself when it holds
 * summary.json (or is one), else the folders in it that do, by name (the out
 * folder of a run of several datasets). A DIR with neither is exit 2.
 */
export async function expandRunFolders(dirs: readonly string[], fix = 'give a run folder written by routecheck (it holds summary.json), or the folder holding them'): Promise<string[]> {
  const found: string[] = []
  const problems: Problem[] = []
  for (const dir of dirs) {
    if (dir.endsWith('.json') || existsSync(path.join(dir, RUN_FILES.summary))) {
      found.push(dir)
      continue
    }
    try {
      const inner = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, RUN_FILES.summary))).map((e) => e.name)
      if (inner.length === 0) problems.push({ file: dir, message: 'this holds no run folder (no summary.json in it or in a folder in it)', fix })
      found.push(...inner.sort().map((e) => path.join(dir, e)))
    } catch (e) {
      problems.push({ file: dir, message: errnoCode(e) === 'ENOENT' ? 'this folder does not exist' : `this folder cannot be read (${fsFailure(e)})`, fix })
    }
  }
  throwIfProblems(problems)
  return found
}

/** Reads run folders (or their summary.json files) given on the command line. */
export async function readRuns(dirs: readonly string[]): Promise<Summary[]> {
  const summaries: Summary[] = []
  for (const dir of dirs) {
    const file = dir.endsWith('.json') ? dir : path.join(dir, RUN_FILES.summary)
    summaries.push(
      await readJsonFile(file, summarySchema, {
        unreadable: "cannot read the run's summary: {error}",
        notJson: "cannot read the run's summary: {error}",
        wrongShape: 'not a routecheck summary',
        fix: 'give a run folder written by routecheck eval (it holds summary.json)',
      }),
    )
  }
  return summaries
}

/**
 * The gate and the baseline judge whole runs: a shard's run folder (eval
 * --shard K/N) holds a part of one, so it is refused, naming the fix.
 */
export function refuseShards(summaries: readonly Summary[], dirs: readonly string[]): void {
  const problems = summaries.flatMap((s, i) =>
    s.shard
      ? [{ file: dirs[i]!, message: `this is shard ${s.shard.index} of ${s.shard.count} of a run (${s.dataset.cases} of ${s.shard.datasetCases} cases of ${s.dataset.path}), not a whole run`, fix: `join the ${s.shard.count} shards first: routecheck merge SHARD_DIR... --out DIR, then give DIR's run folders` }]
      : [],
  )
  if (problems.length > 0) throw new InputError(problems)
}
