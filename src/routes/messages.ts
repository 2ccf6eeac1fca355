// POST /sessions/{sessionId}/messages: the checks run in the contract's order — client
// token, origin, the path's format, the session token, the per-session message limit (all
// before the body is read), body validation — then the message goes upstream with the
// server's key. A whole answer is 200 JSON; a streamed one is relayed as it comes.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, onRequestHookHandler } from 'fastify'
import { checkSessionPath, SESSION_ID_PATTERN, sessionTokenGuard } from '../guards/session-token.ts'
import { watchClient } from '../http/client-gone.ts'
import { ERRORS, ProblemError } from '../http/errors.ts'
import type { ErrorCode } from '../http/errors.ts'
import { problemResponses, QUOTA_HEADERS, RATE_LIMIT_HEADERS, RETRY_AFTER } from '../http/problem-schema.ts'
import type { HeaderDoc } from '../http/problem-schema.ts'
import { PENDING_MARGIN_MS, REPLAYED_HEADER } from '../idempotency/coordinator.ts'
import type { Idempotency } from '../idempotency/coordinator.ts'
import { IDEMPOTENCY_KEY_PATTERN, MIN_ANONYMOUS_KEY_CHARS, scopeOf } from '../idempotency/key.ts'
import type { CancelSignal } from '../lib/cancel.ts'
import type { MessageOutcome } from '../telemetry/events.ts'
import type { SessionTokens } from '../tokens/session-tokens.ts'
import type { ChatAnswer } from '../upstream/envelope.ts'
import type { MessageService } from '../upstream/message-service.ts'
import { StreamCut } from '../upstream/relay.ts'
import type { RelayStream } from '../upstream/relay.ts'
import type { OutgoingHttpHeaders } from 'node:http'
import { identityOf } from '../guards/identity.ts'
import { quotaHeaders } from '../quotas/quotas.ts'
import type { Quotas, QuotaState } from '../quotas/quotas.ts'
import { neverSent } from '../upstream/upstream-error.ts'
import type { MessageResult } from '../upstream/message-service.ts'

/** Every code but the router's own and those of session creation alone (the bot check guards sessions only). */
const MESSAGE_ERRORS = (Object.keys(ERRORS) as ErrorCode[]).filter((code) =>
  !['NOT_FOUND', 'METHOD_NOT_ALLOWED', 'SERIAL_NUMBER_NOT_ALLOWED', 'CHATBOT_NOT_FOUND', 'BOT_CHECK_REQUIRED', 'BOT_CHECK_FAILED', 'BOT_CHECK_UNAVAILABLE'].includes(code))

const REPLAYED: HeaderDoc = { type: 'string', enum: ['true'], description: 'Present when the answer replays an earlier request with the same Idempotency-Key.' }
const NO_STORE: HeaderDoc = { type: 'string', enum: ['no-store'], required: true, description: 'Answers are never cached.' }

const ANSWERED = {
  description: 'The chatbot\'s whole reply (`stream` absent or false, or the upstream chose not to stream); or, with `"stream": true`, the upstream\'s streamed bytes as they come (secrets replaced). A stream that fails after this status is cut off: the connection is closed without a clean end.',
  headers: {
    'Cache-Control': NO_STORE,
    'Idempotent-Replayed': REPLAYED,
    'X-Accel-Buffering': { type: 'string', enum: ['no'], description: 'On a relayed stream: proxies in front must not buffer it.' },
    ...RATE_LIMIT_HEADERS,
    ...QUOTA_HEADERS
  },
  content: {
    'application/json': {
      schema: {
        type: 'object',
        additionalProperties: false,
        required: ['messageId', 'content'],
        properties: {
          messageId: { type: 'integer', minimum: 1, description: 'The upstream\'s message id with its exact digits, possibly beyond 2^53-1.' },
          content: { type: 'string', description: 'The chatbot\'s reply.' },
          totalTokens: { type: 'integer', minimum: 0, description: 'Tokens the upstream counted for this exchange, when it says.' }
        }
      }
    },
    'text/event-stream': { schema: { type: 'string', description: 'The upstream\'s stream, relayed byte for byte (its format is the upstream\'s).' } },
    'application/x-ndjson': { schema: { type: 'string' } },
    'text/plain': { schema: { type: 'string' } },
    'application/octet-stream': { schema: { type: 'string', description: 'A stream whose type is none of the above.' } }
  }
} as const

function errorHeaders (status: number): Record<string, HeaderDoc> {
  if (status === 401) return {}
  if (status === 429) return { 'Retry-After': RETRY_AFTER, 'Idempotent-Replayed': REPLAYED, ...RATE_LIMIT_HEADERS, ...QUOTA_HEADERS }
  if (status === 503) return { 'Retry-After': RETRY_AFTER, 'Idempotent-Replayed': REPLAYED, ...RATE_LIMIT_HEADERS }
  return { 'Idempotent-Replayed': REPLAYED, ...RATE_LIMIT_HEADERS }
}

