// Builds the Fastify app from a typed Config and injected dependencies. Never listens:
// src/server.ts owns the process; tests build their own app.
import Fastify, { LogController } from 'fastify'
import type { FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Dispatcher } from 'undici'
import packageJson from '../package.json' with { type: 'json' }
import type { Config } from './config.ts'
import { errorHandler } from './error-handler.ts'
import { jsonBodyParser } from './json-body.ts'
import { loggerOptions } from './logger.ts'
import { Readiness } from './readiness.ts'
import { requestIdOf } from './request-id.ts'
import { healthRoutes } from './routes/health.ts'
import { notFoundRoutes } from './routes/not-found.ts'
import { sessionRoutes } from './routes/sessions.ts'
import { SecretScrubber } from './secrets.ts'
import { createUpstreamClient } from './upstream/client.ts'

export const VERSION: string = packageJson.version

export interface AppDeps {
  /** Where log lines go (default: stdout). */
  logStream?: DestinationStream
  /** An undici dispatcher for the upstream (default: a pool owned by the app). */
  dispatcher?: Dispatcher
  readiness?: Readiness
}

export async function buildApp (config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const scrubber = new SecretScrubber()
  scrubber.add(config.apiKey)
  const currentKey = (): string => config.apiKey
  const readiness = deps.readiness ?? new Readiness()

  const app = Fastify({
    logger: loggerOptions(config.logLevel, scrubber, deps.logStream),
    genReqId: requestIdOf,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: config.bodyLimitBytes,
    // Requests on connections still open during shutdown are served, not refused.
    return503OnClosing: false,
    // The contract's types are exact: no coercion, no silent removal, no defaults.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } }
  })

  const upstream = createUpstreamClient({
    baseUrl: config.baseUrl,
    timeoutMs: config.upstreamTimeoutMs,
    userAgent: `hottask-proxy/${VERSION}`,
    scrubber,
    dispatcher: deps.dispatcher
  })
  app.addHook('onClose', async () => { await upstream.close() })

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
  app.setErrorHandler(errorHandler(currentKey))
  notFoundRoutes(app)
  jsonBodyParser(app)
  healthRoutes(app, readiness)
  sessionRoutes(app, { upstream, currentKey })

  await app.ready()
  return app
}
