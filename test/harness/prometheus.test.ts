// The Prometheus helper (test/helpers/prometheus.ts): a server that answers the API and is
// gone when its test ends, a config it rejects reported with Prometheus's own words, and
// missing binaries reported with how to install them.
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { test } from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { promtool, startPrometheus } from '../helpers/prometheus.ts'

const MINIMAL = 'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n'

const withEnv = (t: Test, name: string, value: string): void => {
  const saved = process.env[name]
  t.teardown(() => {
    if (saved === undefined) delete process.env[name]
    else process.env[name] = saved
  })
  process.env[name] = value
}

test('a started server answers queries, and errors come back as Prometheus gives them', async (t) => {
  const prometheus = await startPrometheus(t, MINIMAL)
  const good = await prometheus.query('vector(42)')
  t.match(good, { status: 'success', data: { resultType: 'vector', result: [{ value: [Number, '42'] }] } })
  const bad = await prometheus.query('sum(')
  t.equal(bad.status, 'error')
  t.match(bad.error, /parse error/)
})

test('the server and its data directory are gone when the test that started it ends', async (t) => {
  let url = ''
  const before = new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('test-prometheus-')))
  await t.test('inner', async (t) => {
    url = (await startPrometheus(t, MINIMAL)).url
    const ready = await request(`${url}/-/ready`)
    await ready.body.dump()
    t.equal(ready.statusCode, 200)
  })
  await t.rejects(request(`${url}/-/ready`), { code: 'ECONNREFUSED' })
  const left = readdirSync(tmpdir()).filter((name) => name.startsWith('test-prometheus-') && !before.has(name))
  t.same(left, [], 'no data directory left behind')
})

test('a configuration prometheus refuses fails the start with its message', async (t) => {
  // A scrape timeout longer than the interval is invalid.
  await t.rejects(startPrometheus(t, 'global:\n  scrape_interval: 1s\n  scrape_timeout: 5s\n'), /prometheus exited before it was ready:.*scrape timeout greater than scrape interval/s)
})

test('a missing prometheus or promtool fails with how to install it', async (t) => {
  withEnv(t, 'PROMETHEUS_PATH', '/nonexistent/prometheus')
  withEnv(t, 'PROMTOOL_PATH', '/nonexistent/promtool')
  await t.rejects(startPrometheus(t, MINIMAL), /prometheus \(Debian package prometheus\) is not installed.*scripts\/ci\/install-system-packages\.sh/s)
  t.throws(() => promtool(['--version'], tmpdir()), /promtool \(Debian package prometheus\) is not installed.*PROMTOOL_PATH/s)
})
