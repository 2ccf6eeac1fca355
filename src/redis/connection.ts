// The shared Redis connection (rate-limit counters now, idempotency later). It must
// never make a request wait for Redis: commands fail at once while disconnected (no
// offline queue), a hung server is cut off by a command timeout, and reconnection
// runs forever in the background so the service recovers by itself. A rediss:// URL is
// TLS; a certificate that fails verification is an operator's mistake, not an outage that
// heals, so it is logged as an error (readiness fails meanwhile; the process goes on).
import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'

export const REDIS_COMMAND_TIMEOUT_MS = 500

export interface RedisTlsOptions {
  /** PEM certificates a rediss:// server's certificate must chain to (default: the system's CAs). */
  ca?: string | undefined
}

// Node's and OpenSSL's codes for a TLS handshake or certificate failure.
const TLS_FAILURE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/

/** Whether a connection error's code says the TLS handshake or the certificate failed. */
export const isTlsFailure = (code: string): boolean => TLS_FAILURE.test(code)

export function createRedis (url: string, log: FastifyBaseLogger, options: RedisTlsOptions = {}): Redis {
  const redis = new Redis(url, {
    // rediss:// alone turns TLS on with the system's CAs; a private CA replaces them.
    ...(options.ca === undefined ? {} : { tls: { ca: options.ca } }),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    lazyConnect: false
  })
  let up = false
  // Until the first connection, a failure is more likely a wrong REDIS_URL (host, DNS name,
  // redis:// at a TLS port) than an outage: said once at warn, then at debug per retry.
  let connectedOnce = false
  let unreachableWarned = false
  // The TLS failure last logged: each reconnection repeats it, and it is logged once.
  let tlsFailure: string | undefined
  redis.on('ready', () => {
    up = true
    connectedOnce = true
    tlsFailure = undefined
    log.info('redis connected')
  })
  redis.on('error', (error: Error & { code?: string }) => {
    const code = error.code ?? ''
    if (isTlsFailure(code)) {
      // The message names the certificate's problem (and host), never the URL or its password.
      if (tlsFailure !== code) log.error({ code, reason: error.message }, 'redis TLS connection failed: check REDIS_URL\'s host and REDIS_TLS_CA_FILE')
      tlsFailure = code
    } else if (up) {
      // Every reconnection attempt fails with an error while Redis is down: warn once.
      log.warn({ code: error.code }, 'redis connection lost')
    } else if (!connectedOnce && !unreachableWarned) {
      unreachableWarned = true
      // The code only: the error's message can name the host, and the URL may hold a password.
      log.warn({ code: error.code }, 'redis not reachable since start: check REDIS_URL (host, port, redis:// or rediss://); retrying in the background')
    } else {
      log.debug({ code: error.code }, 'redis not reachable')
    }
    up = false
  })
  redis.on('close', () => {
    if (up) log.warn('redis connection closed')
    up = false
  })
  return redis
}

export const isRedisReady = (redis: Redis): boolean => redis.status === 'ready'
