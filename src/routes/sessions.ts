// POST /sessions: the checks run in the contract's order — client or visitor token, origin,
// rate limit, bot check (all before the body is read), body validation, chatbot allow-list,
// the visitor's daily quota — then a
// session is created upstream with the server's key and answered 201 with its id and a
// session token bound to the caller, which authorises messages to it.
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, preParsingHookHandler } from 'fastify'
import { refuseInvalidToken } from '../guards/client-token.ts'
import type { CancelSignal } from '../lib/cancel.ts'
import { watchClient } from '../http/client-gone.ts'
import { ERRORS, ProblemError } from '../http/errors.ts'
import type { ErrorCode } from '../http/errors.ts'
import { SERIAL_NUMBER_PATTERN } from '../config/patterns.ts'
import { problemResponses, QUOTA_HEADERS, RATE_LIMIT_HEADERS, RETRY_AFTER } from '../http/problem-schema.ts'
import type { HeaderDoc } from '../http/problem-schema.ts'
import { REPLAYED_HEADER } from '../idempotency/coordinator.ts'
import type { Idempotency } from '../idempotency/coordinator.ts'
import { IDEMPOTENCY_KEY_PATTERN, MIN_ANONYMOUS_KEY_CHARS, scopeOf } from '../idempotency/key.ts'
import type { CreatedSession, SessionService } from '../upstream/session-service.ts'
import { refusedOrNeverSent } from '../upstream/upstream-error.ts'
import { bindingOf, MAX_TOKEN_CHARS } from '../tokens/session-tokens.ts'
import type { SessionTokens } from '../tokens/session-tokens.ts'
import { identityOf } from '../guards/identity.ts'
import { quotaHeaders } from '../quotas/quotas.ts'
import type { Quotas } from '../quotas/quotas.ts'

function bodySchema (serialNumberRequired: boolean) {
  return {
    type: 'object',
    description: serialNumberRequired
      ? 'The chatbot to open a session with. (A deployment with `DEFAULT_SERIAL_NUMBER` also accepts `{}` or no body at all.)'
      : 'The chatbot to open a session with; `{}` or no body at all uses this deployment\'s default chatbot.',
    additionalProperties: false,
    required: serialNumberRequired ? ['serialNumber'] : [],
    properties: {
      serialNumber: { type: 'string', pattern: SERIAL_NUMBER_PATTERN, description: 'The hottask chatbot id.' }
    },
    examples: [{ serialNumber: '3254a9d0424c4806b9ea3d0763ccf123' }]
  } as const
}

/** Every code but the router's own: /sessions exists and takes POST. */
const SESSION_ERRORS = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => code !== 'NOT_FOUND' && code !== 'METHOD_NOT_ALLOWED')

const REPLAYED: HeaderDoc = { type: 'string', enum: ['true'], description: 'Present when the answer replays an earlier request with the same Idempotency-Key.' }

// The 201 body is sent as a pre-built string (exact digits), so this schema documents
// and never serializes.
const SESSION_CREATED = {
  description: 'The session was created.',
  headers: {
    'Cache-Control': { type: 'string', enum: ['no-store'], required: true, description: 'Session ids are never cached.' },
    'Idempotent-Replayed': REPLAYED,
    ...RATE_LIMIT_HEADERS,
    ...QUOTA_HEADERS
  },
  content: {
    'application/json': {
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['sessionId', 'sessionToken'],
        properties: {
          sessionId: {
            type: 'integer',
            minimum: 1,
            description: 'The upstream\'s session id with its exact digits, possibly beyond 2^53-1: parse it with a big-integer-aware parser if your ids can grow that large.'
          },
          sessionToken: {
            type: 'string',
            pattern: `^[A-Za-z0-9._~-]{1,${MAX_TOKEN_CHARS}}$`,
            description: 'Opaque. Send it as the Session-Token header of POST /sessions/{sessionId}/messages. It is bound to this session, its chatbot, the caller (the client token\'s name, else the visitor token\'s subject, else the request\'s Origin, else no one) and expires after SESSION_TOKEN_TTL_MS.'
          }
        }
      }
    }
  }
} as const

function errorHeaders (status: number): Record<string, HeaderDoc> {
  // 401 is answered before the rate limit is consulted; 429 and 503 always say when to retry.
  if (status === 401) return { 'WWW-Authenticate': { type: 'string', required: true, description: '`Bearer`, with `error="invalid_token"` for an unknown client token or an invalid visitor token.' } } as const
  if (status === 429) return { 'Retry-After': RETRY_AFTER, 'Idempotent-Replayed': REPLAYED, ...RATE_LIMIT_HEADERS, ...QUOTA_HEADERS }
  if (status === 503) return { 'Retry-After': RETRY_AFTER, 'Idempotent-Replayed': REPLAYED, ...RATE_LIMIT_HEADERS }
  return { 'Idempotent-Replayed': REPLAYED, ...RATE_LIMIT_HEADERS }
}

const SESSION_DOC = {
  operationId: 'createSession',
  tags: ['sessions'],
  summary: 'Create a hottask chat session',
  description: 'Checks, in order: client or visitor token, origin, rate limit, bot check (BOT_CHECK, skipped for client and visitor tokens), body, chatbot allow-list, the visitor\'s daily session quota; then creates the session upstream with the server\'s key (a session the upstream refuses does not spend the quota).',
  // Anonymous callers are allowed unless the deployment sets REQUIRE_CLIENT_TOKEN.
  security: [{}, { clientToken: [] }, { visitorToken: [] }]
} as const

