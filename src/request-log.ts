// One log line per request instead of Fastify's two (or four, for a refusal): the
// completion line carries the request (method, url, client address), the status, the
// response time and the outcome — a created session's id and attempt count, or a
// refusal's code and detail. Lines of their own are kept for what operators must act
// on: upstream failures and internal errors.
import { LogController } from 'fastify'
import type { FastifyReply, FastifyRequest } from 'fastify'

/** What a request ended with, for its completion line; set by whoever knows. */
export interface RequestOutcome {
  /** POST /sessions: the session the upstream created (not on a replay), and the attempts it took. */
  sessionId?: string
  attempts?: number
  /** A refusal (4xx): its contract code and detail. */
  code?: string
  detail?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    outcome: RequestOutcome | null
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
      const outcome = request.outcome
      request.log.info({
        req: request,
        res: reply,
        responseTime: reply.elapsedTime,
        sessionId: outcome?.sessionId,
        attempts: outcome?.attempts,
        code: outcome?.code,
        detail: outcome?.detail
      }, 'request completed')
    }
  }
}
