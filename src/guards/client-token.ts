// Internal client tokens: `Authorization: Bearer <token>` names the calling service.
// Tokens are compared in constant time (equal-length SHA-256 digests, every token
// checked), so timing tells nothing about how much of a guess was right. A wrong token
// is refused only after the rate limit has counted the attempt against the caller's
// address (refuseInvalidToken runs before the body is read), so guessing is throttled.
import { createHash, timingSafeEqual } from 'node:crypto'
import { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { ClientToken } from '../config/config.ts'
import { ProblemError } from '../http/errors.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated client token's name, or null for anonymous callers. */
    clientName: string | null
    /** A bearer token was presented and matched no client: refused once the rate limit has counted it. */
    invalidClientToken: boolean
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/** `Bearer <token>`, the scheme in any case; the token is one word. */
export const BEARER = /^Bearer +(\S+) *$/i
export const CHALLENGE = { 'www-authenticate': 'Bearer' }
export const INVALID = { 'www-authenticate': 'Bearer error="invalid_token"' }

/** The client's name for a presented token, or undefined when no token matches. */
export function tokenMatcher (tokens: ClientToken[]): (presented: string) => string | undefined {
  const known = tokens.map(({ name, token }) => ({ name, digest: digest(token) }))
  return (presented) => {
    const candidate = digest(presented)
    let match: string | undefined
    for (const entry of known) {
      if (timingSafeEqual(entry.digest, candidate)) match = entry.name
    }
    return match
  }
}

export function clientTokenGuard (tokens: ClientToken[], required: boolean): onRequestHookHandler | undefined {
  // Without configured tokens a client's Authorization header means nothing here.
  if (tokens.length === 0) return undefined
  const match = tokenMatcher(tokens)
  return function authenticateClient (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    const header = request.headers.authorization
    if (header === undefined) {
      done(required ? new ProblemError('CLIENT_TOKEN_REQUIRED', undefined, CHALLENGE) : undefined)
      return
    }
    const presented = BEARER.exec(header)?.[1]
    const name = presented === undefined ? undefined : match(presented)
    if (name === undefined) {
      request.invalidClientToken = true
      done()
      return
    }
    request.clientName = name
    request.log = request.log.child({ client: name })
    done()
  }
}

/** Refuses a request whose token matched no client, or a visitor token that failed; runs after the rate limit, before the body is read. */
export function refuseInvalidToken (request: FastifyRequest, _reply: FastifyReply, _payload: unknown, done: (error?: Error) => void): void {
  if (request.invalidClientToken) done(new ProblemError('INVALID_CLIENT_TOKEN', undefined, INVALID))
  else if (request.invalidVisitorToken) done(new ProblemError('INVALID_VISITOR_TOKEN', undefined, INVALID))
  else done()
}

/**
 * For a route whose own limit does not count by caller: a request with a wrong client
 * token counts against its address (RATE_LIMIT_MAX per window, a bucket of its own) and
 * is then refused, so guessing is throttled; any other request passes untouched.
 */
export function tokenGuessLimit (app: FastifyInstance, limits: { max: number, windowMs: number }): onRequestHookHandler {
  const limit = app.rateLimit({
    max: limits.max,
    timeWindow: limits.windowMs,
    keyGenerator: (request: FastifyRequest) => `token-guess:${normalizeIP(request.ip)}`
  }) as unknown as (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  return function limitTokenGuess (request, reply, done) {
    if (!request.invalidClientToken && !request.invalidVisitorToken) {
      done()
      return
    }
    limit(request, reply).then(() => refuseInvalidToken(request, reply, undefined, done), done)
  }
}
