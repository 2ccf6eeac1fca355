// The bearer value of a browser lane with visitor tokens: a configured client token names a
// service (as before); otherwise a value of a JWT's shape is verified as a visitor token, and
// its subject becomes the caller's identity. A token that fails is refused whether or not one
// is required, but only once the rate limit has counted it against the address (like a wrong
// client token), and the caller never learns which check failed: the log line says.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ProblemError } from '../http/errors.ts'
import type { VisitorTokens, VisitorVerdict } from '../tokens/visitor-tokens.ts'
import { hasJwtShape } from '../tokens/visitor-tokens.ts'
import { BEARER, CHALLENGE } from './client-token.ts'
import type { ClientTokenSet } from './client-token.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified visitor's identity (a digest of issuer and subject), or null. */
    visitorId: string | null
    /** A visitor token was presented and failed: refused once the rate limit has counted it. */
    invalidVisitorToken: boolean
  }
}

export const KEYS_RETRY_AFTER_SECONDS = 5

export interface VisitorGuardOptions {
  clientTokens: ClientTokenSet
  requireClientToken: boolean
  visitors: VisitorTokens
  requireVisitorToken: boolean
  /** Every verification's outcome, for the metrics and the log. */
  onVerdict: (verdict: VisitorVerdict, request: FastifyRequest) => void
}

export function visitorTokenGuard (options: VisitorGuardOptions) {
  const { visitors, requireVisitorToken, requireClientToken, onVerdict } = options
  const clients = options.clientTokens

  function judge (request: FastifyRequest, verdict: VisitorVerdict): Error | undefined {
    onVerdict(verdict, request)
    if (verdict.valid) {
      // The completion line names the visitor (request.visitorId): no child logger per request.
      request.visitorId = verdict.visitorId
      return undefined
    }
    if (verdict.reason === 'keys_unavailable') {
      return new ProblemError('VISITOR_KEYS_UNAVAILABLE', undefined, { 'retry-after': String(KEYS_RETRY_AFTER_SECONDS) })
    }
    request.invalidVisitorToken = true
    return undefined
  }

  return function authenticateCaller (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    const header = request.headers.authorization
    if (header === undefined) {
      if (requireClientToken) done(new ProblemError('CLIENT_TOKEN_REQUIRED', undefined, CHALLENGE))
      else if (requireVisitorToken && request.headers.origin !== undefined) done(new ProblemError('VISITOR_TOKEN_REQUIRED', undefined, CHALLENGE))
      else done()
      return
    }
    const presented = BEARER.exec(header)?.[1]
    const name = presented === undefined ? undefined : clients.match(presented)
    if (name !== undefined) {
      request.clientName = name
      request.log = request.log.child({ client: name })
      done()
      return
    }
    if (presented === undefined || !hasJwtShape(presented)) {
      request.invalidClientToken = true
      done()
      return
    }
    // A widget's token is verified once; its later requests take the remembered verdict at once.
    const remembered = visitors.remembered(presented)
    if (remembered !== undefined) {
      done(judge(request, { valid: true, visitorId: remembered }))
      return
    }
    visitors.verify(presented).then((verdict) => done(judge(request, verdict)), done)
  }
}
