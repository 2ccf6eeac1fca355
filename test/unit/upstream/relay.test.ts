import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { Pool } from 'undici'
import type { Dispatcher } from 'undici'
import { Cancel } from '../../../src/lib/cancel.ts'
import { played } from '../../helpers/played-dispatcher.ts'
import { relay, relayedContentType } from '../../../src/upstream/relay.ts'
import type { RelayRequest } from '../../../src/upstream/relay.ts'
import { classifyFailure } from '../../../src/upstream/classify.ts'

test('relayed content types: the known stream formats with their parameters, anything else as octet-stream', async (t) => {
  t.equal(relayedContentType('text/event-stream; charset=utf-8'), 'text/event-stream; charset=utf-8')
  t.equal(relayedContentType('Application/X-NDJSON'), 'Application/X-NDJSON')
  t.equal(relayedContentType('text/plain;charset=utf-8'), 'text/plain;charset=utf-8')
  for (const other of ['text/html', 'application/json-seq', 'text/event-streamx', undefined, '']) {
    t.equal(relayedContentType(other), 'application/octet-stream', String(other))
  }
})

/** A local upstream answering with `status`, `type` and the chunks given, `gapMs` apart. */
async function upstream (t: Test, status: number, type: string, chunks: string[], gapMs = 0) {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': type })
    let i = 0
    const next = (): void => {
      if (i < chunks.length) {
        res.write(chunks[i++])
        setTimeout(next, gapMs)
      } else res.end()
    }
    next()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const pool = new Pool(origin)
  t.teardown(async () => {
    await pool.destroy()
    server.closeAllConnections()
    server.close()
  })
  const request = (overrides: Partial<RelayRequest> = {}): RelayRequest => ({
    origin, path: '/ask', headers: {}, body: '{}', maxBodyBytes: 100, idleMs: 1000, maxMs: 5000, secrets: ['SECRET-1'], ...overrides
  })
  return { pool, request }
}

test('a non-2xx or JSON answer is read whole, to be classified', async (t) => {
  for (const [status, type] of [[200, 'application/json; charset=utf-8'], [500, 'text/event-stream'], [404, 'text/plain']] as const) {
    const { pool, request } = await upstream(t, status, type, ['{"a":', '1}'])
    const result = await relay(pool, request(), new Cancel())
    t.same(result, { kind: 'answer', answer: { status, headers: result.kind === 'answer' ? result.answer.headers : {}, body: '{"a":1}' } }, `${status} ${type}`)
  }
})

test('a JSON answer over the limit is not read', async (t) => {
  const { pool, request } = await upstream(t, 200, 'application/json', ['x'.repeat(60), 'y'.repeat(60)])
  const result = await relay(pool, request(), new Cancel())
  t.equal(result.kind === 'answer' && result.answer.body, undefined)
})

test('any other 2xx is a stream: chunks as they come, secrets replaced, then its end', async (t) => {
  const { pool, request } = await upstream(t, 200, 'text/event-stream', ['data: a\n\n', 'data: SECR', 'ET-1\n\n'], 20)
  const result = await relay(pool, request(), new Cancel())
  if (result.kind !== 'stream') throw new Error('expected a stream')
  t.equal(result.contentType, 'text/event-stream')
  const ends: string[] = []
  result.body.onEnd((end) => ends.push(end))
  let text = ''
  for await (const chunk of result.body) text += String(chunk)
  t.equal(text, 'data: a\n\ndata: [REDACTED]\n\n')
  t.same(ends, ['completed'])
  t.equal(result.body.end, 'completed')
  const late: string[] = []
  result.body.onEnd((end) => late.push(end))
  t.same(late, ['completed'], 'a listener added after the end hears it at once')
})

test('a stream with no byte for idleMs is cut, the Readable failing', async (t) => {
  const { pool, request } = await upstream(t, 200, 'text/plain', ['one', 'two'], 300)
  const result = await relay(pool, request({ idleMs: 100 }), new Cancel())
  if (result.kind !== 'stream') throw new Error('expected a stream')
  await t.rejects(result.body.toArray(), { code: 'STREAM_CUT', reason: 'idle' })
  t.equal(result.body.end, 'idle')
})

test('the signal ends the request before its headers; after them, the stream is on its own', async (t) => {
  const { pool, request } = await upstream(t, 200, 'text/plain', ['a', 'b'], 50)
  const cancel = new Cancel()
  cancel.abort(new Error('gone'))
  await t.rejects(relay(pool, request(), cancel), { message: 'gone' })
  const live = new Cancel()
  const result = await relay(pool, request(), live)
  live.abort(new Error('too late'))
  if (result.kind !== 'stream') throw new Error('expected a stream')
  let text = ''
  for await (const chunk of result.body) text += String(chunk)
  t.equal(text, 'ab')
})

