// Tracing with the real SDK and the real OTLP exporter, sending to a collector this test
// runs on loopback, the simulator as the upstream: a span per request, a child span per
// upstream attempt whose traceparent the upstream receives, inbound trace context honoured
// only from client-token callers (or from everyone with OTEL_TRUST_INBOUND_TRACE=true),
// trace ids on the log lines, and no secret in any exported byte.
import { test } from 'tap'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.ts'
import { startSimulator } from '../../simulator/server.ts'
import { startCollector } from '../helpers/otlp-collector.ts'
import type { Collector, ExportedSpan } from '../helpers/otlp-collector.ts'
import { LogCapture, TEST_KEY, TEST_TOKEN_SECRET, testConfig } from '../helpers/setup.ts'
import { listen } from '../helpers/sockets.ts'
import type { Call } from '../helpers/sockets.ts'

const CLIENT_TOKEN = 'web-token-0123456789abcdef'
const SERVER = 2
const CLIENT = 3

/** A caller's trace context: trace id, parent span id, sampled. */
const INBOUND_TRACE = '0af7651916cd43dd8448eb211c80319c'
const INBOUND_PARENT = 'b7ad6b7169203331'
const INBOUND = `00-${INBOUND_TRACE}-${INBOUND_PARENT}-01`

interface Traced {
  call: Call
  upstream: Awaited<ReturnType<typeof startSimulator>>
  logs: LogCapture
  /** Closes the app (which exports every span still buffered) and returns what the collector got. */
  finish: () => Promise<Collector>
}

/** An app with tracing on, exporting OTLP/JSON to a fresh collector. */
async function traced (t: Test, env: Record<string, string> = {}): Promise<Traced> {
  const collector = await startCollector()
  // The SDK reads its settings from the process environment; the configuration is checked with the same.
  const otel = {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '50',
    ...env
  }
  Object.assign(process.env, otel)
  const upstream = await startSimulator({ key: TEST_KEY })
  const logs = new LogCapture()
  const app = await buildApp(testConfig({ HOTTASK_BASE_URL: upstream.url, CLIENT_TOKENS: `web:${CLIENT_TOKEN}`, ...otel }), { logStream: logs })
  t.teardown(async () => {
    await app.close()
    await upstream.close()
    await collector.close()
    for (const name of Object.keys(otel)) delete process.env[name]
  })
  const call = await listen(app)
  return { call, upstream, logs, finish: async () => { await app.close(); return collector } }
}

const requestSpans = (spans: ExportedSpan[]) => spans.filter((span) => span.kind === SERVER)
const childrenOf = (spans: ExportedSpan[], parent: ExportedSpan) => spans.filter((span) => span.parentSpanId === parent.spanId)
/** A request span's upstream attempts: the client spans under its handler's span. */
const attemptsOf = (spans: ExportedSpan[], request: ExportedSpan) =>
  childrenOf(spans, request).flatMap((handler) => childrenOf(spans, handler)).filter((span) => span.kind === CLIENT)
const traceparentOf = (span: ExportedSpan) => `00-${span.traceId}-${span.spanId}-01`

