// One log line per request instead of Fastify's two (or four, for a refusal): the
// completion line carries the request (method, url, client address), the status, the
// response time and the outcome — a created session's id and attempt count, or a
// refusal's code and detail. Lines of their own are kept for what operators must act
// on: upstream failures and internal errors.
import { LogController } from 'fastify'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { completionLine } from './completion-line.ts'
import type { AppLogger } from './logger.ts'

/** The code of the error a cut message stream fails its response with. */
export const STREAM_CUT = 'STREAM_CUT'

/** What a request ended with, for its completion line; set by whoever knows. */
export interface RequestOutcome {
  /** POST /sessions: the session the upstream created (not on a replay), and the attempts it took. */
  sessionId?: string
  attempts?: number
  /** A refusal (4xx): its contract code and detail. */
  code?: string
  detail?: string
  /** A relayed message stream: how it ended (completed, client_gone, upstream_reset, idle, too_long). */
  streamEnd?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    outcome: RequestOutcome | null
  }
}

/** The ids of a request's span, when tracing is on. */
export type TraceIdsOf = (request: FastifyRequest) => { traceId: string, spanId: string } | undefined

export class RequestLog extends LogController {
  readonly #logger: AppLogger['logger']
  readonly #writeLine: AppLogger['writeLine']
  readonly #bindings: string
  readonly #traceIdsOf: TraceIdsOf | undefined

  constructor (log: AppLogger, traceIdsOf?: TraceIdsOf) {
    super({ requestIdLogLabel: 'requestId' })
    this.#logger = log.logger
    this.#writeLine = log.writeLine
    this.#bindings = log.bindings
    this.#traceIdsOf = traceIdsOf
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // A relayed stream that was cut is an outcome, not a failure of the proxy: its line says why (streamEnd).
    if (error && (error as { code?: unknown }).code !== STREAM_CUT) {
      request.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
      return
    }
    if (!this.#logger.isLevelEnabled('info')) return
    const outcome = request.outcome
    const trace = this.#traceIdsOf?.(request)
    this.#writeLine(completionLine({
      bindings: this.#bindings,
      time: Date.now(),
      requestId: request.id,
      client: request.clientName,
      visitor: request.visitorId,
      traceId: trace?.traceId,
      spanId: trace?.spanId,
      method: request.method,
      url: request.url,
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket.remotePort,
      statusCode: reply.statusCode,
      responseTime: reply.elapsedTime,
      sessionId: outcome?.sessionId,
      attempts: outcome?.attempts,
      code: outcome?.code,
      detail: outcome?.detail,
      streamEnd: outcome?.streamEnd
    }))
  }
}
