import type { PageCase } from '../page-data.js'
import { el } from './dom.js'

/** Prompts longer than this (or with a line break) show cut, with a "more" button. */
const PROMPT_CHARS = 160

/** The votes, rebuilt when the data left them out: one repeat for the decision. */
function votesOf(c: PageCase): Record<string, number> {
  if (c.v) return c.v
  return c.d === null ? {} : { [c.d]: 1 }
}

export function votesText(v: Record<string, number>): string {
  return Object.keys(v)
    .sort((a, b) => v[b]! - v[a]! || (a < b ? -1 : 1))
    .map((k) => `${k} ×${v[k]}`)
    .join(', ')
}

export const expectedText = (e: readonly string[] | undefined): string => (e ?? []).join(' | ')

export function promptCell(text: string | undefined): HTMLTableCellElement {
  const td = el('td', { className: 'prompt' })
  text = text || ''
  if (text.length <= PROMPT_CHARS && !text.includes('\n')) {
    td.appendChild(el('span', { className: 'p-text', text }))
    return td
  }
  const flat = text.replace(/\s+/g, ' ')
  const short = el('span', { className: 'p-short', text: flat.length > PROMPT_CHARS ? `${flat.slice(0, PROMPT_CHARS).replace(/\s+$/, '')}…` : flat })
  const full = el('span', { className: 'p-full', text })
  const more = el('button', { type: 'button', className: 'link more', 'aria-expanded': 'false', text: 'more' })
  more.addEventListener('click', () => {
    const open = td.classList.toggle('open')
    more.setAttribute('aria-expanded', String(open))
    more.textContent = open ? 'less' : 'more'
  })
  td.append(short, full, ' ', more)
  return td
}

function decisionCell(c: PageCase): HTMLTableCellElement {
  if (c.d === null) return el('td', { className: 'wrong', text: `error${c.err ? `: ${c.err}` : ''}` })
  const text = c.d + (c.x ? ' (not an agent)' : '') + (c.s ? ' (split)' : '')
  return el('td', { className: `labels ${c.ok ? 'right' : 'wrong'}`, text })
}

/** A case as a table row: id, prompt (with its tags), expected, decision, and the votes and runner-up when asked. */
export function caseRow(c: PageCase, withVotes: boolean): HTMLTableRowElement {
  const prompt = promptCell(c.p)
  const kids = [el('td', { className: 'mono nowrap', text: c.i }), prompt, el('td', { className: 'labels', text: expectedText(c.e) }), decisionCell(c)]
  if (withVotes) {
    kids.push(el('td', { className: 'votes', text: votesText(votesOf(c)) }))
    const runnerUp = el('td', { className: 'labels', text: c.r || '' })
    if (c.m !== undefined) runnerUp.appendChild(el('span', { className: 'margin', title: "margin: the decision's score minus the runner-up's; small means a near thing", text: ` (margin ${c.m})` }))
    kids.push(runnerUp)
  }
  if (c.t && c.t.length) prompt.appendChild(el('div', null, [el('span', null, c.t.map((t) => el('span', { className: 'tag', text: t })))]))
  return el('tr', null, kids)
}
