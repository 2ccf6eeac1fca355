// GET /bot-check/challenge (BOT_CHECK=altcha): a fresh ALTCHA challenge, signed with the
// server's key, for the widget to solve in the page and send back in Bot-Check-Token.
// Browser-lane callers pass the origin check; it is rate limited like POST /sessions.
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type { AltchaChecker } from '../bot-check/altcha.ts'
import { problemResponses, RATE_LIMIT_HEADERS, RETRY_AFTER } from '../http/problem-schema.ts'

const CHALLENGE = {
  description: 'A challenge (ALTCHA, SHA-256, the library\'s v2 scheme): solve it with the ALTCHA widget and send its payload in the Bot-Check-Token header of POST /sessions. It expires after ALTCHA_TTL_S and passes once.',
  headers: {
    'Cache-Control': { type: 'string', enum: ['no-store'], required: true, description: 'Every challenge is new.' }
  },
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['parameters', 'signature'],
        properties: {
          parameters: { type: 'object', description: 'What the widget needs to solve it (algorithm, expiry, salt, …); signed.' },
          signature: { type: 'string', description: 'The server\'s HMAC of the parameters.' }
        }
      }
    }
  }
} as const

export function botCheckRoutes (app: FastifyInstance, options: { checker: AltchaChecker, guards: onRequestHookHandler[] }): void {
  const { checker } = options
  app.get('/bot-check/challenge', {
    onRequest: [...options.guards],
    config: { rateLimit: {} },
    schema: {
      operationId: 'getBotCheckChallenge',
      tags: ['sessions'],
      summary: 'Get an ALTCHA challenge for the bot check of POST /sessions',
      response: {
        200: CHALLENGE,
        ...problemResponses(['ORIGIN_NOT_ALLOWED', 'RATE_LIMITED', 'RATE_LIMIT_UNAVAILABLE', 'OVERLOADED', 'INTERNAL_ERROR'],
          (status) => status === 429 || status === 503 ? { 'Retry-After': RETRY_AFTER, ...RATE_LIMIT_HEADERS } : RATE_LIMIT_HEADERS)
      }
    }
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store').type('application/json; charset=utf-8')
    return JSON.stringify(await checker.challenge())
  })
}
