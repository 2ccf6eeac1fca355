// The message route alone, on a bare Fastify with a scripted message service: the answer's
// exact body and headers, the checks of the content and of an Idempotency-Key, what each
// outcome is counted as, a duplicate on another replica, and a stream written to a real
// socket as it comes.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { request as httpRequest } from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { errorHandler } from '../../../src/http/error-handler.ts'
import { PROBLEM_SCHEMA } from '../../../src/http/problem-schema.ts'
import { Idempotency } from '../../../src/idempotency/coordinator.ts'
import { MemoryStore } from '../../../src/idempotency/memory-store.ts'
import { ClientGoneError } from '../../../src/lib/abort-reasons.ts'
import { StreamScrubber } from '../../../src/lib/stream-scrubber.ts'
import { MemoryQuotaStore } from '../../../src/quotas/memory-store.ts'
import { Quotas } from '../../../src/quotas/quotas.ts'
import type { QuotaLimits } from '../../../src/quotas/quotas.ts'
import { messageRoutes } from '../../../src/routes/messages.ts'
import type { MessageRouteOptions } from '../../../src/routes/messages.ts'
import type { MessageOutcome } from '../../../src/telemetry/events.ts'
import { SessionTokens } from '../../../src/tokens/session-tokens.ts'
import type { MessageRequest, MessageResult } from '../../../src/upstream/message-service.ts'
import { RelayStream } from '../../../src/upstream/relay.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'
import { until } from '../../helpers/waiting.ts'

const SESSION = '42'
const tokens = new SessionTokens({ secret: 'unit-message-route-secret-0123456789abcdef', ttlMs: 60_000 })
const TOKEN = tokens.issue({ sessionId: SESSION, serialNumber: 'bot', binding: { kind: 'none' } })

type Script = (request: MessageRequest) => Promise<MessageResult>

const answer = (content: string, totalTokens?: number, attempts = 1): MessageResult =>
  ({ kind: 'answer', answer: { messageId: '7', content, totalTokens }, attempts })

/**
 * The route on a bare app; `x-client` names the caller as a client token would. Its
 * onResponse hook keeps each request's outcome; `hooked: false` leaves it out (and with it
 * Fastify's own listeners on the response, which a logger would also bring).
 */
async function route (t: Test, script: Script, overrides: Partial<MessageRouteOptions> = {}, hooked = true) {
  const app = Fastify()
  const seen = { sent: [] as MessageRequest[], counted: [] as MessageOutcome[], outcomes: [] as unknown[] }
  app.decorateRequest('clientName', null)
  app.decorateRequest('visitorId', null)
  app.decorateRequest('outcome', null)
  app.decorateRequest('sessionChatbot', null)
  app.setErrorHandler(errorHandler(() => {}))
  app.addSchema(PROBLEM_SCHEMA)
  if (hooked) app.addHook('onResponse', async (request) => { seen.outcomes.push(request.outcome) })
  messageRoutes(app, {
    messages: { send: async (request) => { seen.sent.push(request); return await script(request) } },
    idempotency: new Idempotency({ store: new MemoryStore({ maxKeys: 100 }), ttlMs: 60_000, pendingTtlMs: 60_000, pollIntervalMs: 5 }),
    tokens,
    guards: [(request, _reply, done) => {
      const name = request.headers['x-client']
      if (typeof name === 'string') request.clientName = name
      done()
    }],
    maxChars: 10,
    bodyLimitBytes: 4096,
    rateLimitMax: 100,
    deadlineMs: 1000,
    onMessage: (outcome) => { seen.counted.push(outcome) },
    quotas: undefined,
    ...overrides
  })
  t.teardown(() => app.close())
  // Not ready yet: a test may add its own hooks before the first request.
  return { app, seen }
}

const post = (app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: `/sessions/${SESSION}/messages`, headers: { 'session-token': TOKEN, ...headers }, payload: body as object })

