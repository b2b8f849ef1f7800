import { NONE, type DatasetRow } from '../load/dataset.js'

/**
 * The out-of-scope half of `routecheck init`'s starter dataset: prompts no
 * subagent of any catalogue should take. Without them a dataset can only
 * reward delegating, and a router that always delegates looks perfect; with
 * them the first scorecard has a none recall (the share left to the main
 * assistant) from the start.
 */
export const STARTER_TAG = 'starter'

const OUT_OF_SCOPE: ReadonlyArray<readonly [string, string]> = [
  ['thanks, that did it!', 'small talk: nothing to do'],
  ['hi', 'a greeting: the main assistant answers'],
  ["what's 17% of 2,340?", 'arithmetic the main assistant answers at once'],
  ["translate 'see you tomorrow' into Spanish", 'general knowledge with no code or repository involved'],
  ['rename the variable `tmp` to `retries` on line 12 of this file', 'a one-line edit: faster done than delegated'],
  ['can you explain what you just did, in two sentences?', 'a question about the session itself'],
]

export function outOfScopeStarterRows(): DatasetRow[] {
  return OUT_OF_SCOPE.map(([prompt, why], i) => ({ id: `out-of-scope-${i + 1}`, prompt, expected: [NONE], tags: [STARTER_TAG, 'out-of-scope'], note: `${why}; no subagent should take it` }))
}
