// Wires Idempotency-Key from the configuration: answers in Redis when replicas share one,
// else in a bounded in-memory LRU. Store failures are counted and logged, never fatal.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Config } from '../config/config.ts'
import type { Metrics } from '../telemetry/metrics.ts'
import { Idempotency, PENDING_MARGIN_MS } from './coordinator.ts'
import { MemoryStore } from './memory-store.ts'
import { RedisStore } from './redis-store.ts'

/** `now` is the in-memory store's clock (tests move it by hand); Redis keeps its own time. */
export function buildIdempotency (config: Config, redis: Redis | undefined, metrics: Metrics, log: FastifyBaseLogger, now?: () => number): Idempotency {
  return new Idempotency({
    store: redis === undefined ? new MemoryStore({ maxKeys: config.idempotency.maxKeys, now }) : new RedisStore(redis),
    ttlMs: config.idempotency.ttlMs,
    pendingTtlMs: config.upstreamTimeoutMs + PENDING_MARGIN_MS,
    onReplay: () => metrics.recordIdempotentReplay(),
    onStoreError: (error) => {
      metrics.recordStoreError('idempotency')
      log.warn({ err: (error as Error).message }, 'idempotency store failed')
    }
  })
}
