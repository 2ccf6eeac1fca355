// Records every request in the metrics (route pattern, method, status, duration). The
// exposition is served by the metrics server on its own port (telemetry/metrics-server.ts),
// never on the public one.
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import type { Metrics } from '../../telemetry/metrics.ts'

/** Registers the hooks on `app` itself; call it before any route is added. */
export function registerMetrics (app: FastifyInstance, metrics: Metrics): void {
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
}
