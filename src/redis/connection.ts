// The shared Redis connection (rate-limit counters now, idempotency later). It must
// never make a request wait for Redis: commands fail at once while disconnected (no
// offline queue), a hung server is cut off by a command timeout, and reconnection
// runs forever in the background so the service recovers by itself.
import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'

export const REDIS_COMMAND_TIMEOUT_MS = 500

export function createRedis (url: string, log: FastifyBaseLogger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    lazyConnect: false
  })
  let up = false
  redis.on('ready', () => {
    up = true
    log.info('redis connected')
  })
  redis.on('error', (error: Error & { code?: string }) => {
    // Every reconnection attempt fails with an error while Redis is down: warn once.
    if (up) log.warn({ code: error.code }, 'redis connection lost')
    else log.debug({ code: error.code }, 'redis not reachable')
    up = false
  })
  redis.on('close', () => {
    if (up) log.warn('redis connection closed')
    up = false
  })
  return redis
}

export const isRedisReady = (redis: Redis): boolean => redis.status === 'ready'
