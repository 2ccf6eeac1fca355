// Tracing off costs nothing: with no OTLP endpoint, with OTEL_SDK_DISABLED=true or with
// OTEL_TRACES_EXPORTER=none, no OpenTelemetry module is even loaded (so no span, hook or
// log mixin can run). Every module the app resolves is recorded by a module hook; the
// last case turns tracing on, to show the record would have seen them.
import { registerHooks } from 'node:module'
import { test } from 'tap'
import { startCollector } from '../helpers/otlp-collector.ts'
import { LogCapture, testConfig } from '../helpers/setup.ts'

const resolved: string[] = []
registerHooks({
  resolve (specifier, context, nextResolve) {
    const result = nextResolve(specifier, context)
    resolved.push(result.url)
    return result
  }
})
// Imported after the hook, so that everything the app loads is recorded.
const { buildApp } = await import('../../src/app.ts')

const TELEMETRY = /\/node_modules\/(@opentelemetry|@fastify\/otel)\/|\/src\/tracing\//
const ENDPOINT = 'http://127.0.0.1:9/v1/traces'

const OFF: Array<[string, Record<string, string>]> = [
  ['no endpoint', {}],
  ['OTEL_SDK_DISABLED=true', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: 'true' }],
  ['OTEL_TRACES_EXPORTER=none', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_EXPORTER: 'none' }]
]

for (const [name, env] of OFF) {
  test(`tracing off (${name}): no OpenTelemetry module loaded, no request decorator, no trace ids in the logs`, async (t) => {
    const logs = new LogCapture()
    const app = await buildApp(testConfig(env), { logStream: logs })
    t.teardown(() => app.close())
    const res = await app.inject({ method: 'POST', url: '/sessions', headers: { 'content-type': 'application/json', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, payload: '{}' })
    t.equal(res.statusCode, 400)
    t.ok(resolved.some((url) => url.includes('/node_modules/fastify/')), 'the record saw the app\'s modules')
    t.same(resolved.filter((url) => TELEMETRY.test(url)), [])
    t.equal(app.hasRequestDecorator('opentelemetry'), false)
    t.ok(logs.entries.length > 0 && logs.entries.every((line) => line.trace_id === undefined && line.span_id === undefined))
  })
}

test('tracing on (an endpoint): the same record sees the SDK, the instrumentations and src/tracing/ loaded', async (t) => {
  const collector = await startCollector()
  const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }
  Object.assign(process.env, env)
  const app = await buildApp(testConfig(env), { logStream: new LogCapture() })
  t.teardown(async () => {
    await app.close()
    await collector.close()
    for (const name of Object.keys(env)) delete process.env[name]
  })
  const loaded = resolved.filter((url) => TELEMETRY.test(url))
  for (const module of ['/@opentelemetry/sdk-node/', '/@opentelemetry/instrumentation-undici/', '/@fastify/otel/', '/src/tracing/tracing.ts']) {
    t.ok(loaded.some((url) => url.includes(module)), `${module} was loaded`)
  }
  t.equal(app.hasRequestDecorator('opentelemetry'), true)
})
