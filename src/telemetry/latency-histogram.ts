// A latency histogram for the hot path, exposed through prom-client's registry (which
// formats every metric the same way) but recorded without it. prom-client's observe()
// validates the labels, builds their hash string, looks the series up by that string
// and finds the bucket in an object keyed by bounds, twice per request with the counter
// beside it. Here a caller holds its series (looked up once per label set) and an
// observation is a bucket search and three additions.
//
// Every series also yields a counter of its observations (`…_total`), so a request is
// recorded once for both the counter and the histogram.
import type { MetricValue, Registry } from 'prom-client'

export class Series {
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  readonly counts: Float64Array
  sum = 0
  count = 0
  readonly labels: Readonly<Record<string, string>>
  readonly #bounds: readonly number[]

  constructor (labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length + 1)
  }

  observe (seconds: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && seconds > bounds[i]!) i++
    this.counts[i]!++
    this.sum += seconds
    this.count++
  }

  reset (): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}

interface Described { name: string, help: string }

// The shape prom-client's Registry reads from a metric (its own classes have the same).
interface Collector {
  name: string
  help: string
  type: 'histogram' | 'counter'
  aggregator: 'sum'
  get: () => Promise<{ name: string, help: string, type: Collector['type'], aggregator: 'sum', values: Value[] }>
  reset: () => void
}

type Value = MetricValue<string> & { metricName?: string, sharedLabels?: Record<string, string> }

export class LatencyHistogram {
  readonly #bounds: readonly number[]
  readonly #series = new Map<string, Series>()

  constructor (registry: Registry, histogram: Described, counter: Described, bounds: readonly number[]) {
    this.#bounds = bounds
    // Registered in this order, so the exposition keeps the counter before its histogram.
    // A reset zeroes the series in place: callers keep the ones they hold.
    const reset = (): void => { for (const s of this.#series.values()) s.reset() }
    register(registry, { ...counter, type: 'counter', values: () => this.#counterValues() }, reset)
    register(registry, { ...histogram, type: 'histogram', values: () => this.#histogramValues(histogram.name) }, reset)
  }

  /** The series of one label set, created (at zero) on first use; hold on to it. */
  series (labels: Readonly<Record<string, string>>): Series {
    const key = Object.values(labels).join('\u0000')
    let series = this.#series.get(key)
    if (series === undefined) {
      series = new Series(labels, this.#bounds)
      this.#series.set(key, series)
    }
    return series
  }

  #counterValues (): Value[] {
    return [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.count }))
  }

  /** A series appears in the histogram once it has an observation, as with prom-client. */
  #histogramValues (name: string): Value[] {
    const values: Value[] = []
    for (const s of this.#series.values()) {
      if (s.count === 0) continue
      let cumulative = 0
      this.#bounds.forEach((le, i) => {
        cumulative += s.counts[i]!
        values.push({ labels: { le: String(le) }, sharedLabels: s.labels, value: cumulative, metricName: `${name}_bucket` })
      })
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: `${name}_bucket` },
        { labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${name}_count` }
      )
    }
    return values
  }
}

function register (registry: Registry, metric: Described & { type: Collector['type'], values: () => Value[] }, reset: () => void): void {
  const collector: Collector = {
    name: metric.name,
    help: metric.help,
    type: metric.type,
    aggregator: 'sum',
    get: async () => ({ name: metric.name, help: metric.help, type: metric.type, aggregator: 'sum', values: metric.values() }),
    reset
  }
  registry.registerMetric(collector as unknown as Parameters<Registry['registerMetric']>[0])
}
