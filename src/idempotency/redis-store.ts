// The idempotency store shared by replicas through Redis. Claiming is one atomic
// `SET NX PX … GET` (Redis ≥ 7): it either writes the pending marker or returns what is
// there. Values are JSON and are checked when read, so an entry written by another
// version of the service (an unknown error code) is a store failure, not a crash.
import type { Redis } from 'ioredis'
import { ERRORS } from '../http/errors.ts'
import type { Entry, IdempotencyStore, StoredAnswer } from './types.ts'

export const REDIS_KEY_PREFIX = 'hottask-proxy:idempotency:'

export class RedisStore implements IdempotencyStore {
  readonly #redis: Redis
  readonly #prefix: string

  constructor (redis: Redis, prefix = REDIS_KEY_PREFIX) {
    this.#redis = redis
    this.#prefix = prefix
  }

  async begin (id: string, fingerprint: string, ttlMs: number): Promise<Entry | undefined> {
    const pending: Entry = { state: 'pending', fingerprint }
    const found = await this.#redis.set(this.#prefix + id, JSON.stringify(pending), 'PX', ttlMs, 'NX', 'GET')
    return found === null ? undefined : parseEntry(found)
  }

  async get (id: string): Promise<Entry | undefined> {
    const found = await this.#redis.get(this.#prefix + id)
    return found === null ? undefined : parseEntry(found)
  }

  async complete (id: string, fingerprint: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    const done: Entry = { state: 'done', fingerprint, answer }
    await this.#redis.set(this.#prefix + id, JSON.stringify(done), 'PX', ttlMs)
  }

  async abandon (id: string): Promise<void> {
    await this.#redis.del(this.#prefix + id)
  }
}

export function parseEntry (text: string): Entry {
  const value: unknown = JSON.parse(text)
  if (isEntry(value)) return value
  throw new Error('malformed idempotency entry in Redis')
}

type Loose = Record<string, unknown>

const isObject = (value: unknown): value is Loose => typeof value === 'object' && value !== null && !Array.isArray(value)

function isEntry (value: unknown): value is Entry {
  if (!isObject(value) || typeof value.fingerprint !== 'string') return false
  if (value.state === 'pending') return true
  return value.state === 'done' && isAnswer(value.answer)
}

function isAnswer (value: unknown): value is StoredAnswer {
  if (!isObject(value) || !Number.isInteger(value.status)) return false
  const { body, problem } = value
  if (body !== undefined) return problem === undefined && typeof body === 'string'
  if (!isObject(problem)) return false
  const { code, detail, headers } = problem
  return typeof code === 'string' && Object.hasOwn(ERRORS, code) && typeof detail === 'string' &&
    (headers === undefined || (isObject(headers) && Object.values(headers).every((header) => typeof header === 'string')))
}
