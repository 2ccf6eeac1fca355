import { mkdtempSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../simulator/server.ts'
import { TEST_KEY } from '../helpers/setup.ts'
import { startCollector } from '../helpers/otlp-collector.ts'
import { runServer, startServer } from '../helpers/proxy-process.ts'
import { until } from '../helpers/waiting.ts'

test('invalid configuration: exit 1 before listening, one line per problem, no secret', async (t) => {
  const run = runServer({ HOTTASK_API_KEY: `two words ${TEST_KEY}`, PORT: 'eighty', HOTTASK_BASE_URL: 'https://x.example/path' })
  t.equal(await run.exited, 1)
  const output = run.output()
  t.match(output, /HOTTASK_API_KEY: expected/)
  t.match(output, /PORT: expected an integer/)
  t.match(output, /HOTTASK_BASE_URL: expected/)
  t.notMatch(output, TEST_KEY)
  t.notMatch(output, /listening/)
})

test('a missing key is a configuration error', async (t) => {
  const run = runServer({})
  t.equal(await run.exited, 1)
  t.match(run.output(), /HOTTASK_API_KEY: required/)
})

test('reads ./.env, and the environment wins over it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'proxy-env-'))
  writeFileSync(join(dir, '.env'), `HOTTASK_API_KEY=${TEST_KEY}\nLOG_LEVEL=not-a-level\n`)
  const bad = runServer({}, dir)
  t.equal(await bad.exited, 1)
  t.match(bad.output(), /LOG_LEVEL: expected/, 'the .env value was read')

  const good = await startServer({ LOG_LEVEL: 'info' }, dir)
  const res = await request(`${good.url}/healthz`)
  t.equal(res.statusCode, 200)
  await res.body.dump()
  good.child.kill('SIGTERM')
  t.equal(await good.exited, 0)
})

test('tracing configured in ./.env reaches the SDK, and SIGTERM exports the spans before exit 0', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  const collector = await startCollector()
  t.teardown(async () => {
    await upstream.close()
    await collector.close()
  })
  const dir = mkdtempSync(join(tmpdir(), 'proxy-otel-'))
  // A long batch delay: the span can only arrive through the export at shutdown.
  writeFileSync(join(dir, '.env'), [
    `HOTTASK_API_KEY=${TEST_KEY}`,
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${collector.url}`,
    'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json',
    'OTEL_BSP_SCHEDULE_DELAY=600000',
    'OTEL_SERVICE_NAME=proxy-from-dotenv',
    'OTEL_TRACES_SAMPLER='
  ].join('\n') + '\n')
  const proxy = await startServer({ HOTTASK_BASE_URL: upstream.url }, dir)
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  const res = await request(`${proxy.url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"serialNumber":"abc"}' })
  t.equal(res.statusCode, 201)
  await res.body.dump()
  t.match(String(upstream.requests[0]!.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  t.same(collector.bodies, [], 'nothing exported before the shutdown')
  proxy.child.kill('SIGTERM')
  t.equal(await proxy.exited, 0)
  t.match(collector.spans().find((span) => span.kind === 2), { name: 'POST /sessions', serviceName: 'proxy-from-dotenv' })
  t.match(proxy.output(), /"trace_id":"[0-9a-f]{32}","span_id":"[0-9a-f]{16}","req":\{"method":"POST","url":"\/sessions"/, 'the completion line names the request span')
})

test('SIGTERM: not ready at once, the in-flight request completes, exit 0', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  t.teardown(() => upstream.close())
  // A short drain delay keeps the listener open long enough to ask for readiness.
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY, HOTTASK_BASE_URL: upstream.url, SHUTDOWN_DRAIN_DELAY_MS: '300' })
  t.teardown(() => { proxy.child.kill('SIGKILL') })

  const ready = await request(`${proxy.url}/readyz`)
  t.equal(ready.statusCode, 200)
  await ready.body.dump()
  const inFlight = request(`${proxy.url}/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ serialNumber: 'sim-slow-700' })
  })
  await upstream.received(1)
  proxy.child.kill('SIGTERM')
  await until(() => /shutting down: not ready/.test(proxy.output()), 'the signal is handled')
  const readyz = await request(`${proxy.url}/readyz`)
  t.equal(readyz.statusCode, 503, 'readiness drops at once')
  t.match(await readyz.body.json(), { status: 'not ready', checks: { shutdown: 'failing' } })
  const res = await inFlight
  t.equal(res.statusCode, 201)
  t.match(await res.body.json(), { sessionId: Number })
  t.equal(await proxy.exited, 0)
  t.match(proxy.output(), /shutting down/)
  t.match(proxy.output(), /shut down cleanly/)
  t.notMatch(proxy.output(), TEST_KEY)
})

test('a second signal exits at once with status 1', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  t.teardown(() => upstream.close())
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY, HOTTASK_BASE_URL: upstream.url })
  const inFlight = request(`${proxy.url}/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ serialNumber: 'sim-hang' })
  }).catch(() => undefined)
  await upstream.received(1)
  proxy.child.kill('SIGTERM')
  await until(() => /shutting down/.test(proxy.output()), 'the first signal is handled')
  const signalled = Date.now()
  proxy.child.kill('SIGINT')
  t.equal(await proxy.exited, 1)
  // The hanging request would hold a graceful shutdown for UPSTREAM_TIMEOUT_MS (10 s).
  t.ok(Date.now() - signalled < 5000, `exited ${Date.now() - signalled} ms after the second signal, not at the deadline`)
  t.match(proxy.output(), /second signal: exiting now/)
  await inFlight
})

