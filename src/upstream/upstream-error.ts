// A failed upstream exchange, already mapped to the contract's error code. The extra
// facts are what retries and the circuit breaker decide on: whether the request
// provably never reached the upstream, and what the upstream asked us to wait.
import { ProblemError } from '../http/errors.ts'
import type { ErrorCode, ProblemLogEntry } from '../http/errors.ts'

export interface UpstreamFacts {
  /** The connection was never established, so the upstream cannot have acted. */
  notSent?: boolean
  /** The upstream's HTTP status, when it answered. */
  httpStatus?: number
  /** The upstream's own Retry-After, in seconds, when it sent one. */
  retryAfter?: number
  /** The transport error's code (ECONNREFUSED, UND_ERR_SOCKET, …), for logs. */
  cause?: string
  /** How many attempts the request made, set when the error is final. */
  attempts?: number
  /** On an auth failure: the fingerprint of the key the upstream refused. */
  keyFingerprint?: string
  /** Answered from the chatbot's open breaker: the upstream's last refusal, with no call made. */
  shortCircuited?: boolean
  /** The envelope's Message, made safe and scrubbed: for the log only, never for a caller. */
  message?: string
}

const DEFAULT_RETRY_AFTER = 30

export class UpstreamError extends ProblemError {
  readonly facts: UpstreamFacts

  constructor (code: ErrorCode, facts: UpstreamFacts = {}, detail?: string) {
    const headers = code === 'UPSTREAM_RATE_LIMITED'
      ? { 'retry-after': String(facts.retryAfter ?? DEFAULT_RETRY_AFTER) }
      : undefined
    super(code, detail, headers)
    this.name = 'UpstreamError'
    this.facts = facts
  }

  // A refused key needs an operator (error); any other upstream failure is worth a warning.
  override logEntry (): ProblemLogEntry {
    if (this.code === 'UPSTREAM_AUTH_FAILED') {
      return { level: 'error', fields: { code: this.code, keyFingerprint: this.facts.keyFingerprint }, message: 'upstream refused the API key' }
    }
    return { level: 'warn', fields: { code: this.code, upstream: this.facts }, message: 'upstream call failed' }
  }
}

/**
 * Whether a failed call provably never reached the upstream: refused by admission (the
 * queue or an open circuit), answered from a chatbot's open breaker, or a connection that
 * was never made. A client that left may have left after the request was sent: not this.
 */
export function neverSent (error: unknown): boolean {
  if (error instanceof UpstreamError) return error.facts.notSent === true || error.facts.shortCircuited === true
  return error instanceof ProblemError && (error.code === 'OVERLOADED' || error.code === 'UPSTREAM_CIRCUIT_OPEN')
}

/** Whether the upstream answered with a refusal or an error (so it made nothing), or was never asked. */
export function refusedOrNeverSent (error: unknown): boolean {
  return neverSent(error) || (error instanceof UpstreamError && error.facts.httpStatus !== undefined)
}
