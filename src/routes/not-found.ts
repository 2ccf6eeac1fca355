// Unknown URLs are 404 NOT_FOUND; a known URL with the wrong method is 405 with Allow,
// which Fastify alone would answer as 404.
import type { FastifyInstance } from 'fastify'
import { ProblemError } from '../errors.ts'

export function notFoundRoutes (app: FastifyInstance): void {
  const methods = new Map<string, Set<string>>()
  app.addHook('onRoute', (route) => {
    const known = methods.get(route.url) ?? new Set<string>()
    for (const method of [route.method].flat()) known.add(method)
    methods.set(route.url, known)
  })

  app.setNotFoundHandler(async (request) => {
    const query = request.url.indexOf('?')
    const allowed = methods.get(query === -1 ? request.url : request.url.slice(0, query))
    if (allowed === undefined) throw new ProblemError('NOT_FOUND')
    throw new ProblemError('METHOD_NOT_ALLOWED', undefined, { allow: [...allowed].sort().join(', ') })
  })
}
