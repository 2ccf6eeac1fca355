// With TRUST_PROXY, Fastify takes the client address from X-Forwarded-For, whatever the
// header says. A forwarded "address" that is no IP address (`foo bar`, rotating garbage)
// would become its own rate-limit bucket, so it is dropped and the socket's address used
// instead; the first such request is logged, not every one.
import { isIP } from 'node:net'
import type { FastifyRequest } from 'fastify'

/** Returns a check to run first on every request; it reports through `onIgnored` once. */
export function forwardedAddressCheck (onIgnored: (request: FastifyRequest) => void): (request: FastifyRequest) => void {
  let reported = false
  return (request) => {
    // Fastify computes request.ip from the raw headers on each read, so removing the
    // header makes every later reader (rate limit, logs, idempotency) see the socket.
    if (request.headers['x-forwarded-for'] === undefined || isIP(request.ip) !== 0) return
    delete request.raw.headers['x-forwarded-for']
    if (reported) return
    reported = true
    onIgnored(request)
  }
}
