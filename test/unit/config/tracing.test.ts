// Whether tracing is on, as the standard OTEL_* variables say: only with an endpoint, never
// with the SDK disabled or no trace exporter; and the variables the SDK would only warn
// about are refused at start, by name.
import { test } from 'tap'
import { loadConfig } from '../../../src/config/config.ts'
import { refusalsOf } from '../../helpers/config-problems.ts'

const LIMITS = { openFilesLimit: 4096 }
const ENDPOINT = 'https://collector.example:4318'
const load = (env: Record<string, string>) => loadConfig({ HOTTASK_API_KEY: 'cfg-secret-key-0123456789', ...env }, LIMITS)

const problemsOf = refusalsOf(load)

test('tracing is off without an endpoint, and on with either endpoint variable', async (t) => {
  t.equal(load({}).tracing, undefined)
  t.equal(load({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }).tracing, undefined, 'settings alone turn nothing on')
  t.same(load({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT }).tracing, { serviceName: 'hottask-proxy', trustInbound: false, headerValues: [] })
  t.same(load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${ENDPOINT}/v1/traces` }).tracing, { serviceName: 'hottask-proxy', trustInbound: false, headerValues: [] })
  t.same(load({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SERVICE_NAME: 'edge-proxy', OTEL_TRUST_INBOUND_TRACE: 'true' }).tracing, { serviceName: 'edge-proxy', trustInbound: true, headerValues: [] })
  t.same(load({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing, undefined, 'an empty value is unset')
})

test('OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turns it off whatever the endpoint', async (t) => {
  t.equal(load({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: 'true' }).tracing, undefined)
  t.equal(load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }).tracing, undefined)
  t.not(load({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }).tracing, undefined)
})

test('a bad OTEL_* value stops the start, named, never echoed', async (t) => {
  t.same(problemsOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), ['OTEL_EXPORTER_OTLP_ENDPOINT: expected the http(s):// base URL of an OTLP receiver (`/v1/traces` is appended)'])
  t.same(problemsOf({ OTEL_TRACES_EXPORTER: 'console' }), ['OTEL_TRACES_EXPORTER: expected `otlp` or `none`'])
  t.same(problemsOf({ OTEL_TRACES_SAMPLER: 'parentbased_always' }), ['OTEL_TRACES_SAMPLER: expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio'])
  t.same(problemsOf({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http' }), ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: expected `http/protobuf`, `http/json`, `grpc`'])
  t.same(problemsOf({ OTEL_BSP_SCHEDULE_DELAY: '-1' }), ['OTEL_BSP_SCHEDULE_DELAY: expected an integer from 0 to 2147483647'])
  t.same(problemsOf({ OTEL_TRUST_INBOUND_TRACE: 'yes' }), ['OTEL_TRUST_INBOUND_TRACE: expected `true` or `false`'])
  for (const ratio of ['1.5', '-0.1', '.5', 'half']) {
    t.same(problemsOf({ OTEL_TRACES_SAMPLER_ARG: ratio }), ['OTEL_TRACES_SAMPLER_ARG: expected a sampling ratio from 0 to 1'], ratio)
  }
  for (const ratio of ['0', '1', '0.25', '1.0']) t.doesNotThrow(() => load({ OTEL_TRACES_SAMPLER_ARG: ratio }), ratio)
})

test('the exporter headers\' values are collected for the log scrubber, as written and URL-decoded', async (t) => {
  const tracing = load({ OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=vendor-key-123,x-team=ops%20team', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Basic dXNlcjpwYXNz' }).tracing
  t.same(tracing?.headerValues, ['vendor-key-123', 'ops%20team', 'ops team', 'Basic dXNlcjpwYXNz'])
  t.same(problemsOf({ OTEL_EXPORTER_OTLP_HEADERS: 'just-a-key' }), ['OTEL_EXPORTER_OTLP_HEADERS: expected comma-separated `name=value` pairs (a backend\'s API key, for example)'])
  t.same(problemsOf({ OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'a=1,,b=2' }), ['OTEL_EXPORTER_OTLP_TRACES_HEADERS: expected comma-separated `name=value` pairs, for traces only'])
})
