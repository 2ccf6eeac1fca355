// Records every request in the metrics (route pattern, method, status, duration) and,
// unless METRICS_PORT moves it to its own server, serves GET /metrics on the main port.
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import type { Metrics } from '../../telemetry/metrics.ts'

export interface MetricsPluginOptions {
  /** Serve GET /metrics on this app (false when METRICS_PORT is set). */
  exposeRoute: boolean
  /** Route config for GET /metrics, e.g. `{ rateLimit: false }` to exempt it from plugins. */
  routeConfig?: FastifyContextConfig
}

export const METRICS_SCHEMA = {
  operationId: 'getMetrics',
  tags: ['ops'],
  summary: 'Prometheus metrics (text format); served here unless METRICS_PORT is set',
  response: {
    200: {
      description: 'The metrics in Prometheus text exposition format 0.0.4.',
      content: { 'text/plain': { schema: { type: 'string' } } }
    }
  }
} as const

/** Registers the hook and route on `app` itself; call it before any route is added. */
export function registerMetrics (app: FastifyInstance, metrics: Metrics, options: MetricsPluginOptions): void {
  // Each route records through its own hook, which holds its pattern's recorder:
  // reading request.routeOptions builds a fresh object on every request.
  app.addHook('onRoute', (route) => {
    metrics.allowRoute(route.url)
    const recordRequest = metrics.requestRecorder(route.url)
    const record: onResponseHookHandler = (request: FastifyRequest, reply: FastifyReply, done) => {
      recordRequest(request.method, reply.statusCode, reply.elapsedTime)
      done()
    }
    route.onResponse = [route.onResponse ?? []].flat().concat(record)
  })
  // The not-found handler is no route: its answers are recorded as not_found.
  const recordUnrouted = metrics.requestRecorder(undefined)
  const recordNotFound: onResponseHookHandler = (request: FastifyRequest, reply: FastifyReply, done) => {
    if (request.is404) recordUnrouted(request.method, reply.statusCode, reply.elapsedTime)
    done()
  }
  app.addHook('onResponse', recordNotFound)

  if (!options.exposeRoute) return
  app.get('/metrics', { schema: METRICS_SCHEMA, config: options.routeConfig }, async (_request, reply) => {
    const body = await metrics.render()
    reply.header('cache-control', 'no-store').type(metrics.contentType)
    return body
  })
}