test('a span per request, a child span per upstream attempt, and the upstream receives the attempt\'s traceparent', async (t) => {
  const { call, upstream, logs, finish } = await traced(t)
  const created = await call('POST', '/sessions', { body: { serialNumber: 'sim-flaky-1-http-503-ra-0-trace' } })
  t.equal(created.status, 201)
  const { sessionId, sessionToken } = created.json() as { sessionId: number, sessionToken: string }
  const answered = await call('POST', `/sessions/${sessionId}/messages?lang=de`, { body: { content: 'my secret words' }, headers: { 'session-token': sessionToken } })
  t.equal(answered.status, 200)
  const spans = (await finish()).spans()

  const [session, message] = requestSpans(spans)
  t.ok(session !== undefined && message !== undefined, 'two request spans')
  t.match(session!.attributes, { 'http.route': '/sessions', 'http.request.method': 'POST', 'http.response.status_code': 201, 'url.path': '/sessions' })
  t.equal(session!.serviceName, 'hottask-proxy')
  t.equal(session!.name, 'POST /sessions', 'named by method and route')
  t.same(childrenOf(spans, session!).map((span) => span.name), ['handler POST /sessions'], 'the handler\'s span, and no span per hook')
  t.equal(session!.parentSpanId, '', 'no inbound context: a new trace')
  t.match(message!.attributes, { 'http.route': '/sessions/:sessionId/messages', 'http.response.status_code': 200, 'url.path': `/sessions/${sessionId}/messages` })

  const sessionAttempts = attemptsOf(spans, session!)
  t.same(sessionAttempts.map((span) => [span.attributes['hottask.attempt'], span.attributes['hottask.retry_reason'], span.attributes['http.response.status_code']]),
    [[1, undefined, 503], [2, 'retry_after', 200]], 'one span per attempt: its number, why it is a retry, its status')
  t.match(sessionAttempts[0]!.attributes, { 'url.path': '/chat/Chatbot/GetSession', 'http.request.method': 'POST' })
  t.ok(sessionAttempts.every((span) => span.traceId === session!.traceId), 'the attempts are in the request\'s trace')
  const messageAttempts = attemptsOf(spans, message!)
  t.same(messageAttempts.map((span) => [span.attributes['hottask.attempt'], span.attributes['url.path']]), [[1, '/chat/Chat/ClientAsk']])

  const sent = upstream.requests.map((request) => request.headers.traceparent)
  t.same(sent, [...sessionAttempts, ...messageAttempts].map(traceparentOf), 'each upstream request carried its own attempt span\'s context')

  const lines = logs.entries.filter((line) => line.msg === 'request completed')
  t.same(lines.map((line) => [line.trace_id, line.span_id]), [[session!.traceId, session!.spanId], [message!.traceId, message!.spanId]], 'the completion lines name their request spans')
  const attemptLines = logs.entries.filter((line) => line.msg === 'upstream attempt')
  t.ok(attemptLines.length >= 3 && attemptLines.every((line) => line.trace_id === session!.traceId || line.trace_id === message!.traceId), 'lines written inside a trace carry its trace_id')
})

test('a refusal\'s span records its problem code; an upstream failure its code and each attempt', async (t) => {
  const { call, finish } = await traced(t)
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'sim-code-404' } })).status, 404)
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'bad id!' } })).status, 400)
  const spans = (await finish()).spans()
  const [notFound, invalid] = requestSpans(spans)
  t.match(notFound!.attributes, { 'hottask.error_code': 'CHATBOT_NOT_FOUND', 'http.response.status_code': 404 })
  t.same(attemptsOf(spans, notFound!).map((span) => span.attributes['hottask.attempt']), [1])
  t.match(invalid!.attributes, { 'hottask.error_code': 'VALIDATION_FAILED', 'http.response.status_code': 400 })
  t.same(attemptsOf(spans, invalid!), [], 'no upstream call, no attempt span')
})

test('attack: an anonymous caller\'s traceparent is ignored: no joined trace, no forced sampling', async (t) => {
  const { call, upstream, finish } = await traced(t)
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'abc' }, headers: { traceparent: INBOUND, tracestate: 'vendor=steer' } })).status, 201)
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'abc' }, headers: { traceparent: INBOUND, authorization: 'Bearer wrong-token-0123456789abcdef' } })).status, 401)
  const spans = (await finish()).spans()
  const [anonymous, wrongToken] = requestSpans(spans)
  for (const span of [anonymous!, wrongToken!]) {
    t.not(span.traceId, INBOUND_TRACE)
    t.equal(span.parentSpanId, '')
  }
  const sent = upstream.requests[0]!.headers
  t.not(sent.traceparent, undefined)
  t.notMatch(String(sent.traceparent), INBOUND_TRACE, 'the upstream does not see the caller\'s trace')
  t.equal(sent.tracestate, undefined, 'nor its tracestate')
})

test('a client-token caller\'s traceparent is honoured: its trace goes on to the upstream', async (t) => {
  const { call, upstream, finish } = await traced(t)
  const headers = { traceparent: INBOUND, tracestate: 'vendor=abc', authorization: `Bearer ${CLIENT_TOKEN}` }
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'abc' }, headers })).status, 201)
  const spans = (await finish()).spans()
  const [request] = requestSpans(spans)
  t.equal(request!.traceId, INBOUND_TRACE)
  t.equal(request!.parentSpanId, INBOUND_PARENT)
  const [attempt] = attemptsOf(spans, request!)
  t.equal(upstream.requests[0]!.headers.traceparent, traceparentOf(attempt!))
  t.equal(upstream.requests[0]!.headers.tracestate, 'vendor=abc')
})

test('with OTEL_TRUST_INBOUND_TRACE=true every caller\'s traceparent is honoured', async (t) => {
  const { call, finish } = await traced(t, { OTEL_TRUST_INBOUND_TRACE: 'true' })
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'abc' }, headers: { traceparent: INBOUND } })).status, 201)
  const [request] = requestSpans((await finish()).spans())
  t.equal(request!.traceId, INBOUND_TRACE)
  t.equal(request!.parentSpanId, INBOUND_PARENT)
})

