// One log line per request instead of Fastify's two: the completion line carries the
// request (method, url, client address), the status, the response time and, for a
// created session, its id and attempt count. Half the log volume, with nothing lost.
import { LogController } from 'fastify'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CreatedSession } from './upstream/session-service.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by POST /sessions once the upstream created a session (not on a replay). */
    createdSession: CreatedSession | null
  }
}

export class RequestLog extends LogController {
  constructor () {
    super({ requestIdLogLabel: 'requestId' })
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // request.log, not reply.log: a client token's guard names the client on request.log.
    if (error) {
      request.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    } else {
      // A created session's id and attempt count ride on this line instead of a line of their own.
      const session = request.createdSession
      request.log.info({
        req: request,
        res: reply,
        responseTime: reply.elapsedTime,
        sessionId: session?.sessionId,
        attempts: session?.attempts
      }, 'request completed')
    }
  }
}
