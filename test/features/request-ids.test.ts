import { test } from 'tap'
import { postSession, setup } from '../helpers/setup.ts'

test('a valid client id is echoed in the response, the logs and the upstream request', async (t) => {
  const { app, upstream, logs } = await setup(t)
  const res = await postSession(app, { serialNumber: 'abc' }, { 'x-request-id': 'Widget-1.2_3' })
  t.equal(res.headers['x-request-id'], 'Widget-1.2_3')
  t.equal(upstream.requests[0]?.headers['x-request-id'], 'Widget-1.2_3')
  const lines = logs.entries.filter((e) => e.requestId === 'Widget-1.2_3')
  t.ok(lines.some((e) => e.msg === 'upstream attempt'), 'the attempt (debug)')
  t.ok(lines.some((e) => e.msg === 'request completed' && e.sessionId !== undefined), 'the completion line, with the session')
  t.ok(logs.entries.filter((e) => e.req !== undefined || e.res !== undefined).every((e) => e.requestId !== undefined))
})

test('an unsafe or oversized id is replaced by a fresh UUID, also in error bodies', async (t) => {
  const { app } = await setup(t)
  for (const offered of ['has space', 'a'.repeat(65), '<script>', 'x\u00e9']) {
    const res = await postSession(app, { serialNumber: 'sim-code-404' }, { 'x-request-id': offered })
    const id = res.headers['x-request-id']
    t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, JSON.stringify(offered))
    t.equal(res.json().requestId, id)
  }
})

test('every response carries an id: 404, 405, validation, health', async (t) => {
  const { app } = await setup(t)
  for (const request of [
    { method: 'GET' as const, url: '/nope' },
    { method: 'DELETE' as const, url: '/sessions' },
    { method: 'GET' as const, url: '/healthz' },
    { method: 'POST' as const, url: '/sessions', payload: '{', headers: { 'content-type': 'application/json' } }
  ]) {
    const res = await app.inject(request)
    t.ok(res.headers['x-request-id'], `${request.method} ${request.url}`)
  }
})