test('destroying the stream (the client left) aborts the upstream request', async (t) => {
  const { pool, request } = await upstream(t, 200, 'text/plain', Array.from({ length: 50 }, () => 'x'), 20)
  const result = await relay(pool, request(), new Cancel())
  if (result.kind !== 'stream') throw new Error('expected a stream')
  result.body.on('error', () => {})
  result.body.destroy()
  t.equal(result.body.end, 'client_gone')
})

// Below, the test plays undici's part through the dispatch handler: when the request
// starts, what arrives, when it fails; and it sees each pause, resume and abort undici is given.

const REQUEST: RelayRequest = { origin: 'http://unused', path: '/ask', headers: {}, body: '{}', maxBodyBytes: 1024, idleMs: 60_000, maxMs: 120_000, secrets: ['SECRET-1'] }

/** A relay whose headers said "stream": the stream, and the test's hold on undici's side. */
async function streaming (request: Partial<RelayRequest> = {}) {
  const p = played()
  const result = relay(p.dispatcher, { ...REQUEST, ...request }, new Cancel())
  p.handler().onRequestStart!(p.controller, {})
  p.handler().onResponseStart!(p.controller, 200, { 'content-type': 'text/event-stream' }, '')
  const settled = await result
  if (settled.kind !== 'stream') throw new Error('expected a stream')
  return { ...p, body: settled.body }
}

const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length

test('media types are compared without their spacing or case; a +json type is an answer, not a stream', async (t) => {
  t.equal(relayedContentType('Text/Event-Stream ; charset=utf-8'), 'Text/Event-Stream ; charset=utf-8')
  const p = played()
  const result = relay(p.dispatcher, REQUEST, new Cancel())
  p.handler().onRequestStart!(p.controller, {})
  p.handler().onResponseStart!(p.controller, 200, { 'content-type': 'application/problem+json' }, '')
  p.handler().onResponseData!(p.controller, Buffer.from('{"title":"x"}'))
  p.handler().onResponseEnd!(p.controller, {})
  t.match(await result, { kind: 'answer', answer: { status: 200, body: '{"title":"x"}' } })
})

test('a JSON answer announced over the limit is refused at its headers, once; one of exactly the limit is read', async (t) => {
  const over = played()
  const refused = relay(over.dispatcher, REQUEST, new Cancel())
  over.handler().onRequestStart!(over.controller, {})
  over.handler().onResponseStart!(over.controller, 200, { 'content-type': 'application/json', 'content-length': '1025' }, '')
  t.match(await refused, { kind: 'answer', answer: { status: 200, body: undefined } })
  t.equal(over.aborts.length, 1, 'aborted before any byte of the body')
  t.match(over.aborts[0], { message: 'upstream body over the limit' })
  over.handler().onResponseData!(over.controller, Buffer.alloc(2000))
  t.equal(over.aborts.length, 1, 'bytes after the refusal are not counted again')

  const exact = played()
  const read = relay(exact.dispatcher, REQUEST, new Cancel())
  exact.handler().onRequestStart!(exact.controller, {})
  exact.handler().onResponseStart!(exact.controller, 200, { 'content-type': 'application/json', 'content-length': '1024' }, '')
  exact.handler().onResponseData!(exact.controller, Buffer.alloc(1024, 'a'))
  exact.handler().onResponseEnd!(exact.controller, {})
  t.match(await read, { kind: 'answer', answer: { body: 'a'.repeat(1024) } })
  t.same(exact.aborts, [])
})

test('a JSON answer streamed past the limit is refused at the byte that passes it', async (t) => {
  const p = played()
  const result = relay(p.dispatcher, REQUEST, new Cancel())
  p.handler().onRequestStart!(p.controller, {})
  p.handler().onResponseStart!(p.controller, 200, { 'content-type': 'application/json' }, '')
  p.handler().onResponseData!(p.controller, Buffer.alloc(1000))
  p.handler().onResponseData!(p.controller, Buffer.alloc(24))
  t.same(p.aborts, [], 'exactly the limit is still read')
  p.handler().onResponseData!(p.controller, Buffer.alloc(1))
  t.equal(p.aborts.length, 1)
  t.match(await result, { kind: 'answer', answer: { body: undefined } })
})

test('the outcome before the headers settles once: an abort after an answer or a failure is not passed to undici', async (t) => {
  const answered = played()
  const signal = new Cancel()
  const result = relay(answered.dispatcher, REQUEST, signal)
  answered.handler().onRequestStart!(answered.controller, {})
  answered.handler().onResponseStart!(answered.controller, 502, { 'content-type': 'application/json' }, '')
  answered.handler().onResponseEnd!(answered.controller, {})
  t.match(await result, { kind: 'answer', answer: { status: 502, body: '' } })
  signal.abort(new Error('client left'))
  t.same(answered.aborts, [], 'the answer was complete')

  const failed = played()
  const other = new Cancel()
  const failure = relay(failed.dispatcher, REQUEST, other)
  failed.handler().onRequestStart!(failed.controller, {})
  const error = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })
  failed.handler().onResponseError!(failed.controller, error)
  await t.rejects(failure, error)
  other.abort(new Error('client left'))
  t.same(failed.aborts, [], 'the request had already failed')
})