interface SessionBody { serialNumber?: string }
interface SessionHeaders { 'idempotency-key'?: string }

const headersSchema = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      pattern: IDEMPOTENCY_KEY_PATTERN,
      description: 'Makes the request safe to repeat: the same key (per client) for the same chatbot replays the first answer without a new session, within IDEMPOTENCY_TTL_MS. Another chatbot with the same key: 422. Use a random value (a UUID): anonymous callers need at least 16 characters.'
    }
  }
} as const

export interface SessionRouteOptions {
  sessions: SessionService
  idempotency: Idempotency
  /** How long a duplicate may wait for another replica's call. */
  deadlineMs: number
  /** Client token and origin checks, in that order. */
  guards: onRequestHookHandler[]
  allowedSerialNumbers: string[] | undefined
  defaultSerialNumber: string | undefined
  tokens: SessionTokens
  /** Daily quotas per visitor; undefined: none configured. */
  quotas: Quotas | undefined
  /** The bot check (after the rate limit, before the body); undefined: BOT_CHECK=off. */
  botCheck: preParsingHookHandler | undefined
}

export function sessionRoutes (app: FastifyInstance, options: SessionRouteOptions): void {
  const { sessions, idempotency, deadlineMs, defaultSerialNumber, tokens, quotas } = options
  const allowed = options.allowedSerialNumbers === undefined ? undefined : new Set(options.allowedSerialNumbers)

  const ask = (request: FastifyRequest, serialNumber: string, signal: CancelSignal): Promise<CreatedSession> =>
    sessions.createSession({ serialNumber, requestId: request.id, clientSignal: signal, log: request.log })

  /** The 201 body for a created session (the request's outcome from now on), with its session token. */
  function answerFor (request: FastifyRequest, serialNumber: string, created: CreatedSession): string {
    request.outcome = created
    const sessionToken = tokens.issue({
      sessionId: created.sessionId,
      serialNumber,
      binding: bindingOf({ clientName: request.clientName, visitorId: request.visitorId, origin: request.headers.origin })
    })
    // The id's exact digits go out as a JSON number, even beyond 2^53-1.
    return `{"sessionId":${created.sessionId},"sessionToken":"${sessionToken}"}`
  }

  /**
   * With daily quotas: spent for a session the upstream may have created; its refusal, or
   * no call at all, gives it back, while a timeout or a client that left after sending does not.
   */
  async function createWithQuota (request: FastifyRequest, reply: FastifyReply, serialNumber: string, signal: CancelSignal): Promise<string> {
    const spent = await (quotas as Quotas).spend('sessions', identityOf(request))
    let created
    try {
      created = await ask(request, serialNumber, signal)
    } catch (error) {
      if (refusedOrNeverSent(error)) await spent?.refund()
      throw error
    }
    // No quota applied (none for sessions, or its store failed under `open`): no headers.
    if (spent !== undefined) reply.headers(quotaHeaders(spent.state))
    return answerFor(request, serialNumber, created)
  }

  // With a default chatbot, a POST without any body stands for `{}`.
  const useDefaultForNoBody = defaultSerialNumber === undefined
    ? undefined
    : async (request: FastifyRequest) => { if (request.body === undefined) request.body = {} }

  app.post<{ Body: SessionBody, Headers: SessionHeaders }>('/sessions', {
    // A copy: the rate-limit plugin pushes its hook into the route's array.
    onRequest: [...options.guards],
    preParsing: options.botCheck === undefined ? refuseInvalidToken : [refuseInvalidToken, options.botCheck],
    preValidation: useDefaultForNoBody,
    config: { rateLimit: {} },
    schema: {
      ...SESSION_DOC,
      body: bodySchema(defaultSerialNumber === undefined),
      headers: headersSchema,
      response: { 201: SESSION_CREATED, ...problemResponses(SESSION_ERRORS, errorHeaders) }
    }
  }, async (request, reply) => {
    const serialNumber = request.body.serialNumber ?? defaultSerialNumber as string
    if (allowed !== undefined && !allowed.has(serialNumber)) throw new ProblemError('SERIAL_NUMBER_NOT_ALLOWED')

    const client = watchClient(reply)
    const key = request.headers['idempotency-key']
    let body: string
    try {
      if (key === undefined) {
        // The usual request awaits the service itself: no frame of its own waits on the upstream.
        body = quotas === undefined
          ? answerFor(request, serialNumber, await ask(request, serialNumber, client.signal))
          : await createWithQuota(request, reply, serialNumber, client.signal)
      } else {
        if (request.clientName === null && key.length < MIN_ANONYMOUS_KEY_CHARS) {
          throw new ProblemError('VALIDATION_FAILED', `An anonymous Idempotency-Key must have at least ${MIN_ANONYMOUS_KEY_CHARS} characters: use a random one, such as a UUID.`)
        }
        const scope = scopeOf(request, request.ip, request.headers.origin, request.headers['user-agent'])
        // The body, built once: a replay answers the same session with the same token.
        const call = quotas === undefined
          ? async (signal: CancelSignal) => answerFor(request, serialNumber, await ask(request, serialNumber, signal))
          : async (signal: CancelSignal) => await createWithQuota(request, reply, serialNumber, signal)
        const answer = await idempotency.run({
          scope, key, fingerprint: `chatbot:${serialNumber}`, clientSignal: client.signal, deadlineAt: Date.now() + deadlineMs, call
        })
        body = answer.body
        if (answer.replayed) reply.header(REPLAYED_HEADER, 'true')
      }
    } finally {
      client.release()
    }
    reply.code(201).header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return body
  })
}
