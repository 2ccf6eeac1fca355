// Replay memory for ALTCHA solutions: a solved challenge passes once, and is remembered
// until it expires (after which its signature refuses it anyway). In Redis every
// replica shares the memory, so a solution spent on one is refused by all; in memory it
// holds for one process, bounded, and a full memory fails rather than forgets.
import type { Redis } from 'ioredis'

export interface ReplayStore {
  /** true the first time id is seen before expiresAtMs, false after; rejects when the store fails */
  remember (id: string, expiresAtMs: number): Promise<boolean>
}

export const REPLAY_KEY_PREFIX = 'hottask-proxy:altcha:'
export const DEFAULT_MAX_REPLAY_ENTRIES = 100_000

export class ReplayMemoryFull extends Error {
  readonly code = 'REPLAY_MEMORY_FULL'
  constructor () {
    super('the replay memory is full of unexpired solutions')
    this.name = 'ReplayMemoryFull'
  }
}

export class MemoryReplayStore implements ReplayStore {
  readonly #maxEntries: number
  readonly #now: () => number
  /** id → expiry (ms since the epoch). */
  readonly #seen = new Map<string, number>()
  /** While full, sweeping before the earliest kept expiry would find nothing to drop. */
  #nextSweepAt = 0

  constructor (options: { maxEntries?: number, now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_REPLAY_ENTRIES
    this.#now = options.now ?? Date.now
  }

  get size (): number {
    return this.#seen.size
  }

  async remember (id: string, expiresAtMs: number): Promise<boolean> {
    const now = this.#now()
    const known = this.#seen.get(id)
    if (known !== undefined && known > now) return false
    if (known !== undefined) this.#seen.delete(id)
    if (expiresAtMs <= now) return true // already expired: nothing left to guard
    if (this.#seen.size >= this.#maxEntries && !this.#sweep(now)) throw new ReplayMemoryFull()
    this.#seen.set(id, expiresAtMs)
    if (expiresAtMs < this.#nextSweepAt) this.#nextSweepAt = expiresAtMs
    return true
  }

  /** Drops expired entries; true when there is room afterwards. */
  #sweep (now: number): boolean {
    if (now < this.#nextSweepAt) return false
    let earliest = Infinity
    for (const [id, expiresAtMs] of this.#seen) {
      if (expiresAtMs <= now) this.#seen.delete(id)
      else if (expiresAtMs < earliest) earliest = expiresAtMs
    }
    this.#nextSweepAt = earliest
    return this.#seen.size < this.#maxEntries
  }
}

export class RedisReplayStore implements ReplayStore {
  readonly #redis: Redis
  readonly #prefix: string

  constructor (redis: Redis, prefix = REPLAY_KEY_PREFIX) {
    this.#redis = redis
    this.#prefix = prefix
  }

  // One atomic SET NX: of two replicas given the same solution at once, one wins.
  async remember (id: string, expiresAtMs: number): Promise<boolean> {
    const set = await this.#redis.set(this.#prefix + id, '1', 'PXAT', Math.ceil(expiresAtMs), 'NX')
    return set === 'OK'
  }
}
