/** report.html's stylesheet: system fonts only, light and dark from the system, print rules. A constant, never data. */
export const REPORT_CSS = `
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #eef1f4; --card: #f6f8fa;
  --accent: #0a5cc2; --focus: #0a5cc2; --good: #1a7f37; --bad: #c02a1f; --warn: #8a5a00;
  --hit-rgb: 26 127 55; --miss-rgb: 207 34 46; --sim-rgb: 111 66 193;
  --ins-bg: #c9f2d2; --ins-fg: #0b3d17; --del-bg: #ffd3d0; --del-fg: #6e0f08;
  --c0: #0a5cc2; --c1: #bf3989; --c2: #1a7f37; --c3: #bc4c00; --c4: #6639ba; --c5: #0f7b8a;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e1116; --fg: #e6edf3; --muted: #9ba6b1; --line: #3a424c; --soft: #1b2129; --card: #151a21;
    --accent: #5aa2ff; --focus: #7cb7ff; --good: #4ac26b; --bad: #ff7b72; --warn: #e3b341;
    --hit-rgb: 46 160 67; --miss-rgb: 248 81 73; --sim-rgb: 163 113 247;
    --ins-bg: #1d4428; --ins-fg: #aff5b4; --del-bg: #5d1f1a; --del-fg: #ffdcd7;
    --c0: #5aa2ff; --c1: #f778ba; --c2: #4ac26b; --c3: #f0883e; --c4: #a371f7; --c5: #39c5cf;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 0 20px 48px; }
header.top { max-width: 1240px; margin: 0 auto; padding: 20px 20px 8px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 2px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
h4 { font-size: 14px; margin: 12px 0 4px; }
p { margin: 4px 0 8px; }
.meta, .explain, .muted, td.undefined { color: var(--muted); }
.explain { margin: 0 0 12px; max-width: 980px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
a { color: var(--accent); }
nav.toc { position: sticky; top: 0; z-index: 5; background: var(--bg); border-bottom: 1px solid var(--line); }
nav.toc ul { max-width: 1240px; margin: 0 auto; padding: 6px 20px; list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav.toc a { text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
section.part { margin-top: 28px; padding-top: 8px; border-top: 1px solid var(--line); scroll-margin-top: 44px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
button { font: inherit; color: var(--fg); background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 3px 10px; cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); }
button:disabled { opacity: 0.5; cursor: default; }
button.link { background: none; border: none; padding: 0 2px; color: var(--accent); text-decoration: underline; }
input[type=search], select { font: inherit; color: var(--fg); background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; }
input[type=search] { width: 320px; max-width: 100%; }
label { color: var(--muted); }

.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(185px, 1fr)); gap: 10px; }
.figure { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.figure .name { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: .03em; }
.figure .value { font-size: 26px; font-weight: 600; line-height: 1.2; font-variant-numeric: tabular-nums; }
.figure .ci-text { color: var(--muted); font-size: 12.5px; font-variant-numeric: tabular-nums; }
.figure .means { font-size: 12.5px; margin: 4px 0 0; }
.figure.alarm { border-color: var(--bad); }
.callout { border-left: 4px solid var(--warn); background: var(--card); padding: 8px 12px; margin: 12px 0; border-radius: 0 6px 6px 0; }
.callout.bad { border-left-color: var(--bad); }
.callout.good { border-left-color: var(--good); }

.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.data th, table.data td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.data thead th { font-weight: 600; white-space: nowrap; border-bottom: 2px solid var(--line); }
table.data td.num, table.data th.num { text-align: right; white-space: nowrap; }
table.data tfoot td, table.data tfoot th { border-top: 2px solid var(--line); background: var(--card); }
table.data td.empty { color: var(--muted); text-align: center; }
table.data th button.sort { background: none; border: none; padding: 0; font-weight: 600; color: var(--fg); cursor: pointer; }
table.data th button.sort::after { content: " \\2195"; color: var(--muted); font-weight: 400; }
table.data th[aria-sort=ascending] button.sort::after { content: " \\2191"; color: var(--fg); }
table.data th[aria-sort=descending] button.sort::after { content: " \\2193"; color: var(--fg); }
td.agent, th.agent { white-space: nowrap; }
.wrong { color: var(--bad); }
.right { color: var(--good); }
td.prompt { min-width: 340px; max-width: 620px; overflow-wrap: anywhere; }
td.labels { min-width: 170px; max-width: 240px; }
td.votes { min-width: 110px; max-width: 200px; }
td.nowrap, th.nowrap { white-space: nowrap; }
.prompt .p-full { display: none; white-space: pre-wrap; }
.prompt.open .p-full { display: inline; }
.prompt.open .p-short { display: none; }
.tag { display: inline-block; background: var(--soft); border-radius: 10px; padding: 0 7px; margin: 1px 2px 1px 0; font-size: 12px; }
.chip { display: inline-block; border: 1px solid var(--line); border-radius: 10px; padding: 0 7px; margin: 1px 3px 1px 0; font-size: 12.5px; }
.badge { display: inline-block; white-space: nowrap; border-radius: 4px; padding: 0 6px; font-size: 12px; font-weight: 600; }
.badge.warning, .badge.broke, .badge.fail { background: var(--del-bg); color: var(--del-fg); }
.badge.info, .badge.fixed { background: var(--ins-bg); color: var(--ins-fg); }
.badge.flaky, .badge.probe { background: var(--soft); color: var(--muted); }

svg.ci { vertical-align: middle; margin-left: 6px; }
svg.ci .track { fill: var(--line); }
svg.ci .range { fill: var(--accent); opacity: 0.35; }
svg.ci .point { fill: var(--accent); }
svg.bar .fill { fill: var(--accent); opacity: 0.6; }
svg.bar .track { fill: var(--soft); }

.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 14px; margin: 8px 0; }
.pager { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; margin: 6px 0; }
.pager button { white-space: nowrap; }
.pager-info { margin: 0; color: var(--muted); font-variant-numeric: tabular-nums; }

.heat-wrap { overflow: auto; max-height: min(760px, 85vh); border: 1px solid var(--line); border-radius: 6px; display: inline-block; max-width: 100%; }
table.heat { border-collapse: separate; border-spacing: 0; font-variant-numeric: tabular-nums; }
table.heat th { font-weight: 500; font-size: 12.5px; background: var(--bg); white-space: nowrap; }
table.heat thead th { position: sticky; top: 0; z-index: 2; vertical-align: bottom; padding: 4px 0; }
table.heat thead th .vert { writing-mode: vertical-rl; transform: rotate(180deg); display: inline-block; max-height: 180px; overflow: hidden; text-overflow: ellipsis; padding: 2px 0; }
table.heat tbody th { position: sticky; left: 0; z-index: 1; text-align: right; padding: 0 8px 0 6px; max-width: 240px; overflow: hidden; text-overflow: ellipsis; }
table.heat thead th.corner { left: 0; z-index: 3; text-align: right; padding: 4px 8px; color: var(--muted); font-weight: 400; }
table.heat td { padding: 0; border-right: 1px solid var(--soft); border-bottom: 1px solid var(--soft); }
table.heat button.cell { display: block; width: 34px; height: 26px; border: none; border-radius: 0; padding: 0; font-size: 12px; background: transparent; color: var(--fg); }
table.heat button.cell.hit { background: rgb(var(--hit-rgb) / var(--a, 0)); }
table.heat button.cell.miss { background: rgb(var(--miss-rgb) / var(--a, 0)); }
table.heat button.cell.sim { background: rgb(var(--sim-rgb) / var(--a, 0)); }
table.heat button.cell.strong { color: #fff; font-weight: 600; }
table.heat button.cell.self { background: var(--soft); }
table.heat button.cell.in-cluster { box-shadow: inset 0 0 0 1px var(--fg); }
table.heat button.cell:focus-visible { outline: 3px solid var(--focus); outline-offset: -3px; position: relative; z-index: 1; }
table.heat button.cell[aria-pressed=true] { box-shadow: inset 0 0 0 3px var(--fg); }
table.heat .diag th, table.heat th.is-diag { text-decoration: underline; }
table.heat .pin { position: sticky; z-index: 1; background: var(--bg); }
table.heat thead th.pin { z-index: 3; }
table.heat .pin-edge { box-shadow: inset 2px 0 0 var(--muted); }
table.heat th.cl { box-shadow: inset -4px 0 0 var(--clc); }
table.heat thead th.cl { box-shadow: inset 0 -4px 0 var(--clc); }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; font-size: 12.5px; color: var(--muted); margin: 6px 0; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px; margin-right: 4px; border: 1px solid var(--line); }
.panel { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; margin-top: 10px; background: var(--card); }
.panel:empty { display: none; }
.panel h4 { margin-top: 4px; }

.margin-note { font-size: 12.5px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(520px, 100%), 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: var(--card); }
.card h3 { margin-top: 2px; }
.card .suggestion { border-left: 4px solid var(--accent); padding: 4px 10px; margin: 8px 0; background: var(--bg); border-radius: 0 6px 6px 0; }
.card ul { margin: 4px 0; padding-left: 18px; }
.card li { margin: 2px 0; }
.member { font-weight: 600; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; }
details > summary { cursor: pointer; color: var(--accent); }
details.desc pre, pre.desc { white-space: pre-wrap; overflow-wrap: anywhere; font: inherit; margin: 4px 0; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; max-width: 860px; }

.verdict { font-size: 18px; font-weight: 600; padding: 10px 14px; border-radius: 8px; margin: 8px 0; }
.verdict.pass { background: var(--ins-bg); color: var(--ins-fg); }
.verdict.fail { background: var(--del-bg); color: var(--del-fg); }
.diff { white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.6; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; max-width: 980px; }
del { background: var(--del-bg); color: var(--del-fg); text-decoration: line-through; }
ins { background: var(--ins-bg); color: var(--ins-fg); text-decoration: none; font-weight: 600; }
.delta-neg { color: var(--bad); }
.delta-pos { color: var(--good); }
footer { color: var(--muted); font-size: 12.5px; margin-top: 36px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }

@media (max-width: 640px) {
  main { padding: 0 12px 36px; }
  header.top { padding: 14px 12px 6px; }
  nav.toc ul { padding: 6px 12px; flex-wrap: nowrap; overflow-x: auto; white-space: nowrap; }
  section.part { scroll-margin-top: 40px; }
  h1 { font-size: 19px; overflow-wrap: anywhere; }
  .meta { overflow-wrap: anywhere; }
  table.heat tbody th { max-width: 46vw; }
  td.prompt { min-width: 220px; }
  .figures { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
}

@media print {
  :root { color-scheme: light; }
  body { font-size: 11px; background: #fff; color: #000; }
  code, .mono, .chip, .tag, .badge, table.heat th, table.heat button.cell { font-size: 0.92em; }
  nav.toc, .controls, .pager button, button.more, .no-print { display: none !important; }
  main, header.top { max-width: none; padding: 0; }
  section.part { break-inside: auto; }
  .figure, .card, tr { break-inside: avoid; }
  .heat-wrap { max-height: none; overflow: visible; border: none; }
  .prompt .p-full { display: inline !important; }
  .prompt .p-short { display: none !important; }
  details > *, details::details-content { display: block !important; content-visibility: visible !important; }
  table.heat thead th, table.heat tbody th, table.heat .pin { position: static; }
  table.heat .pin-edge { box-shadow: none; }
  a { color: inherit; text-decoration: none; }
}
`
