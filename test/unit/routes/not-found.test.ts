import { test } from 'tap'
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
