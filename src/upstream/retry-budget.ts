// Envoy's retry budget: retries may add at most `percent` % to the request rate over a
// sliding window (with a floor of `minPerWindow`), so retries never multiply an outage.
// Counted in one-second buckets: O(1) per request, no timers.

const BUCKETS = 10

export interface RetryBudgetOptions {
  percent: number
  minPerWindow: number
  windowMs?: number
  now?: () => number
}

export class RetryBudget {
  readonly #percent: number
  readonly #min: number
  readonly #bucketMs: number
  readonly #now: () => number
  readonly #requests = new Array<number>(BUCKETS).fill(0)
  readonly #retries = new Array<number>(BUCKETS).fill(0)
  readonly #stamps = new Array<number>(BUCKETS).fill(-1)

  constructor (options: RetryBudgetOptions) {
    this.#percent = options.percent
    this.#min = options.minPerWindow
    this.#bucketMs = (options.windowMs ?? 10000) / BUCKETS
    this.#now = options.now ?? Date.now
  }

  /** The bucket for now, emptied first if it still holds an older second. */
  #bucket (): number {
    const tick = Math.floor(this.#now() / this.#bucketMs)
    const index = tick % BUCKETS
    if (this.#stamps[index] !== tick) {
      this.#stamps[index] = tick
      this.#requests[index] = 0
      this.#retries[index] = 0
    }
    return index
  }

  #sum (counts: number[]): number {
    const oldest = Math.floor(this.#now() / this.#bucketMs) - BUCKETS + 1
    let total = 0
    for (let i = 0; i < BUCKETS; i++) if (this.#stamps[i]! >= oldest) total += counts[i]!
    return total
  }

  /** Counts a request's first attempt. */
  recordRequest (): void {
    this.#requests[this.#bucket()]! += 1
  }

  /** Takes one retry from the budget, or says there is none left. */
  tryRetry (): boolean {
    const index = this.#bucket()
    const allowed = Math.max(this.#min, Math.floor(this.#sum(this.#requests) * this.#percent / 100))
    if (this.#sum(this.#retries) >= allowed) return false
    this.#retries[index]! += 1
    return true
  }
}
