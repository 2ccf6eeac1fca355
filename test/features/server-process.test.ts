// SIGTERM under load: every request accepted before the signal is answered; the metrics
// port is separate when configured.
import { test } from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../simulator/server.ts'
import { startServer } from '../helpers/proxy-process.ts'
import { TEST_KEY } from '../helpers/setup.ts'

test('SIGTERM under load loses no accepted request', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  t.teardown(() => upstream.close())
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY, HOTTASK_BASE_URL: upstream.url, RATE_LIMIT_MAX: '1000' })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  const inFlight = Array.from({ length: 60 }, (_, i) => request(`${proxy.url}/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serialNumber: `sim-slow-${300 + i * 5}` })
  }))
  while (upstream.count() < 60) await new Promise((resolve) => setTimeout(resolve, 10))
  proxy.child.kill('SIGTERM')
  const statuses = await Promise.all(inFlight.map(async (pending) => {
    const res = await pending
    await res.body.dump()
    return res.statusCode
  }))
  t.same(new Set(statuses), new Set([201]), `all ${statuses.length} answered 201`)
  t.equal(await proxy.exited, 0)
})

test('METRICS_PORT: /metrics only on its own listener', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  t.teardown(() => upstream.close())
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY, HOTTASK_BASE_URL: upstream.url, METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  const main = await request(`${proxy.url}/metrics`)
  t.equal(main.statusCode, 404, 'not on the main port')
  await main.body.dump()
  const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*metrics server listening/.exec(proxy.output())
  t.ok(match, 'the metrics listener is announced')
  const metrics = await request(`${match![1]}/metrics`)
  t.equal(metrics.statusCode, 200)
  t.match(await metrics.body.text(), /hottask_proxy_process_cpu_seconds_total/)
  proxy.child.kill('SIGTERM')
  t.equal(await proxy.exited, 0)
})
