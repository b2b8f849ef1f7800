import { FROM_DESCRIPTION_TAG, fromDescriptionCount } from '../load/dataset.js'
import type { Summary } from '../run/record.js'

/**
 * The caveat that goes next to a run's accuracy wherever it is shown
 * (scorecard, report.html, report.md and so the gate's comment) when some of
 * its cases are the descriptions' own <example> prompts: the router reads
 * those very words, so it routes them right whatever it makes of prompts it
 * has not seen. Counted from the cases shown (a filtered scorecard's, or a
 * summary written before `dataset.fromDescription`).
 */
export function fromDescriptionCaveat(s: Pick<Summary, 'cases'>): { count: number; of: number; text: string } | undefined {
  const count = fromDescriptionCount(s.cases)
  if (count === 0) return undefined
  const of = s.cases.length
  return {
    count,
    of,
    text: `${count} of ${of} cases are tagged ${FROM_DESCRIPTION_TAG}: the descriptions' own <example> prompts, which the router reads, so these figures are an upper bound; prompts it has not seen (routecheck generate, or your own) measure it`,
  }
}