test('a whole answer: 200, exactly its JSON, never cached; totalTokens only when the upstream counted them', async (t) => {
  const { app, seen } = await route(t, async ({ content }) => content === 'count' ? answer('hi', 3, 2) : answer('yo'))
  const counted = await post(app, { content: 'count' })
  t.equal(counted.statusCode, 200)
  t.equal(counted.body, '{"messageId":7,"content":"hi","totalTokens":3}')
  t.equal(counted.headers['cache-control'], 'no-store')
  t.equal(counted.headers['content-type'], 'application/json; charset=utf-8')
  t.equal((await post(app, { content: 'plain' })).body, '{"messageId":7,"content":"yo"}')
  t.same(seen.outcomes, [{ attempts: 2 }, { attempts: 1 }], 'the attempts, for the completion line')
  t.same(seen.counted, ['answered', 'answered'])
  t.same(seen.sent.map(({ sessionId, serialNumber, content, stream }) => ({ sessionId, serialNumber, content, stream })),
    [{ sessionId: SESSION, serialNumber: 'bot', content: 'count', stream: false }, { sessionId: SESSION, serialNumber: 'bot', content: 'plain', stream: false }])
})

test('a stream asked for, a whole answer given: the same JSON answer, headers and count', async (t) => {
  const { app, seen } = await route(t, async () => answer('whole', undefined, 3))
  const res = await post(app, { content: 'hi', stream: true })
  t.equal(res.statusCode, 200)
  t.equal(res.body, '{"messageId":7,"content":"whole"}')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  t.same(seen.outcomes, [{ attempts: 3 }])
  t.same(seen.counted, ['answered'])
  t.equal(seen.sent[0]?.stream, true)
})

test('content is counted in code points, then must hold text: each refusal says why, before any upstream call', async (t) => {
  const { app, seen } = await route(t, async () => answer('ok'))
  t.equal((await post(app, { content: '😀'.repeat(10) })).statusCode, 200, 'ten emoji are ten characters')
  const long = await post(app, { content: 'a'.repeat(11) })
  t.equal(long.statusCode, 400)
  t.match(long.json(), { code: 'VALIDATION_FAILED', detail: 'content must have at most 10 characters.' })
  const blank = await post(app, { content: ' \u00a0\n\t' })
  t.match(blank.json(), { code: 'VALIDATION_FAILED', detail: 'content must not be only white space.' })
  t.equal(seen.sent.length, 1)
})

test('an anonymous Idempotency-Key needs 16 characters; a named client\'s may be shorter', async (t) => {
  const { app, seen } = await route(t, async () => answer('ok'))
  const short = await post(app, { content: 'hi' }, { 'idempotency-key': 'k'.repeat(15) })
  t.equal(short.statusCode, 400)
  t.match(short.json(), { code: 'VALIDATION_FAILED', detail: 'An anonymous Idempotency-Key must have at least 16 characters: use a random one, such as a UUID.' })
  t.equal(seen.sent.length, 0)
  t.equal((await post(app, { content: 'hi' }, { 'idempotency-key': 'k'.repeat(16) })).statusCode, 200, 'sixteen')
  t.equal((await post(app, { content: 'hi' }, { 'idempotency-key': 'k', 'x-client': 'crm' })).statusCode, 200, 'a named client')
  t.equal(seen.sent.length, 2)
})

test('each outcome is counted: an error by its code, a client that left as client_gone, anything else as INTERNAL_ERROR', async (t) => {
  const failures: Array<() => Error> = [
    () => new UpstreamError('UPSTREAM_TIMEOUT', { cause: 'DEADLINE' }),
    () => new ClientGoneError(),
    () => new TypeError('bug')
  ]
  const { app, seen } = await route(t, async () => { throw failures.shift()!() })
  t.equal((await post(app, { content: 'a' })).statusCode, 504)
  t.equal((await post(app, { content: 'b' })).statusCode, 499)
  t.equal((await post(app, { content: 'c' })).statusCode, 500)
  t.same(seen.counted, ['UPSTREAM_TIMEOUT', 'client_gone', 'INTERNAL_ERROR'])
})

