// Quota counters shared by replicas through Redis. An add is one MULTI/EXEC of INCRBY and
// PEXPIREAT: atomic, so concurrent spends on any replica each see their own total, and in
// one round trip. The expiry is set on every add (always the same instant for a day's
// counter), so a counter can never be left without one.
import type { Redis } from 'ioredis'
import type { QuotaStore } from './store.ts'

export const QUOTA_KEY_PREFIX = 'hottask-proxy:quota:'

export class RedisQuotaStore implements QuotaStore {
  readonly #redis: Redis
  readonly #prefix: string

  constructor (redis: Redis, prefix = QUOTA_KEY_PREFIX) {
    this.#redis = redis
    this.#prefix = prefix
  }

  async add (key: string, amount: number, expiresAtMs: number): Promise<number> {
    const replies = await this.#redis.multi()
      .incrby(this.#prefix + key, amount)
      .pexpireat(this.#prefix + key, expiresAtMs)
      .exec()
    if (replies === null) throw new Error('quota transaction aborted by Redis')
    const [incremented, expiring] = replies
    if (incremented?.[0] != null) throw incremented[0]
    if (expiring?.[0] != null) throw expiring[0]
    return toCount(incremented?.[1])
  }

  async get (key: string): Promise<number> {
    const found = await this.#redis.get(this.#prefix + key)
    return found === null ? 0 : toCount(found)
  }
}

function toCount (value: unknown): number {
  const count = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN
  // Written by something else (SET to text): a store failure, never a NaN total.
  if (!Number.isSafeInteger(count)) throw new Error('malformed quota counter in Redis')
  return count
}