test('no secret in any exported byte: not the key, a client token, a session token, the token secret or a message', async (t) => {
  const { call, finish } = await traced(t)
  const auth = { authorization: `Bearer ${CLIENT_TOKEN}` }
  const created = await call('POST', '/sessions?token=query-secret-0123456789', { body: { serialNumber: 'abc' }, headers: auth })
  const { sessionId, sessionToken } = created.json() as { sessionId: number, sessionToken: string }
  const content = 'the message text is private 0123456789'
  t.equal((await call('POST', `/sessions/${sessionId}/messages`, { body: { content }, headers: { ...auth, 'session-token': sessionToken } })).status, 200)
  t.equal((await call('POST', `/sessions/${sessionId}/messages`, { body: { content, stream: true }, headers: { ...auth, 'session-token': sessionToken } })).status, 200)
  // The upstream echoes the key in its error message: the proxy's error, and its span, must not.
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'sim-echo-key' }, headers: auth })).json().code, 'UPSTREAM_REJECTED')
  const collector = await finish()
  t.ok(collector.spans().length >= 9, 'spans were exported')
  const exported = Buffer.concat(collector.bodies).toString('utf8')
  for (const secret of [TEST_KEY, CLIENT_TOKEN, sessionToken, TEST_TOKEN_SECRET, content, 'query-secret-0123456789']) {
    t.notOk(exported.includes(secret), `not exported: ${secret.slice(0, 6)}…`)
  }
})

test('probes are not traced; an unknown path\'s span is named by its method alone, with its problem code', async (t) => {
  const { call, logs, finish } = await traced(t)
  t.equal((await call('GET', '/healthz')).status, 200)
  t.equal((await call('GET', '/no/such/path?x=1')).status, 404)
  const spans = (await finish()).spans()
  t.same(requestSpans(spans).map((span) => [span.name, span.attributes['url.path'], span.attributes['hottask.error_code']]), [['GET', '/no/such/path', 'NOT_FOUND']])
  const [health, unknown] = logs.entries.filter((line) => line.msg === 'request completed')
  t.equal(health!.trace_id, undefined, 'an untraced request\'s line names no trace')
  t.equal(unknown!.trace_id, requestSpans(spans)[0]!.traceId)
})

test('the default protocol, OTLP/protobuf, exports the same trace, and no secret in its bytes either', async (t) => {
  const { call, upstream, finish } = await traced(t, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })
  const content = 'protobuf private words 0123456789'
  const created = await call('POST', '/sessions', { body: { serialNumber: 'abc' }, headers: { authorization: `Bearer ${CLIENT_TOKEN}` } })
  const { sessionId, sessionToken } = created.json() as { sessionId: number, sessionToken: string }
  t.equal((await call('POST', `/sessions/${sessionId}/messages`, { body: { content }, headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'session-token': sessionToken } })).status, 200)
  const collector = await finish()
  const exported = Buffer.concat(collector.bodies)
  t.ok(collector.bodies.length > 0 && collector.spans().length === 0, 'bodies arrived, none of them JSON')
  // Protobuf carries ids as raw bytes and strings as UTF-8.
  const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(upstream.requests[0]!.headers.traceparent))!
  t.ok(exported.includes(Buffer.from(traceId!, 'hex')) && exported.includes(Buffer.from(spanId!, 'hex')), 'the attempt span the upstream was told of was exported')
  t.ok(exported.includes('POST /sessions/:sessionId/messages'), 'the request spans are named')
  for (const secret of [TEST_KEY, CLIENT_TOKEN, sessionToken, content]) t.notOk(exported.includes(secret), `not exported: ${secret.slice(0, 6)}…`)
})

test('attack: the exporter header\'s value (a backend\'s API key) in a request is kept out of the logs', async (t) => {
  const VENDOR_KEY = 'vendor-api-key-0123456789'
  const { call, logs, finish } = await traced(t, { OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${VENDOR_KEY}` })
  const answered = await call('GET', `/lookup/${VENDOR_KEY}`)
  t.equal(answered.status, 404)
  await finish()
  t.ok(logs.lines.length > 0, 'the request was logged')
  t.notMatch(logs.lines.join('\n'), VENDOR_KEY)
  t.match(logs.lines.join('\n'), '/lookup/[REDACTED]')
})
