// @fastify/cors settings for the browser lane. The exposed headers are the ones widget
// code needs to read, set here rather than left to configuration.
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'

export const ALLOWED_REQUEST_HEADERS = ['Content-Type', 'Authorization', 'X-Request-Id', 'Idempotency-Key', 'Session-Token', 'Bot-Check-Token']
export const EXPOSED_HEADERS = [
  'X-Request-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Idempotent-Replayed',
  'X-Quota-Limit', 'X-Quota-Remaining', 'X-Quota-Reset'
]

export async function registerCors (app: FastifyInstance, origins: string[], maxAgeSeconds: number): Promise<void> {
  if (origins.includes('*')) app.log.warn('CORS_ORIGINS is `*`: every website may call this service from a browser')
  const listed = new Set(origins)
  await app.register(cors, {
    // A listed origin is echoed (with Vary: Origin), never `*`; an unlisted one gets no
    // CORS headers at all, and its preflight falls through to ORIGIN_NOT_ALLOWED.
    origin: origins.includes('*')
      ? '*'
      : (origin: string | undefined, callback: (error: Error | null, allow: string | false) => void) => {
          callback(null, origin !== undefined && listed.has(origin) ? origin : false)
        },
    // Strings, not arrays: the plugin joins an array on every request.
    methods: 'POST',
    allowedHeaders: ALLOWED_REQUEST_HEADERS.join(', '),
    exposedHeaders: EXPOSED_HEADERS.join(', '),
    maxAge: maxAgeSeconds,
    credentials: false,
    strictPreflight: true
  })
}