test('once answered, the route no longer listens for its client leaving', async (t) => {
  const { app } = await route(t, async () => answer('ok'))
  const listening: number[] = []
  app.addHook('onSend', async (_request, reply) => { listening.push(reply.raw.listenerCount('close')) })
  // The baseline: Fastify's own listeners, on a route that never watched its client.
  const bare = Fastify()
  bare.post('/x', async () => 'ok')
  bare.addHook('onSend', async (_request, reply) => { listening.push(reply.raw.listenerCount('close')) })
  t.teardown(() => bare.close())
  await post(app, { content: 'hi' })
  await bare.inject({ method: 'POST', url: '/x' })
  t.equal(listening.length, 2)
  t.equal(listening[0], listening[1], 'as many close listeners as a route that never watched')
})

test('a duplicate on another replica waits for the first call and replays its answer, never sending again', async (t) => {
  // Two replicas share one store; the first one's call is held until released.
  const store = new MemoryStore({ maxKeys: 100 })
  let polls = 0
  const read = store.get.bind(store)
  store.get = async (id) => { polls++; return await read(id) }
  const release = Promise.withResolvers<void>()
  const idempotency = () => new Idempotency({ store, ttlMs: 60_000, pendingTtlMs: 60_000, pollIntervalMs: 5 })
  // A message deadline shorter than the pending margin: the marker must still outlive it.
  const first = await route(t, async () => { await release.promise; return answer('once') }, { idempotency: idempotency(), deadlineMs: 1000 })
  const second = await route(t, async () => answer('twice'), { idempotency: idempotency(), deadlineMs: 1000 })
  const key = { 'idempotency-key': 'a-key-of-enough-length' }
  const led = post(first.app, { content: 'hi' }, key)
  await until(() => first.seen.sent.length === 1, 'the first replica is calling upstream')
  const duplicate = post(second.app, { content: 'hi' }, key)
  await until(() => polls > 0 || second.seen.sent.length > 0, 'the second replica found the first one\'s call pending')
  release.resolve()
  const [a, b] = await Promise.all([led, duplicate])
  t.equal(a.body, '{"messageId":7,"content":"once"}')
  t.equal(b.statusCode, 200)
  t.equal(b.body, a.body, 'the first answer, replayed')
  t.equal(b.headers['idempotent-replayed'], 'true')
  t.equal(second.seen.sent.length, 0, 'the message went upstream once')
})

/** Quotas in memory; `tokensFail` makes adding an answer's tokens fail (served open). */
function quotas (limits: QuotaLimits, tokensFail = false): Quotas {
  const store = new MemoryQuotaStore()
  const add = store.add.bind(store)
  store.add = async (key, amount, expiresAtMs) => {
    if (tokensFail && key.startsWith('tokens:')) throw new Error('store down')
    return await add(key, amount, expiresAtMs)
  }
  return new Quotas({ limits, store, onStoreError: 'open', onStoreFailure () {} })
}

const quota = (headers: Record<string, unknown>) => [headers['x-quota-limit'], headers['x-quota-remaining']]

test('the quota headers: the messages quota\'s when there is one; with a tokens quota alone, its state after the answer', async (t) => {
  const both = await route(t, async () => answer('hi', 30), { quotas: quotas({ messages: 5, tokens: 100 }) })
  t.same(quota((await post(both.app, { content: 'hi' })).headers), ['5', '4'])
  const tokensAlone = await route(t, async () => answer('hi', 30), { quotas: quotas({ tokens: 100 }) })
  t.same(quota((await post(tokensAlone.app, { content: 'hi' })).headers), ['100', '70'])
  const uncounted = await route(t, async () => answer('hi', 30), { quotas: quotas({ tokens: 100 }, true) })
  t.same(quota((await post(uncounted.app, { content: 'hi' })).headers), ['100', '100'], 'the tokens could not be added: the state before the answer')
})

