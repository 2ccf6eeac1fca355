// The process's health as load shedding reads it: how late the event loop ran over the
// last window, and how much of the heap is in use. Read on a timer that can never throw:
// process.memoryUsage() opens /proc/self/statm and throws EMFILE once every descriptor is
// taken, and a throw in a timer is an uncaught exception that ends the process. The heap
// is read from V8, which opens nothing, and any failure keeps the previous reading.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { ELDHistogram } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

/** The event-loop delay histogram's sampling step, in ms (subtracted from its mean). */
const RESOLUTION_MS = 10

export interface HealthReading {
  /** Mean event-loop delay over the last window in ms; Infinity when the loop never ran in it. */
  eventLoopDelayMs: number
  heapUsedBytes: number
}

export interface ProcessHealthOptions {
  intervalMs: number
  /** Sources, for tests; default the event-loop histogram and V8's heap statistics. */
  readDelayMs?: () => number
  readHeapUsedBytes?: () => number
  /** The first failed reading of a streak (the previous reading stands until one succeeds). */
  onError?: (error: unknown) => void
}

export class ProcessHealth {
  #reading: HealthReading = { eventLoopDelayMs: 0, heapUsedBytes: 0 }
  readonly #timer: NodeJS.Timeout
  readonly #histogram: ELDHistogram | undefined
  readonly #readDelayMs: () => number
  readonly #readHeapUsedBytes: () => number
  readonly #onError: (error: unknown) => void
  #failing = false

  constructor (options: ProcessHealthOptions) {
    if (options.readDelayMs === undefined) {
      const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
      histogram.enable()
      this.#histogram = histogram
      this.#readDelayMs = () => windowDelayMs(histogram)
    } else {
      this.#readDelayMs = options.readDelayMs
    }
    this.#readHeapUsedBytes = options.readHeapUsedBytes ?? (() => getHeapStatistics().used_heap_size)
    this.#onError = options.onError ?? (() => {})
    this.#timer = setInterval(() => this.sample(), options.intervalMs)
    this.#timer.unref()
  }

  get reading (): HealthReading { return this.#reading }

  /** Takes a reading now; never throws. */
  sample (): void {
    try {
      this.#reading = { eventLoopDelayMs: this.#readDelayMs(), heapUsedBytes: this.#readHeapUsedBytes() }
      this.#failing = false
    } catch (error) {
      if (this.#failing) return
      this.#failing = true
      try { this.#onError(error) } catch {}
    }
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#histogram?.disable()
  }
}

/** The window's mean delay beyond the sampling step, then a fresh window. */
export function windowDelayMs (histogram: Pick<ELDHistogram, 'count' | 'mean' | 'reset'>): number {
  // No sample in a whole window: the loop was stuck for all of it.
  const delay = histogram.count === 0 ? Infinity : Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS)
  histogram.reset()
  return delay
}