interface MessageBody { content: string, stream?: boolean }
interface MessageHeaders { 'idempotency-key'?: string, 'session-token'?: string }
interface MessageParams { sessionId: string }

export interface MessageRouteOptions {
  messages: MessageService
  idempotency: Idempotency
  tokens: SessionTokens
  /** Client token and origin checks, in that order. */
  guards: onRequestHookHandler[]
  maxChars: number
  bodyLimitBytes: number
  rateLimitMax: number
  /** How long a duplicate may wait for another replica's call. */
  deadlineMs: number
  onMessage: (outcome: MessageOutcome) => void
  /** Daily quotas per visitor; undefined: none configured. */
  quotas: Quotas | undefined
}

/** Not only whitespace (any Unicode white space). */
const HAS_TEXT = /\S/u

const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g

/** Characters as Unicode code points: an emoji is one. (The body limit bounds the text.) */
const codePoints = (text: string): number => text.length - (text.match(SURROGATE_PAIR)?.length ?? 0)

/**
 * Writes a relayed stream to the client as it comes (the response is taken over from
 * Fastify: its headers, the ones the hooks set included, are written here). A stream that
 * ends early cuts the response off: the socket is destroyed, so the client sees a
 * truncated response, never a clean end. Fastify logs and counts a response once it
 * finishes or fails, so a cut is reported as its failure, and the completion line says why.
 */
