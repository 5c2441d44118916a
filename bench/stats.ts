/** Latency summaries: percentiles by the nearest-rank method over every sample (no histogram binning). */

export interface LatencySummary {
  count: number
  mean: number
  p50: number
  p90: number
  p99: number
  max: number
}

/** What every run measures of its deliveries, whatever the suite. */
export interface DeliveryFigures {
  /** measured messages sent */
  messages: number
  /** measured deliveries received (a group message counts once per recipient) */
  delivered: number
  /** deliveries per second */
  messagesPerSecond: number
  latencyMs: LatencySummary
  /** warm-up included; must be 0 */
  lost: number
  duplicates: number
}

/** Summarises the first `count` samples (milliseconds). Sorts `samples` in place. */
export function summarise (samples: Float64Array, count = samples.length): LatencySummary {
  const sorted = samples.subarray(0, count).sort()
  if (count === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN }
  let sum = 0
  for (const value of sorted) sum += value
  return {
    count,
    mean: sum / count,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[count - 1] as number
  }
}

/** Nearest rank: the smallest sample such that at least p % of the samples are ≤ it. */
export function percentile (sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}
