/**
 * 95% Wilson score interval for k successes in n trials. Unlike the normal
 * approximation it stays inside [0, 1] and is honest for small n and for
 * proportions near 0 or 1, which per-agent precision on 15 cases always is.
 */
export function wilsonInterval(k: number, n: number, z = 1.959963984540054): [number, number] {
  if (n === 0) return [0, 1]
  const p = k / n
  const z2 = z * z
  const denom = 1 + z2 / n
  const center = (p + z2 / (2 * n)) / denom
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom
  return [Math.max(0, center - half), Math.min(1, center + half)]
}
