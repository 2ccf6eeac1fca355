// The one body parser: JSON only, parsed as plain JSON.parse. Prototype tricks are
// harmless here because the route schema allows exactly one string member; every
// other media type falls through to 415.
import type { FastifyInstance } from 'fastify'
import { ProblemError } from './errors.ts'

export function jsonBodyParser (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string))
    } catch {
      done(new ProblemError('INVALID_JSON'), undefined)
    }
  })
}
