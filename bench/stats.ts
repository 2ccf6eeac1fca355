// Small statistics over samples: percentiles of raw latencies, medians of rounds.

/** The p-th percentile (0–100) of samples sorted ascending, nearest-rank; NaN when empty. */
export function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

export function median (values: number[]): number {
  const present = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (present.length === 0) return NaN
  const middle = present.length >> 1
  return present.length % 2 === 1 ? present[middle]! : (present[middle - 1]! + present[middle]!) / 2
}

export function max (values: number[]): number {
  const present = values.filter((v) => Number.isFinite(v))
  return present.length === 0 ? NaN : Math.max(...present)
}

export function sum (values: number[]): number {
  return values.reduce((total, v) => total + v, 0)
}
