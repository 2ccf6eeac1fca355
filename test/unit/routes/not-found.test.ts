import Fastify from 'fastify'
import { test } from 'tap'
import type { ProblemError } from '../../../src/http/errors.ts'
import { notFoundRoutes, trackRouteMethods } from '../../../src/routes/not-found.ts'
import { setup } from '../../helpers/setup.ts'

test('unknown routes are 404 NOT_FOUND problems', async (t) => {
  const { app } = await setup(t)
  for (const url of ['/', '/session', '/sessions/', '/chat/Chatbot/GetSession', '/sessions/1']) {
    const res = await app.inject({ method: 'POST', url })
    t.equal(res.statusCode, 404, url)
    t.equal(res.json().code, 'NOT_FOUND')
    t.equal(res.json().type, 'urn:hottask-proxy:problem:not-found')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
  }
})

test('a known route with the wrong method is 405 with Allow', async (t) => {
  const { app } = await setup(t)
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH'] as const) {
    const res = await app.inject({ method, url: '/sessions?x=1' })
    t.equal(res.statusCode, 405, method)
    t.equal(res.json().code, 'METHOD_NOT_ALLOWED')
    t.equal(res.headers.allow, 'POST')
  }
  const health = await app.inject({ method: 'POST', url: '/healthz' })
  t.equal(health.statusCode, 405)
  t.equal(health.headers.allow, 'GET, HEAD')
})

test('Allow lists a path\'s methods sorted, without OPTIONS (which only CORS answers)', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.setErrorHandler((error: ProblemError, _request, reply) => reply.code(error.status).headers(error.headers ?? {}).send({ code: error.code }))
  const methods = trackRouteMethods(app)
  app.put('/things', async () => 'put')
  app.options('/things', async () => 'options')
  app.delete('/things', async () => 'delete')
  notFoundRoutes(app, methods, async () => {})
  const res = await app.inject({ method: 'POST', url: '/things' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'DELETE, PUT')
})

test('an Origin alone makes no refusal: an unknown URL is 404, a known one with another method 405', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: 'https://shop.example' })
  t.equal((await app.inject({ method: 'POST', url: '/unknown', headers: { origin: 'https://elsewhere.example' } })).json().code, 'NOT_FOUND')
  t.equal((await app.inject({ method: 'GET', url: '/sessions', headers: { origin: 'https://elsewhere.example' } })).json().code, 'METHOD_NOT_ALLOWED')
  const noOrigin = await app.inject({ method: 'OPTIONS', url: '/sessions' })
  t.equal(noOrigin.statusCode, 405, 'OPTIONS without an Origin is no preflight: 405')
  t.equal(noOrigin.headers.allow, 'POST')
  const unlisted = await app.inject({ method: 'OPTIONS', url: '/sessions', headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' } })
  t.equal(unlisted.json().code, 'ORIGIN_NOT_ALLOWED', 'a preflight from an unlisted origin')
})
