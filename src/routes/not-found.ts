// Unknown URLs are 404 NOT_FOUND; a known URL with the wrong method is 405 with Allow,
// which Fastify alone would answer as 404. Both are rate limited, so unknown URLs
// cannot be probed for free.
import type { FastifyInstance, preHandlerHookHandler } from 'fastify'
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

export function notFoundRoutes (app: FastifyInstance, methods: Map<string, Set<string>>, rateLimit: preHandlerHookHandler): void {
  app.setNotFoundHandler({ preHandler: rateLimit }, async (request) => {
    // A preflight that CORS did not answer came from an origin that is not listed.
    if (request.method === 'OPTIONS' && request.headers.origin !== undefined) throw new ProblemError('ORIGIN_NOT_ALLOWED')
    const query = request.url.indexOf('?')
    const allowed = methods.get(query === -1 ? request.url : request.url.slice(0, query))
    if (allowed === undefined) throw new ProblemError('NOT_FOUND')
    throw new ProblemError('METHOD_NOT_ALLOWED', undefined, { allow: [...allowed].filter((m) => m !== 'OPTIONS').sort().join(', ') })
  })
}
