// The app's logger: JSON lines through pino, with secrets kept out three ways — the
// request and response serializers name the fields they log and never headers,
// credential headers are redacted by path wherever headers are logged, and every line
// is scrubbed by value before it is written, so a key echoed anywhere never reaches
// the log.
import type { FastifyReply, FastifyRequest } from 'fastify'
import pino from 'pino'
import type { DestinationStream, Logger } from 'pino'
import type { SecretScrubber } from '../lib/secrets.ts'

/**
 * Only a top-level `headers` can hold headers: `req` and `res` go through the
 * serializers below, which never copy one. (Paths under `req` or `res` would also cost
 * a selective clone of every completion line and could never match.)
 */
export const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'headers["set-cookie"]'
]

/** What a request is logged as, wherever it is logged as `req`. */
export function serializeRequest (request: Partial<FastifyRequest>) {
  return {
    method: request.method,
    url: request.url,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}

export function serializeReply (reply: Partial<FastifyReply>) {
  return { statusCode: reply.statusCode }
}

export interface AppLogger {
  logger: Logger
  /** The root logger's bindings as pino writes them on every line: `,"pid":…,"hostname":"…"`. */
  bindings: string
  /** Writes a finished line (with its newline) where pino writes, scrubbed the same way. */
  writeLine: (line: string) => void
}

/**
 * `mixin` adds fields to every line (tracing's trace_id and span_id); without one, pino
 * does no work for it.
 */
export function createLogger (level: string, scrubber: SecretScrubber, stream: DestinationStream = pino.destination(1), mixin?: () => Record<string, string>): AppLogger {
  const logger = pino({
    level,
    serializers: { req: serializeRequest, res: serializeReply },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    hooks: { streamWrite: (line) => scrubber.scrub(line) },
    ...(mixin === undefined ? {} : { mixin })
  }, stream)
  // pino.symbols is pino's documented way to reach its state from integrations.
  const bindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym]!
  return { logger, bindings, writeLine: (line) => { stream.write(scrubber.scrub(line)) } }
}
