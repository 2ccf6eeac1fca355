// Load shedding under real pressure: a flood far beyond the queue, and the event loop held
// busy. These take seconds of real time by nature (a deadline, a stalled loop), so the
// mutation run leaves them out; the modules they touch are mutated under faster tests.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { test } from 'tap'
import { buildApp } from '../../src/app.ts'
import { postSession, setup, testConfig, LogCapture } from '../helpers/setup.ts'
import { metricValue } from '../helpers/waiting.ts'

/** The heap after a full collection (V8's gc, exposed for this test alone). */
function heapAfterGc (): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  return process.memoryUsage().heapUsed
}

test('a flood beyond the queue is refused at once and leaves nothing behind', async (t) => {
  // Upstream calls that never answer hold every slot and queue place until the deadline,
  // however long the flood takes to arrive.
  const { app, upstream, metrics } = await setup(t, { UPSTREAM_MAX_CONCURRENCY: '4', UPSTREAM_QUEUE_MAX: '8', UPSTREAM_TIMEOUT_MS: '3000', LOG_LEVEL: 'warn' })
  const flood = async (): Promise<string[]> => {
    const results = await Promise.all(Array.from({ length: 1000 }, () => postSession(app, { serialNumber: 'sim-hang' })))
    return results.map((res) => res.json().code as string)
  }
  // The first flood compiles and caches what every later one reuses; the second is measured.
  await flood()
  const queueFull = await metricValue(metrics, 'hottask_proxy_overload_refusals_total{reason="queue_full"}')
  t.equal(queueFull, 988, 'all but the 4 admitted and the 8 queued were refused at once: the queue is bounded')
  const before = heapAfterGc()
  const callsBefore = upstream.count()
  const codes = await flood()
  const retained = heapAfterGc() - before
  // The queued eight reach their deadline in the queue (503) or just after taking a slot (504).
  t.equal(codes.filter((code) => code === 'OVERLOADED').length + codes.filter((code) => code === 'UPSTREAM_TIMEOUT').length, 1000)
  t.ok(codes.filter((code) => code === 'UPSTREAM_TIMEOUT').length >= 4, 'the admitted calls reach their deadline')
  // The four admitted calls reach the upstream; a queued one may too, when it gets a slot just
  // before its own deadline. The 988 refused at once never do.
  const calls = upstream.count() - callsBefore
  t.ok(calls >= 4 && calls <= 12, `${calls} upstream calls for 1000 requests: at most the slots and the queue`)
  t.ok(retained < 4 * 1024 * 1024, `${Math.round(retained / 1024)} KiB retained after 1000 more requests`)
})

test('under event-loop pressure requests are shed; health and readiness are exempt', async (t) => {
  const logs = new LogCapture()
  const app = await buildApp(testConfig({ MAX_EVENT_LOOP_DELAY_MS: '20' }), { logStream: logs })
  t.teardown(() => app.close())
  // Block the loop well past the limit, then let the health sampler read it.
  await new Promise((resolve) => setTimeout(resolve, 250))
  const until = Date.now() + 600
  while (Date.now() < until) { /* busy */ }
  // The stall is seen by the first sample window that holds it: the one running now, or
  // the next (the order of the plugin's timer and the histogram's decides). Ask every few
  // milliseconds until then, with a body that is refused at once when not shed.
  let shed: Awaited<ReturnType<typeof postSession>> | undefined
  let health = 0
  let readiness = 0
  for (const deadline = Date.now() + 500; shed === undefined && Date.now() < deadline;) {
    const res = await postSession(app, {})
    if (res.statusCode === 503) {
      shed = res
      health = (await app.inject({ url: '/healthz' })).statusCode
      readiness = (await app.inject({ url: '/readyz' })).statusCode
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.equal(shed?.statusCode, 503)
  t.equal(shed?.json().code, 'OVERLOADED')
  t.equal(health, 200, 'health is exempt while requests are shed')
  t.equal(readiness, 200, 'readiness is exempt while requests are shed')
})

test('loop stalls shorter than the limit never shed, however often they come', async (t) => {
  const { app } = await setup(t, { MAX_EVENT_LOOP_DELAY_MS: '1000' })
  await new Promise((resolve) => setTimeout(resolve, 2100)) // armed two samples after ready
  // Bursts like 1000 upstream answers arriving at once: 300 ms of work, a breath, again.
  const statuses: number[] = []
  for (let burst = 0; burst < 8; burst++) {
    const until = Date.now() + 300
    while (Date.now() < until) { /* busy */ }
    await new Promise((resolve) => setImmediate(resolve))
    statuses.push((await postSession(app, { serialNumber: 'abc' })).statusCode)
  }
  t.same(new Set(statuses), new Set([201]), `statuses ${statuses.join(' ')}`)
})
