// Request ids: the caller's own X-Request-Id when it is safe to echo and log, else a
// fresh UUID. The id travels in every log line, the upstream request and error bodies.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

const CLIENT_ID = /^[A-Za-z0-9._-]{1,64}$/

export function requestIdOf (request: IncomingMessage): string {
  const offered = request.headers['x-request-id']
  return typeof offered === 'string' && CLIENT_ID.test(offered) ? offered : randomUUID()
}