/** A stream the test feeds by hand, and the aborts its upstream request heard. */
function feed () {
  const heard = { aborted: [] as unknown[] }
  const controller = { pause () {}, resume () {}, abort: (reason: unknown) => { heard.aborted.push(reason) } }
  const body = new RelayStream(controller as never, new StreamScrubber([]), 60_000, 60_000)
  return { body, heard }
}

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as AddressInfo).port
}

function postOver (port: number, body: unknown) {
  const payload = JSON.stringify(body)
  return httpRequest({ host: '127.0.0.1', port, method: 'POST', path: `/sessions/${SESSION}/messages`, headers: { 'session-token': TOKEN, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } })
    .end(payload)
}

test('a stream is written as it comes: its headers before any byte, then each chunk', async (t) => {
  const { body } = feed()
  const { app, seen } = await route(t, async () => ({ kind: 'stream', contentType: 'text/event-stream', body, attempts: 1 }))
  app.addHook('onRequest', async (_request, reply) => { reply.header('x-request-id', 'req-1') })
  const port = await listen(app)
  const response = await new Promise<IncomingMessage>((resolve) => { postOver(port, { content: 'hi', stream: true }).on('response', resolve) })
  t.equal(response.statusCode, 200, 'the status and headers came with no byte of the body yet')
  t.equal(response.headers['content-type'], 'text/event-stream')
  t.equal(response.headers['cache-control'], 'no-store')
  t.equal(response.headers['x-accel-buffering'], 'no')
  t.equal(response.headers['x-request-id'], 'req-1', 'the hooks\' headers too')
  const chunks: string[] = []
  response.setEncoding('utf8').on('data', (chunk: string) => { chunks.push(chunk) })
  body.receive(Buffer.from('data: one\n\n'))
  await until(() => chunks.length === 1, 'the first chunk arrived on its own')
  body.receive(Buffer.from('data: two\n\n'))
  body.complete()
  await new Promise((resolve) => response.on('end', resolve))
  t.equal(chunks.join(''), 'data: one\n\ndata: two\n\n')
  t.same(seen.counted, ['streamed'])
})

test('a stream cut by the upstream cuts the response, no clean end; Fastify hears of it as the response\'s failure, when it listens', async (t) => {
  for (const hooked of [true, false]) {
    const { body } = feed()
    const { app, seen } = await route(t, async () => ({ kind: 'stream', contentType: 'text/event-stream', body, attempts: 1 }), {}, hooked)
    const port = await listen(app)
    const response = await new Promise<IncomingMessage>((resolve) => { postOver(port, { content: 'hi', stream: true }).on('response', resolve) })
    const ended = new Promise<string>((resolve) => {
      response.on('end', () => resolve('clean end')).on('aborted', () => resolve('aborted')).on('error', () => resolve('aborted'))
    })
    response.resume()
    body.receive(Buffer.from('data: one\n\n'))
    t.doesNotThrow(() => body.fail(), hooked ? 'with Fastify listening' : 'with nothing listening for the response\'s errors')
    t.equal(await ended, 'aborted')
    if (hooked) t.same(seen.outcomes, [{ attempts: 1, streamEnd: 'upstream_reset' }], 'the completion hooks ran, with how the stream ended')
  }
})

test('a client that left just as the stream began: the stream is ended at once, so its upstream request is aborted', async (t) => {
  const { body, heard } = feed()
  const { app } = await route(t, async ({ clientSignal }) => {
    // The answer's headers arrive as the client goes.
    await new Promise<void>((resolve) => { clientSignal.addEventListener('abort', () => { resolve() }) })
    return { kind: 'stream', contentType: 'text/event-stream', body, attempts: 1 }
  })
  const port = await listen(app)
  const request = postOver(port, { content: 'hi', stream: true })
  request.on('error', () => {})
  await new Promise((resolve) => setTimeout(resolve, 50))
  request.destroy()
  await until(() => heard.aborted.length === 1, 'the upstream request was aborted')
  t.equal(body.end, 'client_gone')
})
