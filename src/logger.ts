// Logger settings for the app: JSON lines through pino, with secrets removed twice —
// by path (inbound credentials) and by value (every line is scrubbed before it is
// written, so a key echoed anywhere never reaches the log).
import type { DestinationStream, LoggerOptions } from 'pino'
import type { SecretScrubber } from './secrets.ts'

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie'
]

export function loggerOptions (level: string, scrubber: SecretScrubber, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    hooks: { streamWrite: (line) => scrubber.scrub(line) },
    ...(stream === undefined ? {} : { stream })
  }
}
