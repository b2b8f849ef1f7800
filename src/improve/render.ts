import { fitTable, joinFit, truncate, wrap, type FitColumn } from '../text/fit.js'
import { f2, painter, signed } from '../text/format.js'
import type { ImproveReport, ImproveRound } from './schema.js'

export type ImproveTextStyle = { color: boolean; width: number }

/** An exact p-value as a reader wants it: three significant digits, small ones in e-notation. */
export const pValue = (p: number): string => (p >= 0.001 ? p.toPrecision(3).replace(/\.?0+$/, '') : p.toExponential(1))

/**
 * `routecheck improve` on the terminal: what was rewritten on which split,
 * a row per round (train and held-out accuracy, the held-out flips against
 * round 0 with McNemar's p, the gate), then what was kept and why the rest
 * was not.
 */
export function renderImprove(r: ImproveReport, out: { dir: string; patchFile?: string | undefined }, style: ImproveTextStyle): string {
  const paint = painter(style.color)
  const bold = (t: string) => paint(1, t)
  const dim = (t: string) => paint(2, t)
  const lines: string[] = []
  lines.push(
    ...joinFit(
      [bold('improve'), ...[`${r.agents.length} agent${r.agents.length === 1 ? '' : 's'}${r.cluster !== undefined ? ` (cluster ${r.cluster})` : ''}`, `router ${r.router.id}`, `rewriter ${r.rewriter.model}`].map(dim)],
      dim('  ·  '),
      style.width,
    ),
  )
  lines.push(...wrap(r.agents.join(', '), style.width, '  ').map(dim))
  lines.push(...wrap(`${r.datasets.join(', ')}: ${r.split.train} cases to train on, ${r.split.test} held out (each label split ${f2(1 - r.split.testShare)}/${f2(r.split.testShare)}); ${r.repeats} repeat${r.repeats === 1 ? '' : 's'}`, style.width))

  const base = r.rounds[0]!
  const col = (head: string, cells: string[], align: 'left' | 'right' = 'right'): FitColumn => ({ head, align, cells })
  const rows = r.rounds
  const columns = [
    col('round', rows.map((x) => `${x.round}${x.round === r.winner ? ' ★' : ''}`), 'left'),
    col('from', rows.map((x) => (x.from === undefined ? '' : String(x.from)))),
    col('train', rows.map((x) => f2(x.train?.accuracy))),
    col('held out', rows.map((x) => f2(x.test?.accuracy))),
    col('Δ held out', rows.map((x) => (x.round === 0 || !x.test ? '' : signed(x.test.accuracy - base.test!.accuracy, 2)))),
    col('fixed / broke', rows.map((x) => (x.heldOut ? `+${x.heldOut.fixed} / −${x.heldOut.broke}` : ''))),
    col('McNemar p', rows.map((x) => (x.heldOut ? pValue(x.heldOut.mcnemarP) : ''))),
  ]
  const gate = col('gate', rows.map((x) => (x.gate ? (x.gate.passed ? 'pass' : paint(31, 'fail')) : '')), 'left')
  // A model router's rounds: the gate's re-test of the stable flips, and how many it showed to be noise.
  const retested = rows.some((x) => x.retest) ? col('re-tested', rows.map((x) => (x.retest ? (x.retest.flips === 0 ? '0' : `${x.retest.flips} (${x.retest.noise} noise)`) : ''))) : undefined
  const table = fitTable(retested ? [{ columns: [...columns, retested, gate] }, { columns: [...columns, gate], leftOut: ['re-tested'] }] : [{ columns: [...columns, gate] }], style.width, style)
  lines.push(table.text)
  const retestRepeats = rows.find((x) => x.retest)?.retest?.repeats
  const retestLegend = retestRepeats !== undefined && table.leftOut.length === 0 ? ` · re-tested: the stable flips against round 0 routed ${retestRepeats} more times each, as the gate does; noise: not reproduced, so no regression` : ''
  lines.push(...wrap(`train: accuracy on the half the rewriter sees · held out: on the half it never sees, which picks the winner · fixed / broke: held-out cases against round 0${retestLegend} · ★ kept`, style.width).map(dim))

  // Why each round was not kept, a line each, cut to the width: improve.json has every message whole.
  for (const x of rows.slice(1).filter((x) => !x.accepted)) {
    const rose = x.test !== undefined && x.test.accuracy > base.test!.accuracy
    if (x.test && !rose) lines.push(dim(truncate(`  round ${x.round}: held-out accuracy did not rise`, style.width)))
    for (const f of x.gate?.failures ?? []) lines.push(dim(truncate(`  round ${x.round}: the gate would fail, ${f.rule}: ${f.message}`, style.width)))
    if (!x.test && x.reason) lines.push(...wrap(`round ${x.round}: ${x.reason}`, style.width, '  ', '    ').map(dim))
  }

  const won = r.rounds.find((x) => x.round === r.winner)
  lines.push('')
  if (won) {
    lines.push(...wrap(verdictLine(base, won), style.width).map(bold))
    lines.push(...wrap(`wrote ${out.patchFile}: apply it from this folder with \`git apply ${out.patchFile}\` (or \`patch -p1 < ${out.patchFile}\`); ${out.dir}/improve.json has every round's descriptions and figures`, style.width))
  } else {
    const tried = rows.slice(1).filter((x) => x.test)
    const rose = tried.filter((x) => x.test!.accuracy > base.test!.accuracy)
    const rules = [...new Set(rose.flatMap((x) => x.gate?.failures.map((f) => f.rule) ?? []))]
    const why =
      tried.length === 0
        ? 'no rewrite could be routed'
        : rose.length === 0
          ? `none of ${tried.length} rewrite${tried.length === 1 ? '' : 's'} raised held-out accuracy`
          : `${rose.length} of ${tried.length} rewrites raised held-out accuracy, but the gate would fail ${rose.length === 1 ? 'it' : 'each'} (${rules.join(', ')})`
    lines.push(...wrap(`kept nothing: ${why}; the agent files stay as they are`, style.width).map(bold))
    lines.push(...wrap(`${out.dir}/improve.json has every round's descriptions and figures`, style.width))
  }
  return lines.join('\n')
}

function verdictLine(base: ImproveRound, won: ImproveRound): string {
  const h = won.heldOut!
  return `kept round ${won.round}: held-out accuracy ${f2(base.test!.accuracy)} → ${f2(won.test!.accuracy)} (${signed(won.test!.accuracy - base.test!.accuracy, 2)}; ${h.fixed} wrong → right, ${h.broke} right → wrong, exact McNemar p = ${pValue(h.mcnemarP)}); train ${f2(base.train!.accuracy)} → ${f2(won.train!.accuracy)}; the gate passes on every case${won.retest && won.retest.flips > 0 ? `, with ${won.retest.noise} of ${won.retest.flips} stable flip(s) shown to be noise by its re-test` : ''}`
}
