/**
 * How many items two sequences share at the start and, after that, at the
 * end: what both diffs (report.html's word diff, improve's patch) keep as
 * context before working on the changed middle.
 */
export function commonEnds<T>(a: readonly T[], b: readonly T[]): { head: number; tail: number } {
  let head = 0
  while (head < a.length && head < b.length && a[head] === b[head]) head++
  let tail = 0
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++
  return { head, tail }
}
