import { test } from 'tap'
import { postSession, setup } from '../helpers/setup.ts'

const SHOP = 'https://shop.example'
const EXPOSED = 'X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Idempotent-Replayed, X-Quota-Limit, X-Quota-Remaining, X-Quota-Reset'

test('a listed origin is served, with CORS headers on success and errors', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: `${SHOP},https://www.shop.example` })
  const ok = await postSession(app, { serialNumber: 'abc' }, { origin: SHOP })
  t.equal(ok.statusCode, 201)
  t.equal(ok.headers['access-control-allow-origin'], SHOP)
  t.equal(ok.headers['access-control-expose-headers'], EXPOSED)
  t.match(ok.headers.vary, /Origin/)
  t.notOk(ok.headers['access-control-allow-credentials'])

  const failed = await postSession(app, { serialNumber: 'sim-code-404' }, { origin: SHOP })
  t.equal(failed.statusCode, 404)
  t.equal(failed.headers['access-control-allow-origin'], SHOP)
  t.equal(failed.headers['access-control-expose-headers'], EXPOSED)

  const invalid = await postSession(app, '{', { origin: 'https://www.shop.example' })
  t.equal(invalid.statusCode, 400)
  t.equal(invalid.headers['access-control-allow-origin'], 'https://www.shop.example')
})

test('an unlisted origin gets 403 ORIGIN_NOT_ALLOWED, no CORS headers, no upstream call', async (t) => {
  const { app, upstream } = await setup(t, { CORS_ORIGINS: SHOP })
  for (const origin of ['https://evil.example', 'https://shop.example.evil.example', 'http://shop.example', `${SHOP}:443`, 'null']) {
    const res = await postSession(app, { serialNumber: 'abc' }, { origin })
    t.equal(res.statusCode, 403, origin)
    t.equal(res.json().code, 'ORIGIN_NOT_ALLOWED')
    t.notOk(res.headers['access-control-allow-origin'], `${origin}: no CORS headers`)
  }
  t.equal(upstream.count(), 0)
})

test('no origin configured: every browser origin is refused, the service lane works', async (t) => {
  const { app } = await setup(t)
  t.equal((await postSession(app, { serialNumber: 'abc' }, { origin: SHOP })).statusCode, 403)
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
})

test('`null` is served only when listed', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: `${SHOP},null` })
  const res = await postSession(app, { serialNumber: 'abc' }, { origin: 'null' })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['access-control-allow-origin'], 'null')
})

test('`*` serves any origin and warns at startup', async (t) => {
  const { app, logs } = await setup(t, { CORS_ORIGINS: '*' })
  const res = await postSession(app, { serialNumber: 'abc' }, { origin: 'https://anyone.example' })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['access-control-allow-origin'], '*')
  t.ok(logs.entries.some((e) => e.level === 40 && /CORS_ORIGINS is `\*`/.test(String(e.msg))))
})

test('Fetch Metadata: cross-site without a listed origin is refused', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: SHOP })
  const crossSite = await postSession(app, { serialNumber: 'abc' }, { 'sec-fetch-site': 'cross-site' })
  t.equal(crossSite.statusCode, 403)
  t.equal(crossSite.json().code, 'ORIGIN_NOT_ALLOWED')
  t.equal((await postSession(app, { serialNumber: 'abc' }, { 'sec-fetch-site': 'cross-site', origin: SHOP })).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'abc' }, { 'sec-fetch-site': 'same-origin' })).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'abc' }, { 'sec-fetch-site': 'none' })).statusCode, 201)
})

test('preflight for a listed origin', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: SHOP, CORS_MAX_AGE: '900' })
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/sessions',
    headers: { origin: SHOP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key' }
  })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], SHOP)
  t.match(res.headers['access-control-allow-methods'], /POST/)
  t.equal(res.headers['access-control-allow-headers'], 'Content-Type, Authorization, X-Request-Id, Idempotency-Key, Session-Token, Bot-Check-Token')
  t.equal(res.headers['access-control-max-age'], '900')
  t.match(res.headers.vary, /Origin/)
  t.notOk(res.headers['access-control-allow-credentials'])
})

test('preflight for an unlisted origin: 403 ORIGIN_NOT_ALLOWED without CORS headers', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: SHOP })
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/sessions',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' }
  })
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'ORIGIN_NOT_ALLOWED')
  t.notOk(res.headers['access-control-allow-origin'])
  t.notOk(res.headers['access-control-allow-methods'])
})

test('API security headers on every response', async (t) => {
  const { app } = await setup(t)
  for (const res of [await postSession(app, { serialNumber: 'abc' }), await app.inject({ url: '/nope' }), await app.inject({ url: '/healthz' })]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['referrer-policy'], 'no-referrer')
    t.equal(res.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'")
    t.equal(res.headers['cross-origin-resource-policy'], 'same-origin')
    t.match(res.headers['strict-transport-security'], /^max-age=\d+/)
    t.notOk(res.headers['x-powered-by'])
  }
})

test('a refusal is one log line: the completion line names the code', async (t) => {
  const { app, logs } = await setup(t, { CORS_ORIGINS: SHOP, RATE_LIMIT_MAX: '1' })
  const refused = await postSession(app, { serialNumber: 'abc' }, { origin: 'https://evil.example' })
  t.equal(refused.statusCode, 403)
  await postSession(app, { serialNumber: 'abc' }, { origin: SHOP })
  const limited = await postSession(app, { serialNumber: 'abc' }, { origin: SHOP })
  t.equal(limited.statusCode, 429)
  for (const [res, code] of [[refused, 'ORIGIN_NOT_ALLOWED'], [limited, 'RATE_LIMITED']] as const) {
    const lines = logs.entries.filter((e) => e.requestId === res.headers['x-request-id'])
    t.same(lines.map((e) => [e.msg, e.code]), [['request completed', code]], code)
    t.equal(lines[0]?.detail, res.json().detail)
  }
})
