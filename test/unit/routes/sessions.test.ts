import { test } from 'tap'
import { VERSION } from '../../../src/app.ts'
import { postSession, setup, TEST_KEY } from '../../helpers/setup.ts'

test('creates a session: 201, exact body, no-store, request id', async (t) => {
  const { app, upstream } = await setup(t)
  const res = await postSession(app, { serialNumber: '3254a9d0424c4806b9ea3d0763ccf123' })
  t.equal(res.statusCode, 201)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['cache-control'], 'no-store')
  t.same(Object.keys(res.json()), ['sessionId', 'sessionToken'])
  t.match(res.body, /^\{"sessionId":100001,"sessionToken":"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}"\}$/)
  t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.equal(upstream.count(), 1)
})

test('accepts 34-character mixed-case ids and a charset parameter', async (t) => {
  const { app } = await setup(t)
  const res = await postSession(app, { serialNumber: 'AbCdEfGhIjKlMnOpQrStUvWxYz01234567' }, { 'content-type': 'application/json; charset=utf-8' })
  t.equal(res.statusCode, 201)
})

test('forwards exactly the proxy-built request, nothing from the client', async (t) => {
  const { app, upstream } = await setup(t)
  const res = await postSession(app, { serialNumber: 'abc123' }, {
    authorization: 'Bearer client-token-should-not-pass',
    cookie: 'session=browser-cookie',
    'x-forwarded-for': '203.0.113.9',
    'x-custom': 'nope',
    'x-request-id': 'client-id-42'
  })
  t.equal(res.statusCode, 201)
  const [sent] = upstream.requests
  t.ok(sent)
  t.equal(sent!.method, 'POST')
  t.equal(sent!.url, '/chat/Chatbot/GetSession')
  t.equal(sent!.body, '{"serialNumber":"abc123"}')
  const { host, 'content-length': length, connection, ...headers } = sent!.headers
  t.ok(host)
  t.equal(length, String(sent!.body.length))
  t.same(headers, {
    authorization: TEST_KEY,
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': `hottask-proxy/${VERSION}`,
    'x-request-id': 'client-id-42'
  })
  t.notOk(connection !== undefined && connection !== 'keep-alive', 'only transport headers besides ours')
})

test('validation: every malformed body is refused before any upstream call', async (t) => {
  const { app, upstream } = await setup(t)
  const cases: Array<[string, unknown, string]> = [
    ['missing serialNumber', {}, 'VALIDATION_FAILED'],
    ['empty serialNumber', { serialNumber: '' }, 'VALIDATION_FAILED'],
    ['too long', { serialNumber: 'a'.repeat(129) }, 'VALIDATION_FAILED'],
    ['bad characters', { serialNumber: 'abc/../x' }, 'VALIDATION_FAILED'],
    ['space', { serialNumber: 'abc def' }, 'VALIDATION_FAILED'],
    ['number', { serialNumber: 12345 }, 'VALIDATION_FAILED'],
    ['array', { serialNumber: ['abc'] }, 'VALIDATION_FAILED'],
    ['null', { serialNumber: null }, 'VALIDATION_FAILED'],
    ['unknown field', { serialNumber: 'abc', extra: 1 }, 'VALIDATION_FAILED'],
    ['other spelling', { SerialNumber: 'abc' }, 'VALIDATION_FAILED'],
    ['array body', '["abc"]', 'VALIDATION_FAILED'],
    ['string body', '"abc"', 'VALIDATION_FAILED'],
    ['null body', 'null', 'VALIDATION_FAILED'],
    ['__proto__', '{"serialNumber":"abc","__proto__":{"polluted":true}}', 'VALIDATION_FAILED'],
    ['constructor', '{"serialNumber":"abc","constructor":{"prototype":{"polluted":true}}}', 'VALIDATION_FAILED'],
    ['malformed JSON', '{"serialNumber":', 'INVALID_JSON'],
    ['trailing garbage', '{"serialNumber":"abc"}x', 'INVALID_JSON'],
    ['empty body', '', 'INVALID_JSON']
  ]
  for (const [name, body, code] of cases) {
    const res = await postSession(app, body)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, code, name)
    t.match(res.headers['content-type'], /^application\/problem\+json/, name)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
  t.equal(upstream.count(), 0)
})

test('415 for other content types, 413 for large bodies', async (t) => {
  const { app, upstream } = await setup(t, { BODY_LIMIT_BYTES: '64' })
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
    const res = await postSession(app, '{"serialNumber":"abc"}', { 'content-type': type })
    t.equal(res.statusCode, 415, type)
    t.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE')
  }
  const noType = await app.inject({ method: 'POST', url: '/sessions', payload: '{"serialNumber":"abc"}', headers: { 'content-type': '' } })
  t.equal(noType.statusCode, 415, 'a body without a content type')

  const big = await postSession(app, { serialNumber: 'a'.repeat(100) })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'PAYLOAD_TOO_LARGE')
  t.equal(upstream.count(), 0)
})

test('BODY_LIMIT_BYTES is the largest body accepted: one byte more is 413', async (t) => {
  const { app, upstream } = await setup(t, { BODY_LIMIT_BYTES: '64' })
  // `{"serialNumber":"` and `"}` are 19 bytes; the id fills the rest.
  const atLimit = JSON.stringify({ serialNumber: 'a'.repeat(45) })
  t.equal(Buffer.byteLength(atLimit), 64)
  t.equal((await postSession(app, atLimit)).statusCode, 201, 'exactly the limit')
  const overLimit = JSON.stringify({ serialNumber: 'a'.repeat(46) })
  t.equal((await postSession(app, overLimit)).json().code, 'PAYLOAD_TOO_LARGE', 'one byte over')
  t.equal(upstream.count(), 1)
})

test('a body-less POST is a validation failure', async (t) => {
  const { app } = await setup(t)
  const res = await app.inject({ method: 'POST', url: '/sessions' })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'VALIDATION_FAILED')
})

test('keeps the exact digits of a SessionID beyond 2^53-1', async (t) => {
  const { app } = await setup(t)
  const res = await postSession(app, { serialNumber: 'sim-big-id' })
  t.equal(res.statusCode, 201)
  t.match(res.body, /^\{"sessionId":9007199254740993123,"sessionToken":"/)
})
