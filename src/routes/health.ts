// Liveness and readiness for orchestrators and load balancers.
import type { FastifyInstance } from 'fastify'
import type { Readiness } from '../http/readiness.ts'

// Orchestrators must see health and readiness even while requests are being shed.
const EXEMPT = { shed: false }

const HEALTHY = JSON.stringify({ status: 'ok' })

// The bodies are pre-built strings: these schemas document and never serialize.
const NO_STORE = { 'Cache-Control': { type: 'string', enum: ['no-store'], required: true, description: 'Always fresh.' } } as const

const CHECK_STATE = { enum: ['ok', 'failing'] } as const

const readinessBody = (status: string) => ({
  type: 'object',
  additionalProperties: false,
  required: ['status', 'checks'],
  properties: {
    status: { const: status },
    checks: {
      type: 'object',
      description: 'Each check by name: `shutdown` always, `redis` with `REDIS_URL`.',
      required: ['shutdown'],
      properties: { shutdown: CHECK_STATE },
      additionalProperties: CHECK_STATE
    }
  }
})

const HEALTH_SCHEMA = {
  operationId: 'getHealth',
  tags: ['ops'],
  summary: 'Liveness: 200 while the process is up',
  description: 'For liveness probes. Never shed, never rate limited, and it checks nothing beyond the process itself, so a failing dependency never gets a healthy process restarted.',
  // Open to every caller: orchestrators hold no client token.
  security: [],
  response: {
    200: {
      description: 'The process is up.',
      headers: NO_STORE,
      content: {
        'application/json': {
          schema: { type: 'object', additionalProperties: false, required: ['status'], properties: { status: { const: 'ok' } } }
        }
      }
    }
  }
} as const

const READINESS_SCHEMA = {
  operationId: 'getReadiness',
  tags: ['ops'],
  summary: 'Readiness: 200 while this instance should receive traffic',
  description: 'For readiness probes and load balancers: 503 from the moment shutdown begins (so traffic drains before the listener closes) and while a required dependency is unreachable: Redis, when configured with RATE_LIMIT_ON_STORE_ERROR=closed. With open (the default) an unreachable Redis is reported as failing in a 200 answer, since every replica serves without it. Never shed, never rate limited.',
  security: [],
  response: {
    200: { description: 'Serving.', headers: NO_STORE, content: { 'application/json': { schema: readinessBody('ready') } } },
    503: { description: 'Shutting down, or a required dependency is failing.', headers: NO_STORE, content: { 'application/json': { schema: readinessBody('not ready') } } }
  }
} as const

export function healthRoutes (app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', { schema: HEALTH_SCHEMA, config: EXEMPT }, async (_request, reply) => {
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return HEALTHY
  })

  app.get('/readyz', { schema: READINESS_SCHEMA, config: EXEMPT }, async (_request, reply) => {
    const { ready, checks } = readiness.report()
    reply.code(ready ? 200 : 503).header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return JSON.stringify({ status: ready ? 'ready' : 'not ready', checks })
  })
}
