// GET /bot-check/challenge alone (inject): a fresh challenge per request, never cached,
// behind the route's guards.
import Fastify from 'fastify'
import rateLimit from '@fastify/rate-limit'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { test } from 'tap'
import type { AltchaChecker } from '../../../src/bot-check/altcha.ts'
import { PROBLEM_SCHEMA } from '../../../src/http/problem-schema.ts'
import { botCheckRoutes } from '../../../src/routes/bot-check.ts'

async function app (guard?: (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void) {
  let issued = 0
  const checker = { challenge: async () => ({ parameters: { n: ++issued }, signature: `sig-${issued}` }) } as unknown as AltchaChecker
  const server = Fastify()
  server.addSchema(PROBLEM_SCHEMA)
  botCheckRoutes(server, { checker, guards: guard === undefined ? [] : [guard] })
  await server.ready()
  return server
}

test('each request gets a new challenge as JSON, with Cache-Control: no-store', async (t) => {
  const server = await app()
  t.teardown(() => server.close())
  const first = await server.inject({ url: '/bot-check/challenge' })
  const second = await server.inject({ url: '/bot-check/challenge' })
  t.equal(first.statusCode, 200)
  t.equal(first.headers['cache-control'], 'no-store')
  t.match(first.headers['content-type'], /^application\/json/)
  t.same(first.json(), { parameters: { n: 1 }, signature: 'sig-1' })
  t.same(second.json(), { parameters: { n: 2 }, signature: 'sig-2' })
})

test('the route\'s guards run first', async (t) => {
  const server = await app((_request, _reply, done) => done(Object.assign(new Error('refused'), { statusCode: 403 })))
  t.teardown(() => server.close())
  t.equal((await server.inject({ url: '/bot-check/challenge' })).statusCode, 403)
})

test('the route opts into the rate limit, which is off for routes that do not ask for it', async (t) => {
  let issued = 0
  const checker = { challenge: async () => ({ parameters: { n: ++issued }, signature: 's' }) } as unknown as AltchaChecker
  const server = Fastify()
  t.teardown(() => server.close())
  server.addSchema(PROBLEM_SCHEMA)
  // As the app registers it: on for the routes that ask for it, and only those.
  await server.register(rateLimit, { global: false, max: 1, timeWindow: 60_000 })
  botCheckRoutes(server, { checker, guards: [] })
  server.get('/other', async () => 'ok')
  await server.ready()
  t.same([(await server.inject({ url: '/other' })).statusCode, (await server.inject({ url: '/other' })).statusCode], [200, 200], 'a route that does not ask is not limited')
  t.equal((await server.inject({ url: '/bot-check/challenge' })).statusCode, 200)
  t.equal((await server.inject({ url: '/bot-check/challenge' })).statusCode, 429, 'the second within the window is refused')
})

test('its OpenAPI operation: id, tag, summary, and each problem with its headers', async (t) => {
  const checker = { challenge: async () => ({ parameters: {}, signature: 's' }) } as unknown as AltchaChecker
  const server = Fastify()
  t.teardown(() => server.close())
  server.addSchema(PROBLEM_SCHEMA)
  const schemas: Array<Record<string, unknown>> = []
  server.addHook('onRoute', (route) => { if (route.method === 'GET') schemas.push(route.schema as Record<string, unknown>) })
  botCheckRoutes(server, { checker, guards: [] })
  await server.ready()
  const schema = schemas[0] as { operationId: string, tags: string[], summary: string, response: Record<string, { headers?: Record<string, unknown> }> }
  t.match(schema, { operationId: 'getBotCheckChallenge', tags: ['sessions'], summary: 'Get an ALTCHA challenge for the bot check of POST /sessions' })
  t.same(Object.keys(schema.response).sort(), ['200', '403', '429', '500', '503'])
  const headers = (status: string) => Object.keys(schema.response[status]!.headers ?? {}).sort()
  for (const status of ['429', '503']) t.same(headers(status), ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'], `${status} says when to retry`)
  for (const status of ['403', '500']) t.same(headers(status), ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'], `${status}: the rate limit headers, no Retry-After`)
})
