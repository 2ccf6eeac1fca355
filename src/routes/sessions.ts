// POST /sessions: the checks run in the contract's order — client token, origin, rate
// limit (all before the body is read), body validation, chatbot allow-list — then a
// session is created upstream with the server's key and answered 201.
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify'
import { watchClient } from '../client-gone.ts'
import { ProblemError } from '../errors.ts'
import type { UpstreamClient } from '../upstream/client.ts'

export const SERIAL_NUMBER_PATTERN = '^[A-Za-z0-9_-]{1,128}$'

function bodySchema (serialNumberRequired: boolean) {
  return {
    type: 'object',
    additionalProperties: false,
    required: serialNumberRequired ? ['serialNumber'] : [],
    properties: {
      serialNumber: { type: 'string', pattern: SERIAL_NUMBER_PATTERN }
    }
  } as const
}

interface SessionBody { serialNumber?: string }

export interface SessionRouteOptions {
  upstream: UpstreamClient
  currentKey: () => string
  /** Client token and origin checks, in that order. */
  guards: onRequestHookHandler[]
  allowedSerialNumbers: string[] | undefined
  defaultSerialNumber: string | undefined
}

export function sessionRoutes (app: FastifyInstance, options: SessionRouteOptions): void {
  const { upstream, currentKey, defaultSerialNumber } = options
  const allowed = options.allowedSerialNumbers === undefined ? undefined : new Set(options.allowedSerialNumbers)

  // With a default chatbot, a POST without any body stands for `{}`.
  const useDefaultForNoBody = defaultSerialNumber === undefined
    ? undefined
    : async (request: FastifyRequest) => { if (request.body === undefined) request.body = {} }

  app.post<{ Body: SessionBody }>('/sessions', {
    onRequest: options.guards,
    preValidation: useDefaultForNoBody,
    config: { rateLimit: {} },
    schema: { body: bodySchema(defaultSerialNumber === undefined) }
  }, async (request, reply) => {
    const serialNumber = request.body.serialNumber ?? defaultSerialNumber as string
    if (allowed !== undefined && !allowed.has(serialNumber)) throw new ProblemError('SERIAL_NUMBER_NOT_ALLOWED')

    const client = watchClient(reply)
    let sessionId: string
    try {
      sessionId = await upstream.createSession({ serialNumber, requestId: request.id, key: currentKey(), signal: client.signal })
    } finally {
      client.release()
    }
    request.log.info({ sessionId }, 'session created')
    // The id's exact digits go out as a JSON number, even beyond 2^53-1.
    reply.code(201).header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return `{"sessionId":${sessionId}}`
  })
}
