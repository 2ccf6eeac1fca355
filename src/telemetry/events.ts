// The one vocabulary of what the service reports: why a retry started, how an upstream
// attempt ended, why a request was shed, which state the circuit is in, which store
// failed. The parts that produce these events and the metrics that count them both take
// their names from here, so a new reason is added once and every label set follows.
import { ERRORS } from '../http/errors.ts'
import type { ErrorCode } from '../http/errors.ts'

export const RETRY_REASONS = ['not_sent', 'retry_after', 'next_key'] as const
export type RetryReason = typeof RETRY_REASONS[number]

export const OVERLOAD_REASONS = ['queue_full', 'queue_timeout', 'event_loop', 'heap'] as const
export type OverloadReason = typeof OVERLOAD_REASONS[number]

export const CIRCUIT_STATES = ['closed', 'half_open', 'open'] as const
export type CircuitState = typeof CIRCUIT_STATES[number]

export const STORES = ['rate_limit', 'idempotency', 'quota', 'bot_check'] as const
export type Store = typeof STORES[number]

/** What the span of one upstream attempt records besides its HTTP exchange: its number, and why it is a retry. */
export interface AttemptTrace { attempt: number, retryReason: RetryReason | undefined }

/** Runs one upstream attempt inside its trace (given only when tracing is on, so the off path costs nothing). */
export type AttemptTracer = <T>(trace: AttemptTrace, attempt: () => Promise<T>) => Promise<T>

/** How one upstream attempt ended: a session, a client that left, or the error code it mapped to. */
export type AttemptOutcome = 'success' | 'client_gone' | ErrorCode

/** Codes that are not the outcome of an attempt: no upstream call was made. */
const NOT_ATTEMPTS = new Set<string>(['UPSTREAM_CIRCUIT_OPEN'])

/** Every attempt outcome, from the registry, so a new upstream code gets its own label without an edit here. */
export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = [
  'success', 'client_gone',
  ...(Object.keys(ERRORS) as ErrorCode[]).filter((code) => (code.startsWith('UPSTREAM_') || code === 'CHATBOT_NOT_FOUND' || code === 'SESSION_NOT_FOUND') && !NOT_ATTEMPTS.has(code))
]

/** How a relayed message stream ended. */
export const STREAM_ENDS = ['completed', 'client_gone', 'upstream_reset', 'idle', 'too_long'] as const
export type StreamEnd = typeof STREAM_ENDS[number]

/** How a message request ended: a whole answer, a relayed stream, a client that left, or the code it was refused with. */
export type MessageOutcome = 'answered' | 'streamed' | 'client_gone' | ErrorCode

export const MESSAGE_OUTCOMES: readonly MessageOutcome[] = ['answered', 'streamed', 'client_gone', ...(Object.keys(ERRORS) as ErrorCode[])]

/** How a visitor token's verification ended: valid, why it was refused, or no key set to judge it by. */
export const VISITOR_TOKEN_OUTCOMES = ['valid', 'signature', 'expired', 'not_yet_valid', 'claims', 'lifetime', 'unknown_kid', 'algorithm', 'malformed', 'keys_unavailable'] as const
export type VisitorTokenOutcome = typeof VISITOR_TOKEN_OUTCOMES[number]
export type VisitorRefusal = Exclude<VisitorTokenOutcome, 'valid' | 'keys_unavailable'>

/** How a bot check ended: passed, refused and why, or its verifier failed (then closed, or let through with BOT_CHECK_ON_ERROR=open). */
export const BOT_CHECK_OUTCOMES = ['passed', 'missing', 'invalid', 'expired', 'replayed', 'hostname', 'action', 'unavailable', 'let_through'] as const
export type BotCheckOutcome = typeof BOT_CHECK_OUTCOMES[number]

export const QUOTA_KINDS = ['sessions', 'messages', 'tokens'] as const
export type QuotaKindName = typeof QUOTA_KINDS[number]
