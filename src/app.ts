// Builds the Fastify app from a typed Config and injected dependencies. Never listens:
// src/server.ts owns the process; tests build their own app.
import Fastify, { LogController } from 'fastify'
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type { Redis } from 'ioredis'
import type { DestinationStream } from 'pino'
import type { Dispatcher } from 'undici'
import packageJson from '../package.json' with { type: 'json' }
import type { Config } from './config.ts'
import { errorHandler } from './error-handler.ts'
import { clientTokenGuard } from './guards/client-token.ts'
import { originGuard } from './guards/origin.ts'
import { jsonBodyParser } from './json-body.ts'
import { loggerOptions } from './logger.ts'
import { registerCors } from './plugins/cors.ts'
import { registerRateLimit } from './plugins/rate-limit.ts'
import { Readiness } from './readiness.ts'
import { createRedis, isRedisReady } from './redis.ts'
import { requestIdOf } from './request-id.ts'
import { healthRoutes } from './routes/health.ts'
import { notFoundRoutes, trackRouteMethods } from './routes/not-found.ts'
import { sessionRoutes } from './routes/sessions.ts'
import { SecretScrubber } from './secrets.ts'
import { SECURITY_HEADERS } from './security-headers.ts'
import { createUpstreamClient } from './upstream/client.ts'

export const VERSION: string = packageJson.version

export interface AppDeps {
  /** Where log lines go (default: stdout). */
  logStream?: DestinationStream
  /** An undici dispatcher for the upstream (default: a pool owned by the app). */
  dispatcher?: Dispatcher
  readiness?: Readiness
}

/** Every secret the process holds, for scrubbing by value. */
function secretsOf (config: Config): string[] {
  const redisPassword = config.redisUrl === undefined ? '' : decodeURIComponent(new URL(config.redisUrl).password)
  return [config.apiKey, ...config.clientTokens.map((client) => client.token), redisPassword]
}

/** A hop count as the function Fastify runs for it (its types omit the number form). */
function trustProxyOption (trust: Config['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof trust === 'number' ? (_address, hop) => hop < trust : trust
}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const scrubber = new SecretScrubber()
  for (const secret of secretsOf(config)) scrubber.add(secret)
  const currentKey = (): string => config.apiKey
  const readiness = deps.readiness ?? new Readiness()

  const app = Fastify({
    logger: loggerOptions(config.logLevel, scrubber, deps.logStream),
    genReqId: requestIdOf,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: trustProxyOption(config.trustProxy),
    // Requests on connections still open during shutdown are served, not refused.
    return503OnClosing: false,
    // The contract's types are exact: no coercion, no silent removal, no defaults.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } }
  })
  app.decorateRequest('clientName', null)

  const upstream = createUpstreamClient({
    baseUrl: config.baseUrl,
    timeoutMs: config.upstreamTimeoutMs,
    userAgent: `hottask-proxy/${VERSION}`,
    scrubber,
    dispatcher: deps.dispatcher
  })
  app.addHook('onClose', async () => { await upstream.close() })

  let redis: Redis | undefined
  if (config.redisUrl !== undefined) {
    const client = createRedis(config.redisUrl, app.log)
    redis = client
    readiness.addCheck('redis', () => isRedisReady(client))
    app.addHook('onClose', async () => { client.disconnect() })
  }

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id).headers(SECURITY_HEADERS)
    done()
  })
  app.setErrorHandler(errorHandler(currentKey))
  const routeMethods = trackRouteMethods(app)
  jsonBodyParser(app)
  await registerCors(app, config.cors.origins, config.cors.maxAgeSeconds)
  await registerRateLimit(app, {
    limits: config.rateLimit,
    redis,
    onStoreFailure: (error) => app.log.warn({ code: (error as { code?: string }).code, err: error.message }, 'rate-limit store failed'),
    onLimited: (request) => request.log.info({ client: request.clientName ?? request.ip }, 'rate limited')
  })
  notFoundRoutes(app, routeMethods, app.rateLimit())
  healthRoutes(app, readiness)
  const guards = [clientTokenGuard(config.clientTokens, config.requireClientToken), originGuard(config.cors.origins)]
    .filter((guard): guard is onRequestHookHandler => guard !== undefined)
  sessionRoutes(app, {
    upstream,
    currentKey,
    guards,
    allowedSerialNumbers: config.allowedSerialNumbers,
    defaultSerialNumber: config.defaultSerialNumber
  })

  await app.ready()
  return app
}
