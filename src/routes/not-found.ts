// Unknown URLs are 404 NOT_FOUND; a known URL with the wrong method is 405 with Allow,
// which Fastify alone would answer as 404. Both are rate limited, so unknown URLs
// cannot be probed for free, and the limit runs before their body is read.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ProblemError } from '../http/errors.ts'

/** Records each route's methods; call before any route is added. */
export function trackRouteMethods (app: FastifyInstance): Map<string, Set<string>> {
  const methods = new Map<string, Set<string>>()
  app.addHook('onRoute', (route) => {
    const known = methods.get(route.url) ?? new Set<string>()
    for (const method of [route.method].flat()) known.add(method)
    methods.set(route.url, known)
  })
  return methods
}

/** The rate-limit plugin's hook, as `app.rateLimit()` returns it. */
export type RateLimitHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

export function notFoundRoutes (app: FastifyInstance, methods: Map<string, Set<string>>, rateLimit: RateLimitHook): void {
  // The not-found handler takes no onRequest hook of its own: a global one acts on unrouted requests only.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) rateLimit(request, reply).then(() => done(), done)
    else done()
  })
  app.setNotFoundHandler(async (request) => {
    // A preflight that CORS did not answer came from an origin that is not listed.
    if (request.method === 'OPTIONS' && request.headers.origin !== undefined) throw new ProblemError('ORIGIN_NOT_ALLOWED')
    const query = request.url.indexOf('?')
    const allowed = methods.get(query === -1 ? request.url : request.url.slice(0, query))
    if (allowed === undefined) throw new ProblemError('NOT_FOUND')
    throw new ProblemError('METHOD_NOT_ALLOWED', undefined, { allow: [...allowed].filter((m) => m !== 'OPTIONS').sort().join(', ') })
  })
}
