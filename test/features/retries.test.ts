// Retries that cannot duplicate sessions: only when the upstream provably did not act,
// within the deadline and the retry budget. The simulated upstream counts every request.
import { test } from 'tap'
import { buildApp } from '../../src/app.ts'
import { startSimulator } from '../../simulator/server.ts'
import { freePort } from '../helpers/ports.ts'
import { LogCapture, postSession, setup, TEST_KEY, testConfig } from '../helpers/setup.ts'

test('never retried once the upstream may have acted: exactly one upstream request each', async (t) => {
  const { app, upstream } = await setup(t, { UPSTREAM_TIMEOUT_MS: '400', UPSTREAM_RETRIES: '3' })
  const cases: Array<[string, string]> = [
    ['sim-reset', 'UPSTREAM_UNAVAILABLE'], // dropped after reading the POST
    ['sim-close', 'UPSTREAM_UNAVAILABLE'],
    ['sim-hang', 'UPSTREAM_TIMEOUT'],
    ['sim-http-500', 'UPSTREAM_ERROR'],
    ['sim-http-503', 'UPSTREAM_ERROR'], // 5xx without Retry-After
    ['sim-code-503', 'UPSTREAM_ERROR'], // an envelope error
    ['sim-code-429-ra-1', 'UPSTREAM_RATE_LIMITED'], // envelope 429 on HTTP 200
    ['sim-http-400', 'UPSTREAM_ERROR'],
    ['sim-code-404', 'CHATBOT_NOT_FOUND'],
    ['sim-bad-id-float', 'UPSTREAM_BAD_RESPONSE']
  ]
  for (const [serialNumber, code] of cases) {
    const before = upstream.count()
    const res = await postSession(app, { serialNumber })
    t.equal(res.json().code, code, serialNumber)
    t.equal(upstream.count() - before, 1, `${serialNumber}: hit exactly once`)
  }
})

test('HTTP 429/503 with a Retry-After that fits: waits that long, then retries', async (t) => {
  const { app, upstream, logs } = await setup(t, { UPSTREAM_TIMEOUT_MS: '3000' })
  for (const serialNumber of ['sim-flaky-1-http-503-ra-1-a', 'sim-flaky-1-http-429-ra-1-b']) {
    const before = upstream.count()
    const started = performance.now()
    const res = await postSession(app, { serialNumber })
    const elapsed = performance.now() - started
    t.equal(res.statusCode, 201, serialNumber)
    t.equal(upstream.count() - before, 2)
    t.ok(elapsed >= 950, `waited the Retry-After (${Math.round(elapsed)} ms)`)
  }
  t.ok(logs.entries.some((e) => e.msg === 'request completed' && e.attempts === 2 && /^\d+$/.test(String(e.sessionId))), 'the completion line has the session and its attempt count')
  t.ok(logs.entries.some((e) => e.msg === 'upstream attempt' && e.level === 20), 'each attempt at debug')
})

test('a Retry-After beyond the deadline is answered at once', async (t) => {
  const { app, upstream } = await setup(t, { UPSTREAM_TIMEOUT_MS: '2000' })
  const started = performance.now()
  const res = await postSession(app, { serialNumber: 'sim-http-429-ra-60' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'UPSTREAM_RATE_LIMITED')
  t.equal(res.headers['retry-after'], '60')
  t.ok(performance.now() - started < 500, 'not waited for')
  t.equal(upstream.count(), 1)
})

test('the deadline holds across retries: the last attempt\'s answer once another would not fit', async (t) => {
  const { app, upstream } = await setup(t, { UPSTREAM_TIMEOUT_MS: '1800', UPSTREAM_RETRIES: '5' })
  const started = performance.now()
  const res = await postSession(app, { serialNumber: 'sim-flaky-9-http-503-ra-1' })
  const elapsed = performance.now() - started
  t.equal(res.json().code, 'UPSTREAM_ERROR')
  t.equal(upstream.count(), 2, 'a second wait of 1 s would not fit in 1.8 s')
  t.ok(elapsed < 1800, `answered inside the deadline (${Math.round(elapsed)} ms)`)
})

test('connection refused is retried with backoff; a late upstream is reached', async (t) => {
  const port = await freePort()
  const logs = new LogCapture()
  const app = await buildApp(testConfig({
    HOTTASK_BASE_URL: `http://127.0.0.1:${port}`,
    UPSTREAM_TIMEOUT_MS: '5000',
    UPSTREAM_RETRIES: '5',
    UPSTREAM_RETRY_BASE_MS: '200'
  }), { logStream: logs })
  t.teardown(() => app.close())
  const pending = postSession(app, { serialNumber: 'abc' })
  await new Promise((resolve) => setTimeout(resolve, 100))
  const upstream = await startSimulator({ key: TEST_KEY, port })
  t.teardown(() => upstream.close())
  const res = await pending
  t.equal(res.statusCode, 201)
  t.equal(upstream.count(), 1, 'the refused attempts never reached an upstream')
  t.ok(logs.entries.filter((e) => e.msg === 'upstream attempt' && e.outcome === 'UPSTREAM_UNAVAILABLE').length >= 1)
})

test('refused every time: UPSTREAM_RETRIES further attempts, then UPSTREAM_UNAVAILABLE', async (t) => {
  const port = await freePort()
  const logs = new LogCapture()
  const app = await buildApp(testConfig({ HOTTASK_BASE_URL: `http://127.0.0.1:${port}`, UPSTREAM_RETRIES: '2', UPSTREAM_RETRY_BASE_MS: '10' }), { logStream: logs })
  t.teardown(() => app.close())
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.json().code, 'UPSTREAM_UNAVAILABLE')
  t.equal(logs.entries.filter((e) => e.msg === 'upstream attempt').length, 3)
  t.ok(logs.entries.some((e) => e.msg === 'upstream call failed' && (e.upstream as { attempts?: number }).attempts === 3))
})

test('the retry budget: its floor allows UPSTREAM_RETRY_BUDGET_MIN retries when the percentage allows none', async (t) => {
  const { app, upstream } = await setup(t, { UPSTREAM_TIMEOUT_MS: '3000', UPSTREAM_RETRY_BUDGET_PERCENT: '0', UPSTREAM_RETRY_BUDGET_MIN: '3' })
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => postSession(app, { serialNumber: `sim-flaky-1-http-503-ra-1-r${i}` })))
  t.equal(results.filter((res) => res.statusCode === 201).length, 3, 'three retries were allowed, and they succeeded')
  t.equal(results.filter((res) => res.statusCode === 502).length, 7)
  t.equal(upstream.count(), 13, '10 first attempts + 3 retries')
})

test('the retry budget: UPSTREAM_RETRY_BUDGET_PERCENT of the requests in the window, above the floor', async (t) => {
  // 10 requests at 20 %: two retries, with no floor to add any.
  const { app, upstream } = await setup(t, { UPSTREAM_TIMEOUT_MS: '3000', UPSTREAM_RETRY_BUDGET_PERCENT: '20', UPSTREAM_RETRY_BUDGET_MIN: '0' })
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => postSession(app, { serialNumber: `sim-flaky-1-http-503-ra-1-p${i}` })))
  t.equal(results.filter((res) => res.statusCode === 201).length, 2, 'two retries were allowed, and they succeeded')
  t.equal(results.filter((res) => res.statusCode === 502).length, 8)
  t.equal(upstream.count(), 12, '10 first attempts + 2 retries')
})
