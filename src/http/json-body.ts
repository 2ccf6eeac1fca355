// The one body parser: JSON only, parsed as plain JSON.parse. Prototype tricks are
// harmless here because the route schema allows exactly one string member; every
// other media type falls through to 415, and so does a body this parser would misread:
// a charset other than UTF-8, or any content coding (gzip and the like).
import type { FastifyInstance } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import { ProblemError } from './errors.ts'

export function jsonBodyParser (app: FastifyInstance): void {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const unreadable = unreadableBody(request.headers)
    if (unreadable !== undefined) {
      done(new ProblemError('UNSUPPORTED_MEDIA_TYPE', unreadable), undefined)
      return
    }
    try {
      done(null, JSON.parse(body as string))
    } catch {
      done(new ProblemError('INVALID_JSON'), undefined)
    }
  })
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i

/** Why this parser cannot read the body as sent, or undefined when it can. */
export function unreadableBody (headers: IncomingHttpHeaders): string | undefined {
  const coding = headers['content-encoding']
  if (coding !== undefined && coding.toLowerCase() !== 'identity') return 'Send the body uncompressed: no Content-Encoding is accepted.'
  // This parser runs only for a request with a JSON content type.
  const charset = CHARSET.exec(String(headers['content-type']))?.[1]?.toLowerCase()
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return 'Send the body as UTF-8 JSON.'
  return undefined
}
