/**
 * Word diff of two descriptions, for the before/after section: a longest
 * common subsequence over words (line breaks count as tokens, so they
 * survive). The common head and tail are cut first; past `maxWords` words or
 * `maxCells` table cells in what is left, the middle is shown as one removal
 * and one addition, so a huge description cannot blow up time or memory.
 */

import { commonEnds } from '../text/common-ends.js'

export type DiffOp = 'same' | 'del' | 'ins'
export type DiffPart = { op: DiffOp; text: string }

export const DIFF_MAX_WORDS = 2000
const DIFF_MAX_CELLS = 4_000_000

const tokens = (text: string): string[] => text.match(/\n|[^\s]+/g) ?? []

export function wordDiff(before: string, after: string, maxWords = DIFF_MAX_WORDS): DiffPart[] {
  const a = tokens(before)
  const b = tokens(after)
  const { head, tail } = commonEnds(a, b)
  const midA = a.slice(head, a.length - tail)
  const midB = b.slice(head, b.length - tail)

  const ops: Array<{ op: DiffOp; token: string }> = a.slice(0, head).map((token) => ({ op: 'same', token }))
  const tooBig = midA.length > maxWords || midB.length > maxWords || (midA.length + 1) * (midB.length + 1) > DIFF_MAX_CELLS
  if (tooBig) {
    for (const token of midA) ops.push({ op: 'del', token })
    for (const token of midB) ops.push({ op: 'ins', token })
  } else {
    ops.push(...lcsOps(midA, midB))
  }
  for (const token of a.slice(a.length - tail)) ops.push({ op: 'same', token })
  return group(ops)
}

/** The classic dynamic programme, suffix lengths in one flat array. */
function lcsOps(a: readonly string[], b: readonly string[]): Array<{ op: DiffOp; token: string }> {
  const n = a.length
  const m = b.length
  const width = m + 1
  const len = new Uint32Array((n + 1) * width)
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      len[i * width + j] = a[i] === b[j] ? len[(i + 1) * width + j + 1]! + 1 : Math.max(len[(i + 1) * width + j]!, len[i * width + j + 1]!)
    }
  }
  const ops: Array<{ op: DiffOp; token: string }> = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ op: 'same', token: a[i]! })
      i++
      j++
    } else if (len[(i + 1) * width + j]! >= len[i * width + j + 1]!) {
      ops.push({ op: 'del', token: a[i++]! })
    } else {
      ops.push({ op: 'ins', token: b[j++]! })
    }
  }
  while (i < n) ops.push({ op: 'del', token: a[i++]! })
  while (j < m) ops.push({ op: 'ins', token: b[j++]! })
  return ops
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
