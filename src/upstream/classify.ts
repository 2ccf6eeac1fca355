// Every upstream outcome, classified: an HTTP answer becomes what the call asked for (a
// session id, a chatbot's reply) or an UpstreamError; a transport failure becomes an
// UpstreamError. Matching is on stable error codes (undici's and Node's), never on
// messages or classes.
import type { ErrorCode } from '../http/errors.ts'
import type { SecretScrubber } from '../lib/secrets.ts'
import { asEnvelope, chatAnswerOf, isConsistent, parseJson, sessionIdOf } from './envelope.ts'
import type { ChatAnswer, Envelope } from './envelope.ts'
import { safeMessage } from './message.ts'
import { parseRetryAfter } from './retry-after.ts'
import { UpstreamError } from './upstream-error.ts'

/** Envelope `Code` → contract code; any other non-200 Code is UPSTREAM_ERROR. */
const BY_ENVELOPE_CODE: Record<number, ErrorCode> = {
  400: 'UPSTREAM_REJECTED',
  422: 'UPSTREAM_REJECTED',
  401: 'UPSTREAM_AUTH_FAILED',
  403: 'UPSTREAM_AUTH_FAILED',
  429: 'UPSTREAM_RATE_LIMITED',
  408: 'UPSTREAM_TIMEOUT',
  504: 'UPSTREAM_TIMEOUT'
}

/** HTTP status without an envelope → contract code; any other non-2xx is UPSTREAM_ERROR. */
const BY_HTTP_STATUS: Record<number, ErrorCode> = {
  401: 'UPSTREAM_AUTH_FAILED',
  403: 'UPSTREAM_AUTH_FAILED',
  429: 'UPSTREAM_RATE_LIMITED',
  408: 'UPSTREAM_TIMEOUT',
  504: 'UPSTREAM_TIMEOUT'
}

/** The request never left: the connection was not established. */
const NOT_SENT = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'EPROTO'
])

const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export interface UpstreamAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The body text, or undefined when it was larger than the limit. */
  body: string | undefined
}

/**
 * The upstream's words are not ours to pass on: a caller gets the registry's detail only
 * (a key echoed encoded, or an internal address, would otherwise reach a browser). The
 * Message goes to the log, made safe and scrubbed.
 */
function fromEnvelope (envelope: Envelope, answer: UpstreamAnswer, scrubber: SecretScrubber, reading: Reading<unknown>): UpstreamError {
  const code = envelope.Code === 404 ? reading.notFound : BY_ENVELOPE_CODE[envelope.Code]
  return new UpstreamError(code ?? 'UPSTREAM_ERROR', {
    httpStatus: answer.status,
    retryAfter: parseRetryAfter(answer.headers['retry-after']),
    message: safeMessage(envelope.Message, scrubber)
  })
}

/** What one kind of call reads from a good envelope, and what a 404 means for it. */
interface Reading<T> {
  read: (envelope: Envelope) => T | undefined
  /** For envelope Code 404, and for HTTP 404 when `httpNotFound` is set. */
  notFound: ErrorCode
  httpNotFound: boolean
}

const SESSION_READING: Reading<string> = { read: sessionIdOf, notFound: 'CHATBOT_NOT_FOUND', httpNotFound: false }
const MESSAGE_READING: Reading<ChatAnswer> = { read: chatAnswerOf, notFound: 'SESSION_NOT_FOUND', httpNotFound: true }

export const isSuccessStatus = (status: number): boolean => status >= 200 && status < 300

function classify<T> (answer: UpstreamAnswer, scrubber: SecretScrubber, reading: Reading<T>): T {
  const json = answer.body === undefined ? undefined : parseJson(answer.body)
  const envelope = asEnvelope(json)

  if (isSuccessStatus(answer.status)) {
    if (envelope === undefined || !isConsistent(envelope)) {
      throw new UpstreamError('UPSTREAM_BAD_RESPONSE', { httpStatus: answer.status })
    }
    if (!envelope.Success) throw fromEnvelope(envelope, answer, scrubber, reading)
    const value = reading.read(envelope)
    if (value === undefined) throw new UpstreamError('UPSTREAM_BAD_RESPONSE', { httpStatus: answer.status })
    return value
  }

  // A non-2xx answer carrying a failure envelope is mapped by its Code, else by its status.
  if (envelope !== undefined && !envelope.Success && isConsistent(envelope)) {
    throw fromEnvelope(envelope, answer, scrubber, reading)
  }
  const byStatus = answer.status === 404 && reading.httpNotFound ? reading.notFound : BY_HTTP_STATUS[answer.status]
  throw new UpstreamError(byStatus ?? 'UPSTREAM_ERROR', {
    httpStatus: answer.status,
    retryAfter: parseRetryAfter(answer.headers['retry-after'])
  })
}

/** The session id of a good GetSession answer; throws the mapped UpstreamError otherwise. */
export function classifyAnswer (answer: UpstreamAnswer, scrubber: SecretScrubber): string {
  return classify(answer, scrubber, SESSION_READING)
}

/** The chatbot's reply in a good ClientAsk answer; throws the mapped UpstreamError otherwise (404: SESSION_NOT_FOUND). */
export function classifyChatAnswer (answer: UpstreamAnswer, scrubber: SecretScrubber): ChatAnswer {
  return classify(answer, scrubber, MESSAGE_READING)
}

const REQUEST_STARTED = Symbol('requestStarted')

/** Marks a transport error as one that came after the request began to be written. */
export function afterSending (error: Error): Error {
  Object.defineProperty(error, REQUEST_STARTED, { value: true })
  return error
}

/**
 * A transport failure (no complete answer); `timedOut` says our deadline fired. Only a
 * failure before the request began to be written can be "not sent": the same error code
 * (EHOSTUNREACH, a TLS error) on a reused keep-alive socket may come after it was.
 * Errors without a string code are not transport failures but bugs: they are
 * rethrown, to surface as INTERNAL_ERROR rather than be blamed on the upstream.
 */
export function classifyFailure (error: unknown, timedOut: boolean): UpstreamError {
  if (timedOut) return new UpstreamError('UPSTREAM_TIMEOUT', { cause: 'DEADLINE' })
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') throw error
  if (TIMEOUTS.has(code)) return new UpstreamError('UPSTREAM_TIMEOUT', { cause: code })
  const started = (error as { [REQUEST_STARTED]?: boolean })[REQUEST_STARTED] === true
  return new UpstreamError('UPSTREAM_UNAVAILABLE', { cause: code, notSent: !started && (NOT_SENT.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) })
}
