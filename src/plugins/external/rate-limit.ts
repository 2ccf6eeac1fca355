// @fastify/rate-limit settings: per client (token name, else visitor, else IP), counters in Redis when
// configured so every replica enforces one limit. A store failure never becomes a 500:
// `open` serves the request and records the failure, `closed` refuses with 503.
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import type { Config } from '../../config/config.ts'
import { ProblemError } from '../../http/errors.ts'
import { guardedStore } from './rate-limit-store.ts'
import type { StoreFailureListener } from './rate-limit-store.ts'

export const STORE_RETRY_AFTER_SECONDS = 5

/**
 * A named client by its name, a visitor by its identity (a pool of addresses does not
 * walk around it); anyone else by address, an IPv6 address by its /64 (one network,
 * which a single host can fill with addresses), as the plugin's default key does.
 */
const clientKey = (request: FastifyRequest): string => {
  if (request.clientName !== null) return `client:${request.clientName}`
  return request.visitorId === null ? normalizeIP(request.ip) : `visitor:${request.visitorId}`
}

export interface RateLimitOptions {
  limits: Config['rateLimit']
  /** Whether client tokens are configured (otherwise no caller has a client's limit). */
  namedClients: boolean
  /** Whether visitor tokens are configured (otherwise no caller is a visitor). */
  visitors: boolean
  redis: Redis | undefined
  onStoreFailure: StoreFailureListener
  onLimited: (request: FastifyRequest) => void
}

export async function registerRateLimit (app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const { limits, redis } = options
  const failure = limits.onStoreError === 'closed'
    ? () => new ProblemError('RATE_LIMIT_UNAVAILABLE', undefined, { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) })
    : undefined
  await app.register(rateLimit, {
    global: false,
    // A number when every caller is anonymous: the plugin awaits a function's answer.
    max: options.namedClients ? (request: FastifyRequest) => request.clientName === null ? limits.max : limits.clientMax : limits.max,
    timeWindow: limits.windowMs,
    // Without client or visitor tokens every caller is anonymous: the plugin's default key
    // is the same, and it is computed inline where a custom one is awaited on every request.
    keyGenerator: options.namedClients || options.visitors ? clientKey : undefined,
    store: guardedStore({ redis, namespace: 'hottask-proxy:rate-limit:', onFailure: options.onStoreFailure, refusal: failure }),
    skipOnError: false,
    onExceeded: options.onLimited,
    errorResponseBuilder: (_request, context) => new ProblemError('RATE_LIMITED', `Rate limit exceeded; retry in ${context.after}.`)
  })
}
