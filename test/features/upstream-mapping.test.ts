// Every row of the contract's error table, produced by the simulated upstream over real
// loopback HTTP and asserted through the app.
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { buildApp } from '../../src/app.ts'
import { ERRORS } from '../../src/http/errors.ts'
import type { ErrorCode } from '../../src/http/errors.ts'
import { postSession, setup, testConfig, LogCapture } from '../helpers/setup.ts'

interface Row { serialNumber: string, status: number, code: string, retryAfter?: string }

const ROWS: Row[] = [
  { serialNumber: 'sim-code-400', status: 400, code: 'UPSTREAM_REJECTED' },
  { serialNumber: 'sim-code-422', status: 400, code: 'UPSTREAM_REJECTED' },
  { serialNumber: 'sim-code-404', status: 404, code: 'CHATBOT_NOT_FOUND' },
  { serialNumber: 'sim-http-500-code-404', status: 404, code: 'CHATBOT_NOT_FOUND' },
  { serialNumber: 'sim-code-401', status: 502, code: 'UPSTREAM_AUTH_FAILED' },
  { serialNumber: 'sim-code-403', status: 502, code: 'UPSTREAM_AUTH_FAILED' },
  { serialNumber: 'sim-http-401', status: 502, code: 'UPSTREAM_AUTH_FAILED' },
  { serialNumber: 'sim-http-403', status: 502, code: 'UPSTREAM_AUTH_FAILED' },
  { serialNumber: 'sim-code-429', status: 503, code: 'UPSTREAM_RATE_LIMITED', retryAfter: '30' },
  { serialNumber: 'sim-code-429-ra-12', status: 503, code: 'UPSTREAM_RATE_LIMITED', retryAfter: '12' },
  { serialNumber: 'sim-http-429', status: 503, code: 'UPSTREAM_RATE_LIMITED', retryAfter: '30' },
  { serialNumber: 'sim-http-429-ra-7', status: 503, code: 'UPSTREAM_RATE_LIMITED', retryAfter: '7' },
  { serialNumber: 'sim-http-503-code-429', status: 503, code: 'UPSTREAM_RATE_LIMITED', retryAfter: '30' },
  { serialNumber: 'sim-code-408', status: 504, code: 'UPSTREAM_TIMEOUT' },
  { serialNumber: 'sim-code-504', status: 504, code: 'UPSTREAM_TIMEOUT' },
  { serialNumber: 'sim-http-408', status: 504, code: 'UPSTREAM_TIMEOUT' },
  { serialNumber: 'sim-http-504', status: 504, code: 'UPSTREAM_TIMEOUT' },
  { serialNumber: 'sim-hang', status: 504, code: 'UPSTREAM_TIMEOUT' },
  { serialNumber: 'sim-hang-body', status: 504, code: 'UPSTREAM_TIMEOUT' },
  { serialNumber: 'sim-slow-2000', status: 504, code: 'UPSTREAM_TIMEOUT' },
  { serialNumber: 'sim-reset', status: 502, code: 'UPSTREAM_UNAVAILABLE' },
  { serialNumber: 'sim-close', status: 502, code: 'UPSTREAM_UNAVAILABLE' },
  { serialNumber: 'sim-code-500', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-code-418', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-http-500', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-http-502', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-http-400', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-http-404', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-http-503', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-redirect', status: 502, code: 'UPSTREAM_ERROR' },
  { serialNumber: 'sim-not-json', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-not-object', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-no-envelope', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-inconsistent', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-success-code-mismatch', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-bad-id-zero', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-bad-id-negative', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-bad-id-float', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-bad-id-string', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-bad-id-missing', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-bad-id-null-data', status: 502, code: 'UPSTREAM_BAD_RESPONSE' },
  { serialNumber: 'sim-huge', status: 502, code: 'UPSTREAM_BAD_RESPONSE' }
]

test('every upstream outcome maps to its contract row', async (t) => {
  const { app, upstream } = await setup(t, { UPSTREAM_TIMEOUT_MS: '300' })
  for (const row of ROWS) {
    const before = upstream.count()
    const res = await postSession(app, { serialNumber: row.serialNumber })
    const body = res.json()
    t.equal(res.statusCode, row.status, `${row.serialNumber}: status`)
    t.equal(body.code, row.code, `${row.serialNumber}: code`)
    t.equal(body.status, row.status, `${row.serialNumber}: body status`)
    t.equal(body.requestId, res.headers['x-request-id'], `${row.serialNumber}: request id`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.equal(res.headers['retry-after'], row.retryAfter, `${row.serialNumber}: Retry-After`)
    t.equal(body.detail, ERRORS[row.code as ErrorCode].detail, `${row.serialNumber}: the registry's detail, never the upstream's words`)
    t.equal(upstream.count() - before, 1, `${row.serialNumber}: one upstream call`)
  }
})

test('the upstream body is consumed: a failure does not leak the connection', async (t) => {
  const { app, upstream } = await setup(t)
  for (let i = 0; i < 5; i++) {
    t.equal((await postSession(app, { serialNumber: 'sim-http-500' })).statusCode, 502)
    t.equal((await postSession(app, { serialNumber: 'sim-redirect' })).statusCode, 502)
  }
  t.equal((await postSession(app, { serialNumber: 'ok-after-failures' })).statusCode, 201)
  t.equal(upstream.stats().peakConnections, 1, 'one keep-alive connection served every request')
})

test('connection refused is UPSTREAM_UNAVAILABLE', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const app = await buildApp(testConfig({ HOTTASK_BASE_URL: `http://127.0.0.1:${port}` }), { logStream: new LogCapture() })
  t.teardown(() => app.close())
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'UPSTREAM_UNAVAILABLE')
})

