// Starting and stopping tracing alone (the app's use of it is in features/tracing): the
// trusted propagator installed, trace ids for log lines, the SDK's warnings in the app's
// log, spans exported at shutdown, and nothing global left behind, so it can start again.
import { defaultTextMapGetter, diag, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import pino from 'pino'
import { test } from 'tap'
import type { Test } from 'tap'
import { startTracing } from '../../../src/tracing/tracing.ts'
import type { TracingOptions } from '../../../src/tracing/tracing.ts'
import { startCollector } from '../../helpers/otlp-collector.ts'

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const OPTIONS: TracingOptions = { serviceName: 'unit-service', trustInbound: false, headerValues: [], isClient: (authorization) => authorization === 'Bearer client-token' }

/** Tracing exporting OTLP/JSON to a fresh collector (the SDK reads where from the environment). */
async function started (t: Test, options: Partial<TracingOptions> = {}) {
  const collector = await startCollector()
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = collector.url
  process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = 'http/json'
  const tracing = startTracing({ ...OPTIONS, ...options })
  let stopped = false
  const shutdown = async () => {
    if (!stopped) await tracing.shutdown()
    stopped = true
  }
  t.teardown(async () => {
    await shutdown()
    await collector.close()
  })
  return { tracing, collector, shutdown }
}

const extracted = (headers: Record<string, string>) => trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, defaultTextMapGetter))?.traceId

test('started, inbound trace context is trusted from client tokens only; stopped, nothing global remains, and it starts again', async (t) => {
  const first = await started(t)
  t.equal(extracted({ traceparent: TRACEPARENT, authorization: 'Bearer client-token' }), '0af7651916cd43dd8448eb211c80319c')
  t.equal(extracted({ traceparent: TRACEPARENT, authorization: 'Bearer someone-else' }), undefined)
  t.equal(extracted({ traceparent: TRACEPARENT }), undefined)
  t.same(propagation.fields(), ['traceparent', 'tracestate'])
  await first.shutdown()
  t.same(propagation.fields(), [], 'the propagator is gone')
  t.equal(trace.getTracer('after').startSpan('x').isRecording(), false, 'and the tracer provider')

  await started(t, { trustInbound: true })
  t.equal(extracted({ traceparent: TRACEPARENT }), '0af7651916cd43dd8448eb211c80319c', 'OTEL_TRUST_INBOUND_TRACE: everyone\'s')
})

test('log fields: the active span\'s trace_id and span_id, none outside a span', async (t) => {
  const { tracing } = await started(t)
  t.same(tracing.logFields(), {})
  const span = trace.getTracer('unit').startActiveSpan('work', (active) => {
    t.same(tracing.logFields(), { trace_id: active.spanContext().traceId, span_id: active.spanContext().spanId })
    return active
  })
  span.end()
  t.same(tracing.logFields(), {})
})

test('spans are exported at shutdown, with the configured service name', async (t) => {
  const { collector, shutdown } = await started(t)
  trace.getTracer('unit').startSpan('buffered').end()
  await shutdown()
  t.match(collector.spans(), [{ name: 'buffered', serviceName: 'unit-service' }])
})

test('the SDK\'s own warnings and errors go to the app\'s log; its chatter does not', async (t) => {
  const { tracing } = await started(t)
  const lines: Array<Record<string, unknown>> = []
  tracing.reportTo(pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }))
  diag.error('export failed', new Error('connect ECONNREFUSED'))
  diag.warn('dropped spans', 3)
  diag.info('informative')
  diag.debug('chatter')
  t.match(lines, [
    { level: 40, msg: 'OpenTelemetry: export failed', details: ['connect ECONNREFUSED'] },
    { level: 40, msg: 'OpenTelemetry: dropped spans', details: ['3'] }
  ])
  t.equal(lines.length, 2)
})
