// Liveness and readiness for orchestrators and load balancers.
import type { FastifyInstance } from 'fastify'
import type { Readiness } from '../readiness.ts'

const HEALTHY = JSON.stringify({ status: 'ok' })

export function healthRoutes (app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', async (_request, reply) => {
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return HEALTHY
  })

  app.get('/readyz', async (_request, reply) => {
    const { ready, checks } = readiness.report()
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return JSON.stringify({ status: ready ? 'ready' : 'not ready', checks })
  })
}
