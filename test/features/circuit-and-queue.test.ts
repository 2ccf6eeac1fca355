// The circuit breaker and bounded work, end to end against the simulated upstream. Time
// is a clock the test moves, and a request is known to be in flight when the upstream
// has received it or the queue gauge counts it: no test guesses how long anything takes.
import { test } from 'tap'
import { postSession, setup } from '../helpers/setup.ts'
import { manualClock, metricValue, until } from '../helpers/waiting.ts'

test('the circuit opens after consecutive failures, fails fast, probes once, closes', async (t) => {
  const clock = manualClock()
  const { app, upstream, logs } = await setup(t, { CIRCUIT_FAILURE_THRESHOLD: '3', CIRCUIT_COOLDOWN_MS: '600' }, { deps: { now: clock.now } })
  for (let i = 0; i < 3; i++) t.equal((await postSession(app, { serialNumber: 'sim-http-500' })).statusCode, 502)
  t.ok(logs.entries.some((e) => e.msg === 'upstream circuit state changed' && e.state === 'open' && e.level === 40))

  const refused = await postSession(app, { serialNumber: 'abc' })
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'UPSTREAM_CIRCUIT_OPEN')
  t.equal(refused.headers['retry-after'], '1')
  clock.advance(599)
  t.equal((await postSession(app, { serialNumber: 'abc' })).json().code, 'UPSTREAM_CIRCUIT_OPEN', 'still open 1 ms before the cooldown ends')
  t.equal(upstream.count(), 3, 'no upstream call while open')

  clock.advance(1)
  const probe = postSession(app, { serialNumber: 'sim-slow-200' })
  await upstream.received(4)
  const duringProbe = await postSession(app, { serialNumber: 'abc' })
  t.equal(duringProbe.json().code, 'UPSTREAM_CIRCUIT_OPEN', 'only one probe while half-open')
  t.equal((await probe).statusCode, 201, 'the probe succeeds')
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201, 'closed again')
  t.equal(upstream.count(), 5)
})

test('regression: the circuit gauge reads half_open once the cooldown has passed, with no request to move the breaker', async (t) => {
  const clock = manualClock()
  const { app, metrics } = await setup(t, { CIRCUIT_FAILURE_THRESHOLD: '2', CIRCUIT_COOLDOWN_MS: '10000' }, { deps: { now: clock.now } })
  for (let i = 0; i < 2; i++) await postSession(app, { serialNumber: 'sim-http-500' })
  t.equal(await metricValue(metrics, 'hottask_proxy_circuit_state{state="open"}'), 1)
  clock.advance(9999)
  t.equal(await metricValue(metrics, 'hottask_proxy_circuit_state{state="open"}'), 1, 'open within the cooldown')
  clock.advance(1)
  t.equal(await metricValue(metrics, 'hottask_proxy_circuit_state{state="open"}'), 0, 'no longer open once the next request would probe')
  t.equal(await metricValue(metrics, 'hottask_proxy_circuit_state{state="half_open"}'), 1)
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201, 'the next request is the probe, and it closes the circuit')
  t.equal(await metricValue(metrics, 'hottask_proxy_circuit_state{state="closed"}'), 1)
})

test('a failed probe re-opens the circuit; successes and rate limiting reset the streak, 4xx answers leave it', async (t) => {
  const clock = manualClock()
  const { app, upstream } = await setup(t, { CIRCUIT_FAILURE_THRESHOLD: '2', CIRCUIT_COOLDOWN_MS: '300' }, { deps: { now: clock.now } })
  const steps: Array<[string, string | number]> = [
    ['sim-http-500', 'UPSTREAM_ERROR'], ['sim-http-429', 'UPSTREAM_RATE_LIMITED'],
    ['sim-http-500', 'UPSTREAM_ERROR'], ['abc', 201],
    ['sim-http-500', 'UPSTREAM_ERROR'], ['sim-code-404', 'CHATBOT_NOT_FOUND'], ['sim-http-502', 'UPSTREAM_ERROR'],
    ['abc', 'UPSTREAM_CIRCUIT_OPEN']
  ]
  for (const [serialNumber, expected] of steps) {
    const res = await postSession(app, { serialNumber })
    t.equal(typeof expected === 'number' ? res.statusCode : res.json().code, expected, serialNumber)
  }
  t.equal(upstream.count(), 7, 'the refusal made no upstream call')
  clock.advance(300)
  t.equal((await postSession(app, { serialNumber: 'sim-http-500' })).json().code, 'UPSTREAM_ERROR', 'the probe fails')
  t.equal((await postSession(app, { serialNumber: 'abc' })).json().code, 'UPSTREAM_CIRCUIT_OPEN', 're-opened')
  t.equal(upstream.count(), 8)
})

test('bounded concurrency: a full queue is 503 OVERLOADED with no upstream call', async (t) => {
  const { app, upstream, metrics } = await setup(t, { UPSTREAM_MAX_CONCURRENCY: '2', UPSTREAM_QUEUE_MAX: '1' })
  const slow = Array.from({ length: 3 }, () => postSession(app, { serialNumber: 'sim-slow-300' }))
  await upstream.received(2)
  await until(async () => await metricValue(metrics, 'hottask_proxy_upstream_queue_length') === 1, 'the third request is queued')
  const refused = await postSession(app, { serialNumber: 'abc' })
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'OVERLOADED')
  t.equal(refused.headers['retry-after'], '1')
  t.same((await Promise.all(slow)).map((res) => res.statusCode), [201, 201, 201], 'the queued one got its turn')
  t.equal(upstream.count(), 3)
  t.equal(upstream.stats().peakConnections, 2, 'the pool never opened more connections than slots')
})

test('MAX_HEAP_USED_BYTES: over it requests are shed as OVERLOADED (heap); health and readiness are not', async (t) => {
  // One byte: the heap is always over it, so shedding starts once the plugin is armed.
  const { app, upstream, metrics } = await setup(t, { MAX_EVENT_LOOP_DELAY_MS: '0', MAX_HEAP_USED_BYTES: '1' })
  await until(async () => (await postSession(app, { serialNumber: 'abc' })).statusCode === 503, 'requests are shed')
  const shed = await postSession(app, { serialNumber: 'abc' })
  t.equal(shed.json().code, 'OVERLOADED')
  t.equal(shed.headers['retry-after'], '1')
  const calls = upstream.count()
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 503)
  t.equal(upstream.count(), calls, 'a shed request never reaches the upstream')
  for (const url of ['/healthz', '/readyz']) t.equal((await app.inject({ url })).statusCode, 200, `${url} is exempt`)
  t.ok((await metricValue(metrics, 'hottask_proxy_overload_refusals_total{reason="heap"}') ?? 0) >= 2, 'counted as heap')
})
