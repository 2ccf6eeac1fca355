// GET /bot-check/challenge alone (inject): a fresh challenge per request, never cached,
// behind the route's guards.
import Fastify from 'fastify'
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
