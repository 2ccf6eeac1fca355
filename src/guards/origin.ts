// The browser lane: a request with an Origin must come from a listed origin, or it is
// refused before it can spend the key (CORS headers alone would not stop it). Fetch
// Metadata closes the gap of browsers that send `Sec-Fetch-Site: cross-site` without
// an Origin.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ProblemError } from '../http/errors.ts'

export function originGuard (origins: string[]) {
  const anyOrigin = origins.includes('*')
  const listed = new Set(origins)
  return function checkOrigin (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void): void {
    // A wrong client or visitor token is answered 401 whatever the origin (once the rate limit has counted it).
    if (request.invalidClientToken || request.invalidVisitorToken) {
      done()
      return
    }
    const origin = request.headers.origin
    const refused = origin === undefined
      ? request.headers['sec-fetch-site'] === 'cross-site' && !anyOrigin
      : !anyOrigin && !listed.has(origin)
    done(refused ? new ProblemError('ORIGIN_NOT_ALLOWED') : undefined)
  }
}
