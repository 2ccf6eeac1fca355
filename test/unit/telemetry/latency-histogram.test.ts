// Our hot-path histogram must expose exactly what prom-client's own Histogram and
// Counter would for the same observations.
import { Counter, Histogram, Registry } from 'prom-client'
import { test } from 'tap'
import { LatencyHistogram } from '../../../src/telemetry/latency-histogram.ts'

const BOUNDS = [0.005, 0.05, 0.1, 0.5, 1, 10]
const OBSERVATIONS: Array<[Record<string, string>, number]> = [
  [{ route: '/a', code: '201' }, 0.12],
  [{ route: '/a', code: '201' }, 0.1],
  [{ route: '/a', code: '201' }, 0.0001],
  [{ route: '/a', code: '503' }, 42],
  [{ route: '/b "quoted" \\ \n', code: '201' }, 0.5],
  [{ route: '/a', code: '201' }, 10]
]

async function ours (): Promise<{ text: string, registry: Registry }> {
  const registry = new Registry()
  const histogram = new LatencyHistogram(registry, { name: 'x_seconds', help: 'How long.' }, { name: 'x_total', help: 'How many.' }, BOUNDS)
  for (const [labels, value] of OBSERVATIONS) histogram.series(labels).observe(value)
  return { text: await registry.metrics(), registry }
}

async function promClient (): Promise<string> {
  const registry = new Registry()
  const counter = new Counter({ name: 'x_total', help: 'How many.', labelNames: ['route', 'code'], registers: [registry] })
  const histogram = new Histogram({ name: 'x_seconds', help: 'How long.', labelNames: ['route', 'code'], buckets: BOUNDS, registers: [registry] })
  for (const [labels, value] of OBSERVATIONS) {
    counter.inc(labels)
    histogram.observe(labels, value)
  }
  return registry.metrics()
}

test('the exposition is prom-client\'s, byte for byte', async (t) => {
  t.equal((await ours()).text, await promClient())
})

test('a series held by a caller is the one exposed, and starts at zero', async (t) => {
  const registry = new Registry()
  const histogram = new LatencyHistogram(registry, { name: 'y_seconds', help: 'h' }, { name: 'y_total', help: 'c' }, BOUNDS)
  const series = histogram.series({ outcome: 'success' })
  t.equal(histogram.series({ outcome: 'success' }), series, 'the same series for the same labels')
  let text = await registry.metrics()
  t.match(text, /^y_total\{outcome="success"\} 0$/m, 'the counter exists from the first scrape')
  t.notMatch(text, /y_seconds_count/, 'the histogram only once observed, as with prom-client')
  series.observe(0.2)
  text = await registry.metrics()
  t.match(text, /^y_seconds_bucket\{le="0.5",outcome="success"\} 1$/m)
  t.match(text, /^y_total\{outcome="success"\} 1$/m)
})

test('a registry reset zeroes the series in place', async (t) => {
  const { registry } = await ours()
  registry.resetMetrics()
  const text = await registry.metrics()
  t.match(text, /^x_total\{route="\/a",code="201"\} 0$/m)
  t.notMatch(text, /x_seconds_count/)
})
