import Table from 'cli-table3'
import type { RunComparison } from '../run/compare.js'
import { f2, painter } from '../text/format.js'

/** Landis and Koch's words for a kappa. */
export function kappaWords(k: number): string {
  if (Number.isNaN(k)) return 'undefined'
  if (k > 0.8) return 'almost perfect'
  if (k > 0.6) return 'substantial'
  if (k > 0.4) return 'moderate'
  if (k > 0.2) return 'fair'
  return k > 0 ? 'slight' : 'none beyond chance'
}

/** Whether B stands in for A: near-perfect agreement and no accuracy gap beyond noise. */
export function proxyVerdict(c: RunComparison): string {
  const gap = c.b.accuracy - c.a.accuracy
  const significant = c.mcnemarP < 0.05
  if (c.kappa > 0.8 && !significant) return `B is a fair stand-in for A on these agents: it decides alike on ${f2(c.agreement)} of the cases, with no accuracy gap beyond noise.`
  const better = gap > 0 ? 'B' : 'A'
  const accuracyNote = significant ? `${better} is more accurate by ${f2(Math.abs(gap))} (p = ${c.mcnemarP < 0.0001 ? c.mcnemarP.toExponential(1) : c.mcnemarP.toFixed(4)})` : `their accuracy differs by ${f2(Math.abs(gap))}, within noise (p = ${c.mcnemarP.toFixed(2)})`
  return `B is not a fair stand-in for A: they decide alike on only ${f2(c.agreement)} of the cases (kappa ${f2(c.kappa)}, ${kappaWords(c.kappa)}), and ${accuracyNote}.`
}

const DISAGREEMENTS_SHOWN = 25

export function renderComparison(c: RunComparison, style: { color: boolean; width?: number | undefined }): string {
  const paint = painter(style.color)
  const lines = [
    paint(1, `compare · ${c.dataset} · ${c.compared} cases both runs decided${c.leftOut > 0 ? ` (${c.leftOut} left out: in one run only, relabelled, or undecided)` : ''}`),
    `  A  ${c.a.router}  accuracy ${f2(c.a.accuracy)}`,
    `  B  ${c.b.router}  accuracy ${f2(c.b.accuracy)}`,
    `agreement ${f2(c.agreement)} (95% ${f2(c.agreementInterval[0])}–${f2(c.agreementInterval[1])}) · Cohen's kappa ${f2(c.kappa)} (${kappaWords(c.kappa)})`,
    `A right where B is wrong: ${c.onlyARight} · B right where A is wrong: ${c.onlyBRight} · McNemar p=${c.mcnemarP < 0.0001 ? c.mcnemarP.toExponential(1) : c.mcnemarP.toFixed(4)}`,
    proxyVerdict(c),
  ]
  if (c.disagreements.length > 0) {
    const promptWidth = Math.max(20, Math.min(60, (style.width ?? 100) - 70))
    const t = new Table({ head: ['case', 'expected', 'A', 'B', 'right', 'prompt'], style: { head: [], border: [], compact: true } })
    for (const d of c.disagreements.slice(0, DISAGREEMENTS_SHOWN)) {
      const prompt = (d.prompt ?? '').replace(/\s+/g, ' ')
      t.push([d.id, d.expected.join('|'), d.a, d.b, d.right, prompt.length > promptWidth ? `${prompt.slice(0, promptWidth - 1)}…` : prompt])
    }
    lines.push('', `${c.disagreements.length} case(s) decided differently${c.disagreements.length > DISAGREEMENTS_SHOWN ? ` (first ${DISAGREEMENTS_SHOWN}; --json lists all)` : ''}:`, t.toString())
  }
  return lines.join('\n')
}
