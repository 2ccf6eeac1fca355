// Every error the contract knows, in one registry: its HTTP status, its title, and
// the generic detail used when nothing more specific may be told to the caller.
// The README's error table is checked against this registry by a test.
import { StacklessError } from '../lib/stackless-error.ts'

// A URN, not a URL: it names the problem stably without pointing at a host we do not own.
export const PROBLEM_TYPE_BASE = 'urn:hottask-proxy:problem:'

export const ERRORS = {
  BAD_REQUEST: { status: 400, title: 'Bad request', detail: 'The request could not be read: its URL or preflight headers are malformed.' },
  INVALID_JSON: { status: 400, title: 'Invalid JSON', detail: 'The request body is not valid JSON.' },
  VALIDATION_FAILED: { status: 400, title: 'Validation failed', detail: 'The request does not match the schema.' },
  NOT_FOUND: { status: 404, title: 'Not found', detail: 'No route matches this URL.' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', detail: 'This route does not accept that method.' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', detail: 'The request body is larger than allowed.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', detail: 'Send the body as application/json.' },
  INVALID_CLIENT_TOKEN: { status: 401, title: 'Invalid client token', detail: 'The bearer token is not valid.' },
  CLIENT_TOKEN_REQUIRED: { status: 401, title: 'Client token required', detail: 'Send a bearer token in Authorization.' },
  VISITOR_TOKEN_REQUIRED: { status: 401, title: 'Visitor token required', detail: 'Send the visitor token your site gave you as a bearer token in Authorization.' },
  INVALID_VISITOR_TOKEN: { status: 401, title: 'Invalid visitor token', detail: 'The visitor token is not valid.' },
  SESSION_TOKEN_REQUIRED: { status: 401, title: 'Session token required', detail: 'Send the sessionToken that POST /sessions gave in the Session-Token header.' },
  INVALID_SESSION_TOKEN: { status: 401, title: 'Invalid session token', detail: 'The session token is not valid for this session and caller.' },
  SESSION_TOKEN_EXPIRED: { status: 401, title: 'Session token expired', detail: 'The session token has expired; start a new session.' },
  ORIGIN_NOT_ALLOWED: { status: 403, title: 'Origin not allowed', detail: 'This origin may not call the service.' },
  BOT_CHECK_REQUIRED: { status: 403, title: 'Bot check required', detail: 'Send a solved bot check in the Bot-Check-Token header.' },
  BOT_CHECK_FAILED: { status: 403, title: 'Bot check failed', detail: 'The bot check was not passed, or its solution was already used.' },
  SERIAL_NUMBER_NOT_ALLOWED: { status: 403, title: 'Chatbot not allowed', detail: 'This service does not serve that chatbot.' },
  RATE_LIMITED: { status: 429, title: 'Too many requests', detail: 'Rate limit exceeded; retry after the time given in Retry-After.' },
  QUOTA_EXCEEDED: { status: 429, title: 'Quota exceeded', detail: 'This visitor\'s daily quota is spent; retry after the time given in Retry-After.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency key reused', detail: 'This Idempotency-Key was used for a different request (another chatbot, or another message).' },
  UPSTREAM_CIRCUIT_OPEN: { status: 503, title: 'Upstream circuit open', detail: 'The chatbot service is failing; the proxy is not calling it for a moment.' },
  OVERLOADED: { status: 503, title: 'Overloaded', detail: 'The proxy is at capacity; retry shortly.' },
  RATE_LIMIT_UNAVAILABLE: { status: 503, title: 'Rate limit unavailable', detail: 'The rate limit store is unavailable; retry later.' },
  VISITOR_KEYS_UNAVAILABLE: { status: 503, title: 'Visitor keys unavailable', detail: 'The keys that verify visitor tokens could not be fetched yet; retry shortly.' },
  BOT_CHECK_UNAVAILABLE: { status: 503, title: 'Bot check unavailable', detail: 'The bot check could not be verified right now; retry shortly.' },
  UPSTREAM_REJECTED: { status: 400, title: 'Rejected by upstream', detail: 'The chatbot service rejected the request.' },
  CHATBOT_NOT_FOUND: { status: 404, title: 'Chatbot not found', detail: 'The chatbot service does not know this chatbot.' },
  SESSION_NOT_FOUND: { status: 404, title: 'Session not found', detail: 'The chatbot service does not know this session.' },
  UPSTREAM_AUTH_FAILED: { status: 502, title: 'Upstream authentication failed', detail: 'The chatbot service refused the proxy\'s credentials.' },
  UPSTREAM_RATE_LIMITED: { status: 503, title: 'Upstream rate limited', detail: 'The chatbot service is throttling requests; retry later.' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream timeout', detail: 'The chatbot service did not answer in time.' },
  UPSTREAM_UNAVAILABLE: { status: 502, title: 'Upstream unavailable', detail: 'The chatbot service could not be reached.' },
  UPSTREAM_ERROR: { status: 502, title: 'Upstream error', detail: 'The chatbot service answered with an error.' },
  UPSTREAM_BAD_RESPONSE: { status: 502, title: 'Bad upstream response', detail: 'The chatbot service sent an answer the proxy cannot use.' },
  INTERNAL_ERROR: { status: 500, title: 'Internal error', detail: 'An unexpected error occurred in the proxy.' }
} as const satisfies Record<string, { status: number, title: string, detail: string }>

export type ErrorCode = keyof typeof ERRORS

export function problemType (code: ErrorCode): string {
  return PROBLEM_TYPE_BASE + code.toLowerCase().replaceAll('_', '-')
}

/** How the error handler logs a problem that deserves a line of its own. */
export interface ProblemLogEntry {
  level: 'warn' | 'error'
  fields: Record<string, unknown>
  message: string
}

/**
 * An answer of the contract, which the error handler renders as RFC 9457 problem
 * details; stackless, like every expected outcome.
 */
export class ProblemError extends StacklessError {
  readonly code: ErrorCode
  readonly status: number
  readonly detail: string
  readonly headers: Record<string, string> | undefined

  constructor (code: ErrorCode, detail?: string, headers?: Record<string, string>) {
    const entry = ERRORS[code]
    super(detail ?? entry.detail)
    this.name = 'ProblemError'
    this.code = code
    this.status = entry.status
    this.detail = detail ?? entry.detail
    this.headers = headers
  }

  /**
   * The line the error handler writes for this problem, or undefined for a refusal,
   * which the request's completion line records. Subclasses that carry more facts
   * (upstream failures) say how loud they are.
   */
  logEntry (): ProblemLogEntry | undefined {
    return undefined
  }
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: ErrorCode
  requestId: string
}

export function toProblem (error: ProblemError, requestId: string): Problem {
  const entry = ERRORS[error.code]
  return {
    type: problemType(error.code),
    title: entry.title,
    status: entry.status,
    detail: error.detail,
    code: error.code,
    requestId
  }
}
