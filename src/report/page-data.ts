/**
 * The JSON report.html carries in <script type="application/json" id="data">:
 * written by html.ts, read by the page's script (src/report/page/). Types
 * only, so both sides import the one declaration and neither pulls in the
 * other's runtime (node on one side, the DOM on the other).
 *
 * The rows that grow with the cases (cases, flips) keep one- or two-letter
 * keys and leave out what is empty: a 10,000-case run carries 10,000 of them.
 * Everything else is bounded by the number of agents and spelled out.
 */

export type PageData = {
  /** the confusion's labels: the agents, then none, then (invalid) when a decision named no agent */
  labels: string[]
  /** counts, rows the credited label, columns the decision, both indexes into `labels` */
  matrix: number[][]
  /** how many of `labels` are agents */
  agentCount: number
  cases: PageCase[]
  similarity: PageSimilarity
  /** by dataset path: the gate's flipped cases; empty without a gate */
  flips: Record<string, PageFlip[]>
}

export type PageCase = {
  /** id */
  i: string
  /** prompt */
  p: string
  /** expected labels, the first the labeller's first choice */
  e: string[]
  /** decision, null when every request failed */
  d: string | null
  /** the summary's `correct`: 1 right, 0 wrong, null errored */
  ok: 0 | 1 | null
  /** the case's confusion cell, indexes into `labels`; absent when errored */
  k?: [credited: number, decided: number]
  /** votes by label; absent when one repeat voted for the decision */
  v?: Record<string, number>
  /** runner-up label */
  r?: string
  /** margin over the runner-up */
  m?: number
  /** the repeats tied */
  s?: 1
  /** the repeats disagreed */
  f?: 1
  /** the decision names no agent */
  x?: 1
  /** the error, when every request failed */
  err?: string
  /** tags */
  t?: string[]
}

export type PageSimilarity = {
  /** the agents shown in the heatmap, each cluster's members together */
  names: string[]
  /** per name: its cluster's index, or -1 */
  cluster: number[]
  pairs: PagePair[]
  /** agents in the run; more than `names.length` when the heatmap shows a subset */
  total: number
}

/** A scored pair of agents, both shown in the heatmap. */
export type PagePair = {
  /** indexes into `names` */
  a: number
  b: number
  score: number
  text: number
  /** absent when the run signals were not computed */
  confusion?: number
  coAcceptance?: number
  nearDuplicate: boolean
  sharedTerms: string[]
  /** ids of the cases routed across the pair */
  routedAcross: string[]
}

export type PageFlip = {
  /** case id */
  i: string
  /** expected labels */
  e: string[]
  /** decision before and after; null when errored */
  b: string | null
  a: string | null
  dir: 'broke' | 'fixed'
  /** the repeats disagree: noise, not a regression */
  fl: 0 | 1
  /** every repeat agreed, before and after */
  st: 0 | 1
  /** its re-test was cut short by --max-cost: neither noise nor a regression yet */
  ut?: 1
}
