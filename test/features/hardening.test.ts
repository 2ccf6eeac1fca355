// The public edge, attacked as the security review did: each test is named after the
// attack, and checks that the answer is the contract's and nothing leaks or crashes.
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { postSession, setup } from '../helpers/setup.ts'
import { until } from '../helpers/waiting.ts'

test('attack: guessing client tokens is throttled by the caller\'s address limit', async (t) => {
  const { app, upstream } = await setup(t, { CLIENT_TOKENS: 'svc:svc-token-0123456789abcdef', RATE_LIMIT_MAX: '3' })
  const guess = (token: string) => postSession(app, { serialNumber: 'abc' }, { authorization: `Bearer ${token}` })
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await guess(`guess-${i}-0000000000000000`)).statusCode)
  t.same(statuses, [401, 401, 401, 429, 429], 'three guesses per window, then the limit answers')
  const limited = await guess('guess-x-0000000000000000')
  t.equal(limited.json().code, 'RATE_LIMITED')
  t.ok(limited.headers['retry-after'])
  t.equal((await guess('svc-token-0123456789abcdef')).statusCode, 201, 'the real client has its own limit, by name')
  t.equal(upstream.count(), 1)
})

test('a wrong token is answered 401 before the origin check and before the body is read', async (t) => {
  const { app } = await setup(t, { CLIENT_TOKENS: 'svc:svc-token-0123456789abcdef', CORS_ORIGINS: 'https://shop.example', BODY_LIMIT_BYTES: '64' })
  const res = await postSession(app, 'x'.repeat(200), { authorization: 'Bearer wrong-0000000000000000', origin: 'https://elsewhere.example' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'INVALID_CLIENT_TOKEN')
  t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"')
})

test('attack: bodies cut off by their client are clients that left, not internal errors', async (t) => {
  const { app, logs, metrics } = await setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (let i = 0; i < 20; i++) {
    const socket = connect(port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write('POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"serial')
    await new Promise((resolve) => setImmediate(resolve))
    socket.destroy()
  }
  await until(() => logs.entries.filter((e) => e.msg === 'client went away; upstream call aborted').length === 20, 'every cut-off body is handled')
  t.notOk(logs.entries.some((e) => (e.level as number) >= 50), 'nothing logged at error')
  t.notOk(logs.entries.some((e) => e.code === 'INTERNAL_ERROR'))
  t.notMatch(await metrics.render(), /status_code="5\d\d"/, 'no 5xx counted')
})

test('attack: probing unknown URLs is rate limited before the body is read', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '1', BODY_LIMIT_BYTES: '64' })
  t.equal((await app.inject({ method: 'POST', url: '/probe', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode, 404)
  const oversized = await app.inject({ method: 'POST', url: '/probe', headers: { 'content-type': 'application/json' }, payload: 'x'.repeat(500) })
  t.equal(oversized.statusCode, 429, 'refused by the limit, not by reading a body over the limit (413) or parsing it (400)')
})

test('attack: a malformed URL gets a problem with a request id and security headers, never its path echoed', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ method: 'GET', url: '/%E0%A4%A<script>' })
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.json().code, 'BAD_REQUEST')
  t.equal(res.json().requestId, res.headers['x-request-id'])
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.notMatch(res.body, /script|%E0/i)
})

test('a preflight without Access-Control-Request-Method is a BAD_REQUEST problem, not text', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: 'https://shop.example' })
  const res = await app.inject({ method: 'OPTIONS', url: '/sessions', headers: { origin: 'https://shop.example' } })
  t.equal(res.statusCode, 400)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.json().code, 'BAD_REQUEST')
  t.match(res.json().detail, /Access-Control-Request-Method/)
})

test('a body the parser would misread is 415: a charset other than UTF-8, or any content coding', async (t) => {
  const { app, upstream } = await setup(t)
  const unreadable: Array<Record<string, string>> = [
    { 'content-type': 'application/json; charset=utf-16' },
    { 'content-type': 'application/json;charset=utf-16' },
    { 'content-type': 'application/json; charset = utf-16' },
    { 'content-type': 'application/json; charset="latin1"' },
    { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    { 'content-type': 'application/json', 'content-encoding': 'br' }
  ]
  for (const headers of unreadable) {
    const res = await postSession(app, { serialNumber: 'abc' }, headers)
    t.equal(res.statusCode, 415, JSON.stringify(headers))
    t.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE')
    t.equal(res.json().detail, headers['content-encoding'] === undefined ? 'Send the body as UTF-8 JSON.' : 'Send the body uncompressed: no Content-Encoding is accepted.')
  }
  for (const type of ['application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset=utf8']) {
    t.equal((await postSession(app, { serialNumber: 'abc' }, { 'content-type': type })).statusCode, 201, type)
  }
  t.equal((await postSession(app, { serialNumber: 'abc' }, { 'content-encoding': 'identity' })).statusCode, 201)
  t.equal(upstream.count(), 4)
})