test('drain delay: not ready at once, still serving, then closes', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  t.teardown(() => upstream.close())
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY, HOTTASK_BASE_URL: upstream.url, SHUTDOWN_DRAIN_DELAY_MS: '1500' })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  proxy.child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const readyz = await request(`${proxy.url}/readyz`)
  t.equal(readyz.statusCode, 503)
  t.match(await readyz.body.json(), { checks: { shutdown: 'failing' } })
  const res = await request(`${proxy.url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"serialNumber":"abc"}' })
  t.equal(res.statusCode, 201, 'new requests are still served during the drain delay')
  await res.body.dump()
  t.equal(await proxy.exited, 0)
})

test('a request still running at SHUTDOWN_TIMEOUT_MS: exit 1', async (t) => {
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY, UPSTREAM_TIMEOUT_MS: '1000', SHUTDOWN_TIMEOUT_MS: '1000' })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  // A client that never finishes sending its body keeps its request in flight.
  const { port } = new URL(proxy.url)
  const socket = connect(Number(port), '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write('POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"serial')
  t.teardown(() => socket.destroy())
  await new Promise((resolve) => setTimeout(resolve, 200))
  const started = Date.now()
  proxy.child.kill('SIGTERM')
  t.equal(await proxy.exited, 1)
  t.ok(Date.now() - started >= 900, 'waited for the shutdown timeout')
  t.match(proxy.output(), /shutdown timed out/)
})

test('an uncaught exception is logged at fatal, after the lines still waiting in the log batch, then exit 1', async (t) => {
  const preload = fileURLToPath(new URL('../helpers/crash-on-request.ts', import.meta.url))
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY }, undefined, ['--import', preload])
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  const res = await request(`${proxy.url}/healthz?crash-after-response`)
  t.equal(res.statusCode, 200)
  await res.body.dump()
  t.equal(await proxy.exited, 1)
  const lines = proxy.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { msg: string, level: number, req?: { url: string }, err?: { message: string } })
  const completed = lines.findIndex((line) => line.msg === 'request completed' && line.req?.url === '/healthz?crash-after-response')
  const fatal = lines.findIndex((line) => line.msg === 'uncaught exception: exiting')
  t.ok(completed >= 0, 'the batched completion line was flushed before exit')
  t.ok(fatal > completed, 'then the crash itself')
  t.match(lines[fatal], { level: 60, err: { message: 'crash requested by the test' } })
})