function relayTo (reply: FastifyReply, body: RelayStream, contentType: string): void {
  const response = reply.raw
  reply.hijack()
  body.onEnd((end) => {
    reply.request.outcome = { ...reply.request.outcome, streamEnd: end }
    if (end === 'completed') return
    // First the pipe's own error listener goes: it would throw a cut that nobody else hears.
    body.unpipe(response)
    response.destroy()
    if (response.listenerCount('error') > 0) response.emit('error', new StreamCut(end))
  })
  // How it failed is told by onEnd; the error event itself needs a listener.
  body.on('error', () => {})
  // The client leaving ends the stream, which aborts the upstream request.
  response.once('close', () => { if (!response.writableFinished) body.destroy() })
  if (response.destroyed) {
    body.destroy()
    return
  }
  response.writeHead(200, { ...reply.getHeaders() as OutgoingHttpHeaders, 'content-type': contentType, 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
  // The headers go out now, before the first chunk: the client knows the stream has begun.
  response.flushHeaders()
  body.pipe(response)
}

const answerBody = (answer: ChatAnswer): string =>
  `{"messageId":${answer.messageId},"content":${JSON.stringify(answer.content)}` +
  (answer.totalTokens === undefined ? '}' : `,"totalTokens":${answer.totalTokens}}`)

export function messageRoutes (app: FastifyInstance, options: MessageRouteOptions): void {
  const { messages, idempotency, tokens, maxChars, onMessage, quotas } = options

  /**
   * One message upstream, spending the visitor's quota first: a message refused before it
   * reaches the upstream (overload, an open circuit, no connection made) gives it back. A whole
   * answer's tokens are then counted; the X-Quota-* headers tell what is left.
   */
  async function spendAndSend (identity: string, send: () => Promise<MessageResult>, reply: FastifyReply): Promise<MessageResult> {
    const spent = await quotas?.spend('messages', identity)
    let result: MessageResult
    try {
      result = await send()
    } catch (error) {
      // Only a message that provably never left is given back: one whose client hung up may
      // have been sent, and a refund then would let a caller spend credits without quota.
      if (neverSent(error)) await spent?.refund()
      throw error
    }
    let state: QuotaState | undefined = spent?.state
    if (result.kind === 'answer' && result.answer.totalTokens !== undefined && quotas?.has('tokens') === true) {
      const tokens = await quotas.addTokens(identity, result.answer.totalTokens)
      // With a tokens quota alone, its state after this answer is the one to tell.
      if (state?.kind === 'tokens' && tokens !== undefined) state = tokens
    }
    if (state !== undefined) reply.headers(quotaHeaders(state))
    return result
  }

  app.post<{ Params: MessageParams, Body: MessageBody, Headers: MessageHeaders }>('/sessions/:sessionId/messages', {
    // Its own array: the rate-limit plugin pushes the per-session limit after these.
    onRequest: [...options.guards, checkSessionPath, sessionTokenGuard(tokens)],
    bodyLimit: options.bodyLimitBytes,
    config: {
      rateLimit: {
        max: options.rateLimitMax,
        keyGenerator: (request) => `session:${(request.params as MessageParams).sessionId}`
      }
    },
    schema: {
      operationId: 'sendMessage',
      tags: ['sessions'],
      summary: 'Send a message to a session and receive the chatbot\'s reply, whole or streamed',
      description: 'Checks, in order: client token, origin, the path, the Session-Token, the per-session message limit (MESSAGE_RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS), the body; then relays the message upstream with the server\'s key. A message is never sent twice.',
      security: [{}, { clientToken: [] }, { visitorToken: [] }],
      params: {
        type: 'object',
        required: ['sessionId'],
        properties: { sessionId: { type: 'string', pattern: SESSION_ID_PATTERN, description: 'The sessionId that POST /sessions returned.' } }
      },
      headers: {
        type: 'object',
        required: ['session-token'],
        properties: {
          'session-token': { type: 'string', description: 'The sessionToken that POST /sessions returned with this session.' },
          'idempotency-key': {
            type: 'string',
            pattern: IDEMPOTENCY_KEY_PATTERN,
            description: 'Whole answers only (refused with "stream": true): the same key (per client and session) with the same content replays the first answer without sending the message again. Other content with the same key: 422.'
          }
        }
      },
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['content'],
        properties: {
          content: { type: 'string', minLength: 1, description: `The user's message: 1 to MESSAGE_MAX_CHARS (${maxChars} here) characters, not only white space.` },
          stream: { type: 'boolean', description: 'Relay the reply as the upstream streams it (default false).' }
        },
        examples: [{ content: 'Hello!', stream: true }]
      },
      response: { 200: ANSWERED, ...problemResponses(MESSAGE_ERRORS, errorHeaders) }
    }
  }, async (request, reply) => {
    const { content } = request.body
    const stream = request.body.stream === true
    // Code points, not UTF-16 units: an emoji is one character.
    if (codePoints(content) > maxChars) throw new ProblemError('VALIDATION_FAILED', `content must have at most ${maxChars} characters.`)
    if (!HAS_TEXT.test(content)) throw new ProblemError('VALIDATION_FAILED', 'content must not be only white space.')
    const key = request.headers['idempotency-key']
    if (key !== undefined && stream) throw new ProblemError('VALIDATION_FAILED', 'Idempotency-Key works for whole answers only: send it without "stream": true.')
    if (key !== undefined && request.clientName === null && key.length < MIN_ANONYMOUS_KEY_CHARS) {
      throw new ProblemError('VALIDATION_FAILED', `An anonymous Idempotency-Key must have at least ${MIN_ANONYMOUS_KEY_CHARS} characters: use a random one, such as a UUID.`)
    }
    const { sessionId } = request.params
    const serialNumber = request.sessionChatbot as string
    const client = watchClient(reply)
    try {
      const ask = (signal: CancelSignal) => () => messages.send({ sessionId, serialNumber, content, stream, requestId: request.id, clientSignal: signal, log: request.log })
      const send = quotas === undefined
        ? async (signal: CancelSignal) => await ask(signal)()
        : async (signal: CancelSignal) => await spendAndSend(identityOf(request), ask(signal), reply)
      if (stream) {
        const result = await send(client.signal)
        request.outcome = { attempts: result.attempts }
        if (result.kind === 'stream') {
          onMessage('streamed')
          relayTo(reply, result.body, result.contentType)
          return reply
        }
        onMessage('answered')
        reply.code(200).header('cache-control', 'no-store').type('application/json; charset=utf-8')
        return answerBody(result.answer)
      }
      const whole = async (signal: CancelSignal): Promise<string> => {
        const result = await send(signal)
        request.outcome = { attempts: result.attempts }
        // Without `stream` the upstream's answer is always read whole.
        return answerBody((result as Extract<typeof result, { kind: 'answer' }>).answer)
      }
      let body: string
      if (key === undefined) {
        body = await whole(client.signal)
      } else {
        const scope = `${scopeOf(request, request.ip, request.headers.origin, request.headers['user-agent'])}/session:${sessionId}`
        const answer = await idempotency.run({
          scope,
          key,
          fingerprint: `message:${createHash('sha256').update(content).digest('base64url')}`,
          clientSignal: client.signal,
          deadlineAt: Date.now() + options.deadlineMs,
          // A reply may take the whole message deadline: the marker must outlive it, or a
          // duplicate on another replica would claim the key and send the message again.
          pendingTtlMs: options.deadlineMs + PENDING_MARGIN_MS,
          call: whole
        })
        body = answer.body
        if (answer.replayed) reply.header(REPLAYED_HEADER, 'true')
      }
      onMessage('answered')
      reply.code(200).header('cache-control', 'no-store').type('application/json; charset=utf-8')
      return body
    } catch (error) {
      onMessage(error instanceof ProblemError ? error.code : (error as { code?: string }).code === 'CLIENT_GONE' ? 'client_gone' : 'INTERNAL_ERROR')
      throw error
    } finally {
      client.release()
    }
  })
}
