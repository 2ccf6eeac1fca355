// The bot check of POST /sessions, for sites without logins: it runs after the rate limit
// and before the body is read (so a body error never comes first, and a refused request
// reaches no upstream), and a caller a client token or a visitor token names skips it.
// Missing: 403 BOT_CHECK_REQUIRED; refused or replayed: 403 BOT_CHECK_FAILED; a verifier
// that fails or is slow: 503 BOT_CHECK_UNAVAILABLE, or let through with BOT_CHECK_ON_ERROR=open.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { BOT_CHECK_TOKEN_HEADER } from '../bot-check/verdict.ts'
import type { BotChecker, BotCheckVerdict } from '../bot-check/verdict.ts'
import { ProblemError } from '../http/errors.ts'

export const BOT_CHECK_RETRY_AFTER_SECONDS = 5
/**
 * Failures a caller can bring about on purpose, which BOT_CHECK_ON_ERROR=open must not turn
 * into a pass: a full or failing replay memory (a solution we cannot record could be replayed
 * without end) and Turnstile throttling our verifications.
 */
const NEVER_OPEN = new Set(['store', 'status_429'])
const UNAVAILABLE_HEADERS = { 'retry-after': String(BOT_CHECK_RETRY_AFTER_SECONDS) }

export interface BotCheckGuardOptions {
  checker: BotChecker
  onError: 'open' | 'closed'
  /** Every verdict (let through: a failed verifier under `open`), for metrics and the log. */
  onVerdict: (verdict: BotCheckVerdict, request: FastifyRequest, letThrough: boolean) => void
}

export function botCheckGuard (options: BotCheckGuardOptions) {
  const { checker, onError, onVerdict } = options
  return async function checkBot (request: FastifyRequest, _reply: FastifyReply, _payload: unknown): Promise<void> {
    if (request.clientName !== null || request.visitorId !== null) return
    const header = request.headers[BOT_CHECK_TOKEN_HEADER]
    // A repeated header (Node joins them with ", ") is no single solution: it fails to decode.
    const token = header === undefined ? '' : typeof header === 'string' ? header : '\u0000'
    const verdict = await checker.verify(token, { remoteIp: request.ip })
    const letThrough = !verdict.ok && verdict.reason === 'unavailable' && onError === 'open' && !NEVER_OPEN.has(verdict.cause)
    onVerdict(verdict, request, letThrough)
    if (verdict.ok || letThrough) return
    if (verdict.reason === 'unavailable') throw new ProblemError('BOT_CHECK_UNAVAILABLE', undefined, UNAVAILABLE_HEADERS)
    throw new ProblemError(verdict.reason === 'missing' ? 'BOT_CHECK_REQUIRED' : 'BOT_CHECK_FAILED')
  }
}
