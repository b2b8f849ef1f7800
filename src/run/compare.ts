import { cohensKappa, mcnemarExact, wilsonInterval } from '../score/stats.js'
import type { Summary } from './record.js'

/**
 * Two runs of one dataset side by side (say the Claude Code engine and the
 * lexical router): how often they decide alike, Cohen's kappa, each one's
 * accuracy on the cases both decided, whether the accuracy gap is more than
 * noise, and the cases where they part ways. It tells a team whether a
 * cheaper router is a fair stand-in for the real one on its agents.
 */
export type RunComparison = {
  a: { router: string; accuracy: number }
  b: { router: string; accuracy: number }
  dataset: string
  /** cases both runs decided (by id, with the same prompt and labels) */
  compared: number
  /** cases only one run has, or that one run did not decide */
  leftOut: number
  agreement: number
  agreementInterval: [number, number]
  kappa: number
  /** exact McNemar p-value of "a right, b wrong" against "a wrong, b right" */
  mcnemarP: number
  onlyARight: number
  onlyBRight: number
  disagreements: Array<{ id: string; expected: string[]; a: string; b: string; right: 'a' | 'b' | 'both' | 'neither'; prompt?: string | undefined }>
}

export function compareRuns(a: Summary, b: Summary): RunComparison {
  const byId = new Map(b.cases.map((c) => [c.id, c]))
  const pairs = a.cases.flatMap((x) => {
    const y = byId.get(x.id)
    const same = y && y.expected.join('|') === x.expected.join('|') && (x.prompt === undefined || y.prompt === undefined || x.prompt === y.prompt)
    return same && x.decision !== null && y.decision !== null ? [{ x, y }] : []
  })
  const right = (c: Summary['cases'][number]) => c.correct === true
  const agree = pairs.filter(({ x, y }) => x.decision === y.decision).length
  const onlyARight = pairs.filter(({ x, y }) => right(x) && !right(y)).length
  const onlyBRight = pairs.filter(({ x, y }) => !right(x) && right(y)).length
  const accuracy = (side: 'x' | 'y') => (pairs.length === 0 ? 0 : pairs.filter((p) => right(p[side])).length / pairs.length)
  return {
    a: { router: a.router.id, accuracy: accuracy('x') },
    b: { router: b.router.id, accuracy: accuracy('y') },
    dataset: a.dataset.path,
    compared: pairs.length,
    leftOut: new Set([...a.cases.map((c) => c.id), ...b.cases.map((c) => c.id)]).size - pairs.length,
    agreement: pairs.length === 0 ? 0 : agree / pairs.length,
    agreementInterval: wilsonInterval(agree, pairs.length),
    kappa: cohensKappa(pairs.map((p) => p.x.decision!), pairs.map((p) => p.y.decision!)),
    mcnemarP: mcnemarExact(onlyARight, onlyBRight),
    onlyARight,
    onlyBRight,
    disagreements: pairs
      .filter(({ x, y }) => x.decision !== y.decision)
      .map(({ x, y }) => ({
        id: x.id,
        expected: x.expected,
        a: x.decision!,
        b: y.decision!,
        right: right(x) && right(y) ? 'both' : right(x) ? 'a' : right(y) ? 'b' : 'neither',
        prompt: x.prompt,
      })),
  }
}
