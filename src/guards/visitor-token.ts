// The bearer value of a browser lane with visitor tokens: a configured client token names a
// service (as before); otherwise a value of a JWT's shape is verified as a visitor token, and
// its subject becomes the caller's identity. A token that fails is refused whether or not one
// is required, but only once the rate limit has counted it against the address (like a wrong
// client token), and the caller never learns which check failed: the log line says.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ClientToken } from '../config/config.ts'
import { ProblemError } from '../http/errors.ts'
import type { VisitorTokens, VisitorVerdict } from '../tokens/visitor-tokens.ts'
import { hasJwtShape } from '../tokens/visitor-tokens.ts'
import { BEARER, CHALLENGE, tokenMatcher } from './client-token.ts'

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
  clientTokens: ClientToken[]
  requireClientToken: boolean
  visitors: VisitorTokens
  requireVisitorToken: boolean
  /** Every verification's outcome, for the metrics and the log. */
  onVerdict: (verdict: VisitorVerdict, request: FastifyRequest) => void
}

export function visitorTokenGuard (options: VisitorGuardOptions) {
  const { visitors, requireVisitorToken, requireClientToken, onVerdict } = options
  const match = options.clientTokens.length > 0 ? tokenMatcher(options.clientTokens) : () => undefined
  return async function authenticateCaller (request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization
    if (header === undefined) {
      if (requireClientToken) throw new ProblemError('CLIENT_TOKEN_REQUIRED', undefined, CHALLENGE)
      if (requireVisitorToken && request.headers.origin !== undefined) throw new ProblemError('VISITOR_TOKEN_REQUIRED', undefined, CHALLENGE)
      return
    }
    const presented = BEARER.exec(header)?.[1]
    const name = presented === undefined ? undefined : match(presented)
    if (name !== undefined) {
      request.clientName = name
      request.log = request.log.child({ client: name })
      return
    }
    if (presented === undefined || !hasJwtShape(presented)) {
      request.invalidClientToken = true
      return
    }
    const verdict = await visitors.verify(presented)
    onVerdict(verdict, request)
    if (verdict.valid) {
      request.visitorId = verdict.visitorId
      request.log = request.log.child({ visitor: verdict.visitorId })
      return
    }
    if (verdict.reason === 'keys_unavailable') {
      throw new ProblemError('VISITOR_KEYS_UNAVAILABLE', undefined, { 'retry-after': String(KEYS_RETRY_AFTER_SECONDS) })
    }
    request.invalidVisitorToken = true
  }
}
