import path from 'node:path'
import { readJsonFile } from '../load/json-file.js'
import { summarySchema, type Summary } from './record.js'

/** Reads run folders (or their summary.json files) given on the command line. */
export async function readRuns(dirs: readonly string[]): Promise<Summary[]> {
  const summaries: Summary[] = []
  for (const dir of dirs) {
    const file = dir.endsWith('.json') ? dir : path.join(dir, 'summary.json')
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
