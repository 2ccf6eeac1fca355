// The messages route's own checks, before anything else is read: the path must name a
// possible session (a path that cannot name one needs no token), and the Session-Token
// header must be one this service signed for that session and this caller. The problem
// detail never says which binding failed.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ProblemError } from '../http/errors.ts'
import type { SessionTokens } from '../tokens/session-tokens.ts'

export const SESSION_ID_PATTERN = '^[1-9][0-9]{0,29}$'
const SESSION_ID = new RegExp(SESSION_ID_PATTERN)
export const SESSION_TOKEN_HEADER = 'session-token'

declare module 'fastify' {
  interface FastifyRequest {
    /** The chatbot of the session whose token this request carried, once verified. */
    sessionChatbot: string | null
  }
}

type Done = (error?: Error) => void

const sessionIdOf = (request: FastifyRequest): string => (request.params as { sessionId: string }).sessionId

export function checkSessionPath (request: FastifyRequest, _reply: FastifyReply, done: Done): void {
  done(SESSION_ID.test(sessionIdOf(request)) ? undefined : new ProblemError('VALIDATION_FAILED', 'The session id in the path must be a positive integer of at most 30 digits.'))
}

export function sessionTokenGuard (tokens: SessionTokens) {
  return function checkSessionToken (request: FastifyRequest, _reply: FastifyReply, done: Done): void {
    const token = request.headers[SESSION_TOKEN_HEADER]
    if (token === undefined) {
      done(new ProblemError('SESSION_TOKEN_REQUIRED'))
      return
    }
    const verdict = typeof token === 'string'
      ? tokens.verify(token, sessionIdOf(request), { clientName: request.clientName, visitorId: request.visitorId, origin: request.headers.origin })
      : { valid: false as const, code: 'INVALID_SESSION_TOKEN' as const }
    if (!verdict.valid) {
      done(new ProblemError(verdict.code))
      return
    }
    request.sessionChatbot = verdict.serialNumber
    done()
  }
}
