// GET /openapi.json: the document @fastify/swagger generates from the route schemas, for
// this process's configuration. Built once, on the first request (the routes are final by then).
import type { FastifyInstance } from 'fastify'

/** The document as served and as committed: pretty-printed, ending with a newline. */
export function renderOpenApi (app: FastifyInstance): string {
  return JSON.stringify(app.swagger(), null, 2) + '\n'
}

export function openApiRoutes (app: FastifyInstance): void {
  let document: string | undefined
  // Not rate limited (the limit is per route), and hidden from the document it serves.
  app.get('/openapi.json', { schema: { hide: true } }, async (_request, reply) => {
    document ??= renderOpenApi(app)
    // no-store: the document describes the running configuration and changes with each
    // deploy; it is built once per process, so revalidation would save next to nothing.
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return document
  })
}
