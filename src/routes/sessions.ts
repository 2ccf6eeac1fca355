// POST /sessions: validate the body, create a session upstream with the server's key,
// answer 201 with the session id. Every failure is thrown to the error handler.
import type { FastifyInstance } from 'fastify'
import { watchClient } from '../client-gone.ts'
import type { UpstreamClient } from '../upstream/client.ts'

export const SERIAL_NUMBER_PATTERN = '^[A-Za-z0-9_-]{1,128}$'

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['serialNumber'],
  properties: {
    serialNumber: { type: 'string', pattern: SERIAL_NUMBER_PATTERN }
  }
} as const

interface SessionBody { serialNumber: string }

export interface SessionRouteOptions {
  upstream: UpstreamClient
  currentKey: () => string
}

export function sessionRoutes (app: FastifyInstance, { upstream, currentKey }: SessionRouteOptions): void {
  app.post<{ Body: SessionBody }>('/sessions', { schema: { body: bodySchema } }, async (request, reply) => {
    const client = watchClient(reply)
    let sessionId: string
    try {
      sessionId = await upstream.createSession({
        serialNumber: request.body.serialNumber,
        requestId: request.id,
        key: currentKey(),
        signal: client.signal
      })
    } finally {
      client.release()
    }
    request.log.info({ sessionId }, 'session created')
    // The id's exact digits go out as a JSON number, even beyond 2^53-1.
    reply.code(201).header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return `{"sessionId":${sessionId}}`
  })
}
