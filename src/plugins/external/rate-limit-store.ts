// The rate-limit store: the plugin's Redis store when Redis is configured, else its
// in-memory store, wrapped so that a store failure is recorded and turned into a
// decision (serve, or refuse with a ProblemError) instead of an unhandled error.
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import LocalStore from '@fastify/rate-limit/store/LocalStore.js'
import RedisStore from '@fastify/rate-limit/store/RedisStore.js'
import type { ProblemError } from '../../http/errors.ts'

export type StoreFailureListener = (error: Error) => void

type Callback = Parameters<FastifyRateLimitStore['incr']>[1]

export interface GuardedStoreOptions {
  redis: Redis | undefined
  namespace: string
  onFailure: StoreFailureListener
  /** Builds the refusal while the store fails; undefined means serve (fail open). */
  refusal: (() => ProblemError) | undefined
}

const LOCAL_KEYS = 10000

class GuardedStore implements FastifyRateLimitStore {
  readonly #inner: FastifyRateLimitStore
  readonly #options: GuardedStoreOptions

  constructor (inner: FastifyRateLimitStore, options: GuardedStoreOptions) {
    this.#inner = inner
    this.#options = options
  }

  incr (key: string, callback: Callback, timeWindow: number, max: number): void {
    this.#inner.incr(key, (error, result) => {
      if (error === null) {
        callback(null, result)
        return
      }
      this.#options.onFailure(error)
      const refusal = this.#options.refusal
      // Serving open: as if this were the first request of the window.
      if (refusal === undefined) callback(null, { current: 0, ttl: timeWindow })
      else callback(refusal())
    }, timeWindow, max)
  }

  child (routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
    return new GuardedStore(this.#inner.child(routeOptions), this.#options)
  }
}

/** A store class in the shape the plugin constructs (`new Store(pluginOptions)`). */
export function guardedStore (options: GuardedStoreOptions): FastifyRateLimitStoreCtor {
  return class extends GuardedStore {
    constructor (pluginOptions: { continueExceeding?: boolean, exponentialBackoff?: boolean }) {
      const { continueExceeding = false, exponentialBackoff = false } = pluginOptions
      const inner = options.redis === undefined
        ? new LocalStore(continueExceeding, exponentialBackoff, LOCAL_KEYS)
        : new RedisStore(continueExceeding, exponentialBackoff, options.redis, options.namespace)
      super(inner, options)
    }
  } as unknown as FastifyRateLimitStoreCtor
}
