// The inbound trace context's gate alone: a caller's traceparent and tracestate are
// extracted only when its Authorization header is trusted, the check runs only when there
// is trace context to trust, and what the proxy sends is always injected.
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api'
import { test } from 'tap'
import { TrustedTraceContext } from '../../../src/tracing/trusted-propagator.ts'

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c'
const PARENT = 'b7ad6b7169203331'
const TRACEPARENT = `00-${TRACE_ID}-${PARENT}-01`

function gate () {
  const asked: Array<string | undefined> = []
  const propagator = new TrustedTraceContext((authorization) => {
    asked.push(authorization)
    return authorization === 'Bearer trusted'
  })
  const extract = (headers: Record<string, string>) => trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter))
  return { propagator, extract, asked }
}

test('a trusted caller\'s traceparent and tracestate are extracted', async (t) => {
  const { extract } = gate()
  const context = extract({ traceparent: TRACEPARENT, tracestate: 'vendor=abc', authorization: 'Bearer trusted' })
  t.match(context, { traceId: TRACE_ID, spanId: PARENT, traceFlags: TraceFlags.SAMPLED, isRemote: true })
  t.equal(context?.traceState?.serialize(), 'vendor=abc')
})

test('attack: an untrusted caller\'s trace context is ignored: another token, none, or several headers', async (t) => {
  const { extract, asked } = gate()
  t.equal(extract({ traceparent: TRACEPARENT, tracestate: 'vendor=abc', authorization: 'Bearer other' }), undefined)
  t.equal(extract({ traceparent: TRACEPARENT }), undefined)
  t.equal(extract({ traceparent: TRACEPARENT, authorization: ['Bearer trusted', 'Bearer trusted'] as unknown as string }), undefined)
  t.same(asked, ['Bearer other', undefined, undefined], 'a header Node did not parse as one value is no header')
})

test('no traceparent: nothing to extract, and no token checked', async (t) => {
  const { extract, asked } = gate()
  t.equal(extract({ authorization: 'Bearer trusted', tracestate: 'vendor=abc' }), undefined)
  t.same(asked, [])
})

test('what the proxy sends is injected whoever called, and the fields are W3C trace context\'s', async (t) => {
  const { propagator } = gate()
  const carrier: Record<string, string> = {}
  const context = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: PARENT, traceFlags: TraceFlags.SAMPLED })
  propagator.inject(context, carrier, defaultTextMapSetter)
  t.same(carrier, { traceparent: TRACEPARENT })
  t.same(propagator.fields(), ['traceparent', 'tracestate'])
})
