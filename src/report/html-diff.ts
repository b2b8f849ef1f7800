/**
 * Word diff of two descriptions, for the before/after section: jsdiff's
 * Myers diff over words (line breaks count as tokens, so they survive).
 * Past `maxEdits` word edits the whole text is shown as one removal and one
 * addition, so two huge, unrelated descriptions cannot blow up time or memory.
 */

import { diffArrays } from 'diff'

export type DiffOp = 'same' | 'del' | 'ins'
export type DiffPart = { op: DiffOp; text: string }

/** Two rewritten 300-word descriptions differ by about 600 edits; Myers' cost grows with words × edits. */
export const DIFF_MAX_EDITS = 2000

const tokens = (text: string): string[] => text.match(/\n|[^\s]+/g) ?? []

export function wordDiff(before: string, after: string, maxEdits = DIFF_MAX_EDITS): DiffPart[] {
  const a = tokens(before)
  const b = tokens(after)
  const changes = diffArrays(a, b, { maxEditLength: maxEdits }) ?? [
    { removed: true, added: false, value: a },
    { removed: false, added: true, value: b },
  ]
  const ops: Array<{ op: DiffOp; token: string }> = []
  for (const c of changes) {
    const op: DiffOp = c.removed ? 'del' : c.added ? 'ins' : 'same'
    for (const token of c.value) ops.push({ op, token })
  }
  return group(ops)
}

/** Runs of one operation become one part; words are joined by spaces, line breaks kept. */
function group(ops: ReadonlyArray<{ op: DiffOp; token: string }>): DiffPart[] {
  const parts: DiffPart[] = []
  let previous: string | undefined
  for (const { op, token } of ops) {
    const gap = previous !== undefined && previous !== '\n' && token !== '\n' ? ' ' : ''
    previous = token
    const last = parts[parts.length - 1]
    if (last && last.op === op) last.text += gap + token
    else {
      // The space between two runs belongs to the unchanged text around them.
      if (gap && last) parts.push({ op: 'same', text: gap })
      parts.push({ op, text: token })
    }
  }
  // Merge the separating spaces into neighbouring unchanged runs.
  const merged: DiffPart[] = []
  for (const p of parts) {
    const last = merged[merged.length - 1]
    if (last && last.op === p.op) last.text += p.text
    else merged.push({ ...p })
  }
  return merged
}