test('an abort before undici hands over the request is passed on as soon as it does', async (t) => {
  const p = played()
  const signal = new Cancel()
  const result = relay(p.dispatcher, REQUEST, signal)
  const reason = new Error('client left')
  signal.abort(reason)
  await t.rejects(result, reason)
  p.handler().onRequestStart!(p.controller, {})
  t.same(p.aborts, [reason])
})

test('an aborted signal rejects without dispatching', async (t) => {
  const p = played()
  const gone = new Cancel()
  gone.abort(new Error('client left'))
  await t.rejects(relay(p.dispatcher, REQUEST, gone), { message: 'client left' })
  t.equal(p.dispatched(), 0)
})

test('a failure before the request started is not marked as sent; one after it started is', async (t) => {
  for (const started of [false, true]) {
    const p = played()
    const result = relay(p.dispatcher, REQUEST, new Cancel())
    if (started) p.handler().onRequestStart!(p.controller, {})
    p.handler().onResponseError!(p.controller, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
    const error = await result.catch((caught: unknown) => caught)
    t.equal(classifyFailure(error, false).facts.notSent, !started, started ? 'started: may have been sent' : 'not started: not sent')
  }
  const error = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  const throwing = { dispatch: () => { throw error } } as unknown as Dispatcher
  const caught = await relay(throwing, REQUEST, new Cancel()).catch((e: unknown) => e)
  t.equal(caught, error, 'a dispatch that throws fails the relay')
  t.equal(classifyFailure(caught, false).facts.notSent, true)
})

test('a stream: a chunk the reader cannot take yet pauses undici, a read resumes it; a small one does not', async (t) => {
  const { handler, controller, flow, body } = await streaming()
  handler().onResponseData!(controller, Buffer.from('data: a\n\n'))
  t.same(flow, [], 'taken: no pause')
  handler().onResponseData!(controller, Buffer.alloc(100 * 1024, 'x'))
  t.same(flow, ['pause'], 'past the Readable\'s buffer: undici paused')
  body.read()
  t.same(flow, ['pause', 'resume'], 'read: resumed')
  body.destroy()
})

test('a stream: bytes held back for a secret that may span chunks are sent at the end', async (t) => {
  const { handler, controller, body } = await streaming()
  let text = ''
  body.on('data', (chunk: Buffer) => { text += chunk.toString() })
  const ended = new Promise((resolve) => body.on('end', resolve))
  handler().onResponseData!(controller, Buffer.from('data: SEC'))
  handler().onResponseEnd!(controller, {})
  await ended
  t.equal(text, 'data: SEC', 'the tail that was not a secret after all')
  t.equal(body.end, 'completed')
})

test('a stream that ended takes no more chunks and holds no timers', async (t) => {
  const before = timers()
  const { handler, controller, body } = await streaming()
  t.equal(timers(), before + 2, 'the idle and total limits')
  let text = ''
  body.on('data', (chunk: Buffer) => { text += chunk.toString() })
  const ended = new Promise((resolve) => body.on('end', resolve))
  handler().onResponseData!(controller, Buffer.from('one'))
  handler().onResponseEnd!(controller, {})
  t.equal(timers(), before, 'both cleared at the end')
  handler().onResponseData!(controller, Buffer.from('two'))
  await ended
  t.equal(text, 'one')
})

test('a stream whose upstream connection fails mid-body fails with StreamCut upstream_reset', async (t) => {
  const { handler, controller, body } = await streaming()
  const failed = new Promise((resolve) => body.on('error', resolve))
  handler().onResponseError!(controller, Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))
  t.match(await failed, { name: 'StreamCut', code: 'STREAM_CUT', reason: 'upstream_reset', message: 'stream cut: upstream_reset' })
  t.equal(body.end, 'upstream_reset')
})

test('a stream idle too long is cut: undici is aborted with the same StreamCut the Readable fails with', async (t) => {
  const { aborts, body } = await streaming({ idleMs: 20 })
  const failed = await new Promise((resolve) => body.on('error', resolve))
  t.match(failed, { reason: 'idle', message: 'stream cut: idle' })
  t.same(aborts, [failed])
})

test('a chunk puts the idle limit off', async (t) => {
  const { handler, controller, body } = await streaming({ idleMs: 400 })
  const errors: unknown[] = []
  body.on('error', (error) => errors.push(error))
  body.resume()
  const started = performance.now()
  // A chunk every 40 ms for 800 ms: twice the idle limit in all, and a tenth of it between
  // chunks, so a busy machine's late timers stay far inside it.
  while (performance.now() - started < 800) {
    handler().onResponseData!(controller, Buffer.from('.'))
    await new Promise((resolve) => setTimeout(resolve, 40))
  }
  t.equal(body.end, undefined, 'still open')
  t.same(errors, [], 'never cut')
  body.destroy()
})
