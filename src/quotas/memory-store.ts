// Quota counters in memory, for a single replica. A Map kept in order of last use: expired
// counters are swept from the old end on every add and ignored on read, so there is no
// timer per counter, and beyond maxCounters the least recently used goes, so a flood of
// identities cannot grow memory without end (the evicted visitor merely starts afresh).
import type { QuotaStore } from './store.ts'

export const DEFAULT_MAX_COUNTERS = 100_000

export interface MemoryQuotaStoreOptions {
  maxCounters?: number
  /** The clock, in ms; tests bring their own. */
  now?: () => number
}

interface Counter {
  total: number
  expiresAt: number
}

export class MemoryQuotaStore implements QuotaStore {
  readonly #counters = new Map<string, Counter>()
  readonly #maxCounters: number
  readonly #now: () => number

  constructor (options: MemoryQuotaStoreOptions = {}) {
    const { maxCounters = DEFAULT_MAX_COUNTERS } = options
    if (!Number.isInteger(maxCounters) || maxCounters < 1) throw new RangeError('maxCounters must be a positive integer')
    this.#maxCounters = maxCounters
    this.#now = options.now ?? Date.now
  }

  get size (): number {
    return this.#counters.size
  }

  async add (key: string, amount: number, expiresAtMs: number): Promise<number> {
    const now = this.#now()
    const found = this.#counters.get(key)
    const total = (found === undefined || found.expiresAt <= now ? 0 : found.total) + amount
    this.#counters.delete(key)
    // Expired counters at the old end go first; each is removed once, so this stays O(1) amortised.
    for (const [oldKey, counter] of this.#counters) {
      if (counter.expiresAt > now) break
      this.#counters.delete(oldKey)
    }
    // As Redis does with an expiry in the past: the total is told, nothing is kept.
    if (expiresAtMs <= now) return total
    this.#counters.set(key, { total, expiresAt: expiresAtMs })
    if (this.#counters.size > this.#maxCounters) {
      const oldest = this.#counters.keys().next()
      if (oldest.done !== true) this.#counters.delete(oldest.value)
    }
    return total
  }

  async get (key: string): Promise<number> {
    const found = this.#counters.get(key)
    if (found === undefined) return 0
    if (found.expiresAt > this.#now()) return found.total
    this.#counters.delete(key)
    return 0
  }
}
