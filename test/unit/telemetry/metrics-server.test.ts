// The METRICS_PORT server over real loopback HTTP: GET /metrics and nothing else, and a
// close() that a scraper's keep-alive connection cannot hold open.
import { connect } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { Gauge } from 'prom-client'
import { test } from 'tap'
import type { Test } from 'tap'
import { Agent, request } from 'undici'
import { createMetrics } from '../../../src/telemetry/metrics.ts'
import type { Metrics } from '../../../src/telemetry/metrics.ts'
import { startMetricsServer } from '../../../src/telemetry/metrics-server.ts'
import type { MetricsServer } from '../../../src/telemetry/metrics-server.ts'

interface LogEntry { level: 'info' | 'error', obj: object, msg?: string | undefined }

const SILENT = { info () {}, error () {} }

async function start (t: Test, metrics: Metrics = createMetrics()): Promise<{ server: MetricsServer, logs: LogEntry[] }> {
  const logs: LogEntry[] = []
  const log = {
    info: (obj: object, msg?: string) => { logs.push({ level: 'info', obj, msg }) },
    error: (obj: object, msg?: string) => { logs.push({ level: 'error', obj, msg }) }
  }
  const server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0, log })
  t.teardown(() => server.close().catch(() => {}))
  return { server, logs }
}

test('GET /metrics answers the exposition with the registry content type', async (t) => {
  const metrics = createMetrics()
  metrics.recordIdempotentReplay()
  const { server, logs } = await start(t, metrics)
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(logs, [{ level: 'info', obj: { url: server.url }, msg: 'metrics server listening' }])
  const res = await request(`${server.url}/metrics`)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], metrics.contentType)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = await res.body.text()
  t.match(body, 'hottask_proxy_idempotent_replays_total 1\n')
  t.match(body, '# TYPE hottask_proxy_process_resident_memory_bytes gauge')
  const withQuery = await request(`${server.url}/metrics?name[]=x`)
  t.equal(withQuery.statusCode, 200)
  await withQuery.body.dump()
})

test('other paths are 404; other methods on /metrics are 405 with Allow; HEAD is answered without a body', async (t) => {
  const { server } = await start(t)
  for (const [method, path] of [['GET', '/'], ['GET', '/metrics/'], ['GET', '/healthz'], ['POST', '/healthz'], ['GET', '/metricsx']] as const) {
    const res = await request(`${server.url}${path}`, { method })
    t.equal(res.statusCode, 404, `${method} ${path}`)
    await res.body.dump()
  }
  for (const method of ['POST', 'PUT', 'DELETE'] as const) {
    const res = await request(`${server.url}/metrics`, { method })
    t.equal(res.statusCode, 405, `${method} /metrics`)
    t.equal(res.headers.allow, 'GET, HEAD')
    await res.body.dump()
  }
  const head = await request(`${server.url}/metrics`, { method: 'HEAD' })
  t.equal(head.statusCode, 200)
  t.equal(await head.body.text(), '')
})

test('a failing collection is a 500 and an error log, not a crash', async (t) => {
  const metrics = createMetrics()
  metrics.trackUpstreamLoad({ get active (): number { throw new Error('limiter broke') }, queued: 0 })
  const { server, logs } = await start(t, metrics)
  const res = await request(`${server.url}/metrics`)
  t.equal(res.statusCode, 500)
  t.notMatch(await res.body.text(), 'limiter broke', 'no internals to the scraper')
  t.match(logs, [{ level: 'info' }, { level: 'error', msg: 'metrics collection failed' }])
})

test('close() is prompt while a scraper holds a keep-alive connection', async (t) => {
  const { server } = await start(t)
  const agent = new Agent({ keepAliveTimeout: 60000 })
  t.teardown(() => agent.close())
  const res = await request(`${server.url}/metrics`, { dispatcher: agent })
  await res.body.dump()
  const started = Date.now()
  await server.close()
  t.ok(Date.now() - started < 1000, 'closed without waiting for the idle connection')
  const { port } = new URL(server.url)
  const refused = await new Promise<string>((resolve) => {
    const socket = connect(Number(port), '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
  })
  t.equal(refused, 'ECONNREFUSED', 'no longer listening')
})

test('a scrape in flight when close() is called is answered, and close() does not wait for its connection', async (t) => {
  const metrics = createMetrics()
  const collecting = Promise.withResolvers<void>()
  const slow = new Gauge({ name: 'slow_collect', help: 'Collects in 100 ms.', registers: [metrics.registry], collect: async () => { collecting.resolve(); await delay(100); slow.set(1) } })
  const { server } = await start(t, metrics)
  const agent = new Agent({ keepAliveTimeout: 60000 })
  t.teardown(() => agent.close())
  const scrape = request(`${server.url}/metrics`, { dispatcher: agent })
  await collecting.promise
  const started = Date.now()
  const closed = server.close().then(() => Date.now() - started)
  const res = await scrape
  t.equal(res.statusCode, 200)
  t.equal(res.headers.connection, 'close')
  t.match(await res.body.text(), 'slow_collect 1\n')
  t.ok(await closed < 1000, 'closed once the answer was sent')
})

test('a port in use is an error from start, not a silent failure', async (t) => {
  const { server } = await start(t)
  const { port } = new URL(server.url)
  await t.rejects(startMetricsServer(createMetrics(), { host: '127.0.0.1', port: Number(port), log: SILENT }), { code: 'EADDRINUSE' })
})

test('an IPv6 host is bracketed in the url', async (t) => {
  // These machines have an IPv6 loopback; where one has not, this fails and says so.
  const server = await startMetricsServer(createMetrics(), { host: '::1', port: 0, log: SILENT })
    .catch((error: NodeJS.ErrnoException) => { throw new Error(`cannot listen on the IPv6 loopback ::1 (${error.code}): enable IPv6 on lo to run this test`) })
  t.teardown(() => server.close())
  t.match(server.url, /^http:\/\/\[::1\]:\d+$/)
  const res = await request(`${server.url}/metrics`)
  t.equal(res.statusCode, 200)
  await res.body.dump()
})