test('DNS failure is UPSTREAM_UNAVAILABLE', async (t) => {
  const app = await buildApp(testConfig({ HOTTASK_BASE_URL: 'http://hottask-upstream.invalid' }), { logStream: new LogCapture() })
  t.teardown(() => app.close())
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'UPSTREAM_UNAVAILABLE')
})

test('TLS failure is UPSTREAM_UNAVAILABLE', async (t) => {
  const { upstream } = await setup(t)
  const app = await buildApp(testConfig({ HOTTASK_BASE_URL: `https://127.0.0.1:${upstream.port}` }), { logStream: new LogCapture() })
  t.teardown(() => app.close())
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'UPSTREAM_UNAVAILABLE')
})

test('the deadline covers the whole exchange and is kept', async (t) => {
  const { app } = await setup(t, { UPSTREAM_TIMEOUT_MS: '250' })
  const started = performance.now()
  const res = await postSession(app, { serialNumber: 'sim-hang' })
  const elapsed = performance.now() - started
  t.equal(res.json().code, 'UPSTREAM_TIMEOUT')
  t.ok(elapsed >= 240 && elapsed < 1000, `answered at the deadline (${Math.round(elapsed)} ms)`)
})

test('a wrong server key is UPSTREAM_AUTH_FAILED, logged at error with a fingerprint only', async (t) => {
  const { app, logs } = await setup(t, {}, { simulator: { key: 'the-upstream-expects-another-key' } })
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'UPSTREAM_AUTH_FAILED')
  const entry = logs.entries.find((e) => e.msg === 'upstream refused the API key')
  t.equal(entry?.level, 50)
  t.match(entry?.keyFingerprint, /^[0-9a-f]{8}$/)
})

test('anything unexpected in the proxy is a 500 INTERNAL_ERROR without internals', async (t) => {
  const logs = new LogCapture()
  const dispatcher = { dispatch: () => { throw new TypeError('boom at /srv/internal/path.ts') }, close: async () => {} }
  const app = await buildApp(testConfig(), { logStream: logs, dispatcher: dispatcher as never })
  t.teardown(() => app.close())
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 500)
  const body = res.json()
  t.equal(body.code, 'INTERNAL_ERROR')
  t.notMatch(res.body, /boom|internal\/path|TypeError|stack/)
  t.ok(logs.entries.some((e) => e.level === 50 && e.msg === 'unexpected error'), 'logged at error')
})

test('a client that goes away aborts its upstream call', async (t) => {
  const { app, upstream, logs } = await setup(t)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const controller = new AbortController()
  const pending = fetch(`${address}/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ serialNumber: 'sim-hang' }),
    signal: controller.signal
  }).catch((error: unknown) => error)
  while (upstream.count() === 0) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(upstream.stats().openConnections, 1)
  controller.abort()
  await pending
  const deadline = Date.now() + 2000
  while (upstream.stats().openConnections > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(upstream.stats().openConnections, 0, 'the upstream connection was closed')
  t.ok(logs.entries.some((e) => e.msg === 'client went away; upstream call aborted'))
})
