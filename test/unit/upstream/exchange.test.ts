// exchange(): one request through undici's dispatch API, against a real loopback server.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { Pool } from 'undici'
import type { Dispatcher } from 'undici'
import { exchange } from '../../../src/upstream/exchange.ts'
import { classifyFailure } from '../../../src/upstream/classify.ts'
import type { UpstreamAnswer } from '../../../src/upstream/classify.ts'
import { until } from '../../helpers/waiting.ts'
import { Cancel } from '../../../src/lib/cancel.ts'
import { played } from '../../helpers/played-dispatcher.ts'
import type { CancelSignal } from '../../../src/lib/cancel.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function serve (t: Test, handler: Handler): Promise<{ pool: Pool, connections: () => number }> {
  let connections = 0
  const server = createServer(handler)
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const pool = new Pool(origin, { connections: 1 })
  t.teardown(async () => {
    await pool.destroy()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { pool, connections: () => connections }
}

const send = (pool: Pool, signal = new AbortController().signal, maxBodyBytes = 1024) =>
  exchange(pool, { origin: 'http://unused', path: '/x', headers: { 'x-test': '1' }, body: '{"a":1}', maxBodyBytes }, signal)

test('the whole answer: status, headers and body, over one kept-alive connection', async (t) => {
  const { pool, connections } = await serve(t, (req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => { body += chunk.toString() })
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen': `${req.method} ${req.headers['x-test']} ${body}` })
      // Two chunks without a length: the body is put back together.
      res.write('{"Data":')
      res.end('1}')
    })
  })
  for (let i = 0; i < 3; i++) {
    const answer = await send(pool)
    t.equal(answer.status, 200)
    t.equal(answer.headers['x-seen'], 'POST 1 {"a":1}')
    t.equal(answer.body, '{"Data":1}')
  }
  t.equal(connections(), 1)
})

test('a body over the limit is not read: by its length, or as it streams', async (t) => {
  const { pool } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '5000' })
    res.end('y'.repeat(5000))
  })
  t.equal((await send(pool)).body, undefined)

  const streamed = await serve(t, (_req, res) => {
    res.writeHead(200)
    res.write('z'.repeat(800))
    setTimeout(() => res.end('z'.repeat(800)), 20)
  })
  const answer = await send(streamed.pool)
  t.equal(answer.status, 200)
  t.equal(answer.body, undefined)
})

test('a redirect is answered with an empty body and the connection is kept', async (t) => {
  const { pool, connections } = await serve(t, (_req, res) => {
    res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere', 'content-length': '9' })
    res.end('go there!')
  })
  t.same(await send(pool).then((a) => [a.status, a.body]), [302, ''])
  t.same(await send(pool).then((a) => [a.status, a.body]), [302, ''])
  t.equal(connections(), 1, 'never followed, socket reused')
})

test('an abort rejects with the signal\'s reason at once, even before a connection is free', async (t) => {
  const { pool } = await serve(t, () => { /* never answers */ })
  const first = new AbortController()
  const busy = send(pool, first.signal)
  // The pool has one connection, held by `busy`: this one waits in undici's queue.
  const queued = new AbortController()
  const waiting = send(pool, queued.signal)
  const reason = new Error('client left')
  const outcome = waiting.then(() => 'resolved', (error: unknown) => error)
  queued.abort(reason)
  // Settled before the event loop's next turn: nothing waited for the connection, which `busy` holds for ever.
  const nextTurn = new Promise((resolve) => setImmediate(() => resolve('still pending')))
  t.equal(await Promise.race([outcome, nextTurn]), reason, 'rejected at once with the signal\'s reason')

  first.abort(new Error('deadline'))
  await t.rejects(busy, { message: 'deadline' }, 'in flight too')
  const already = AbortSignal.abort(new Error('gone'))
  await t.rejects(send(pool, already), { message: 'gone' }, 'an aborted signal never dispatches')
})

test('network failures reject with undici\'s error', async (t) => {
  const { pool } = await serve(t, (req) => { req.socket.destroy() })
  await t.rejects(send(pool), { code: 'UND_ERR_SOCKET' })
  const refused = new Pool('http://127.0.0.1:1')
  t.teardown(() => refused.destroy())
  await t.rejects(send(refused), { code: 'ECONNREFUSED' })
})

test('with settle: the answer is resolved as settle makes it, or rejected with what it throws', async (t) => {
  const { pool } = await serve(t, (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}') })
  const signal = new Cancel()
  const request = { origin: 'http://unused', path: '/x', headers: {}, body: '{}', maxBodyBytes: 1024 }
  const settled = await exchange(pool, request, signal, { answer: (answer) => `${answer.status}:${answer.body}`, failure: () => new Error('unused') })
  t.equal(settled, '200:{"a":1}')
  await t.rejects(exchange(pool, request, signal, { answer: () => { throw new Error('not a session') }, failure: (error) => error }), { message: 'not a session' })
})

test('with settle: a failure or an abort rejects with what settle makes of it, even if settle itself throws', async (t) => {
  const request = { origin: 'http://unused', path: '/x', headers: {}, body: '{}', maxBodyBytes: 1024 }
  const { pool } = await serve(t, (_req, res) => { res.destroy() })
  const seen: unknown[] = []
  const settle = { answer: () => 'unused', failure: (error: unknown, signal: CancelSignal) => { seen.push(signal.aborted); return new Error(`classified: ${(error as Error).name}`) } }
  await t.rejects(exchange(pool, request, new Cancel(), settle), { message: /^classified: / })
  const gone = new Cancel()
  gone.abort(new Error('client left'))
  await t.rejects(exchange(pool, request, gone, settle), { message: 'classified: Error' }, 'already aborted: settled at once')
  t.same(seen, [false, true])
  const broken = { answer: () => 'unused', failure: () => { throw new Error('a bug in settle') } }
  await t.rejects(exchange(pool, request, new Cancel(), broken), { message: 'a bug in settle' })
  await t.rejects(exchange(pool, request, gone, broken), { message: 'a bug in settle' }, 'already aborted, and settle throws')
})

test('a body of exactly the limit is read, announced or streamed; one byte more is not', async (t) => {
  const sizes = new Map([['/announced-exact', 1024], ['/announced-over', 1025], ['/streamed-exact', 1024], ['/streamed-over', 1025]])
  const { pool } = await serve(t, (req, res) => {
    const size = sizes.get(req.url!)!
    if (req.url!.startsWith('/announced')) {
      res.writeHead(200, { 'content-length': String(size) }).end('a'.repeat(size))
    } else {
      res.writeHead(200) // chunked: no length announced
      res.write('s'.repeat(512))
      setTimeout(() => res.end('s'.repeat(size - 512)), 5)
    }
  })
  const at = (path: string) => exchange(pool, { origin: 'http://unused', path, headers: {}, body: '{}', maxBodyBytes: 1024 }, new AbortController().signal)
  t.equal((await at('/announced-exact')).body, 'a'.repeat(1024))
  t.equal((await at('/announced-over')).body, undefined)
  t.equal((await at('/streamed-exact')).body, 's'.repeat(1024))
  t.equal((await at('/streamed-over')).body, undefined)
})

test('every 3xx, from 300 to 399, is a redirect answered without its body; 299 and 400 are read', async (t) => {
  const { pool } = await serve(t, (req, res) => { res.writeHead(Number(req.url!.slice(1))).end('the body') })
  const at = async (status: number) => (await exchange(pool, { origin: 'http://unused', path: `/${status}`, headers: {}, body: '{}', maxBodyBytes: 1024 }, new AbortController().signal)).body
  t.equal(await at(300), '')
  t.equal(await at(399), '')
  t.equal(await at(299), 'the body')
  t.equal(await at(400), 'the body')
})

test('a request aborted while it waits for the connection is never sent, once the connection frees', async (t) => {
  let requests = 0
  let answerFirst = (): void => {}
  const { pool } = await serve(t, (_req, res) => {
    requests++
    answerFirst = () => { res.writeHead(200).end('{}') }
  })
  const busy = send(pool)
  const queued = new AbortController()
  const waiting = send(pool, queued.signal)
  queued.abort(new Error('client left'))
  await t.rejects(waiting, { message: 'client left' })
  await until(() => requests === 1, 'the first request arrived')
  answerFirst()
  t.equal((await busy).status, 200)
  // A request that went out now would be on the freed connection at once: give it the time to arrive.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(requests, 1, 'the aborted request never reached the upstream')
})

test('a connection refused is a failure before sending: classified as not sent', async (t) => {
  const refused = new Pool('http://127.0.0.1:1')
  t.teardown(() => refused.destroy())
  const error = await send(refused).catch((caught: unknown) => caught)
  t.equal(classifyFailure(error, false).facts.notSent, true)
})

// Below, the test plays undici's part through the dispatch handler: it decides when the
// request starts, what arrives and when it fails, and sees each abort undici is given.

/** A settle that counts what it is asked to make. */
function counted () {
  const seen = { answers: 0, failures: [] as unknown[] }
  const settle = {
    answer: (answer: UpstreamAnswer) => { seen.answers++; return answer },
    failure: (error: unknown) => { seen.failures.push(error); return error }
  }
  return { seen, settle }
}

const REQUEST = { origin: 'http://unused', path: '/x', headers: {}, body: '{}', maxBodyBytes: 1024 }

test('a body announced over the limit is refused at the headers: undici is told why, once, and nothing after counts', async (t) => {
  const { dispatcher, handler, controller, aborts } = played()
  const { seen, settle } = counted()
  const answer = exchange(dispatcher, REQUEST, new Cancel(), settle)
  handler().onRequestStart!(controller, {})
  handler().onResponseStart!(controller, 200, { 'content-length': '1025' }, '')
  t.same(await answer, { status: 200, headers: { 'content-length': '1025' }, body: undefined })
  t.equal(aborts.length, 1, 'aborted before any byte of the body')
  t.match(aborts[0], { name: 'BodyTooLarge', message: 'upstream body over the limit' })
  // What undici does next: the body's bytes already in flight, then the abort as an error.
  handler().onResponseData!(controller, Buffer.alloc(2000))
  handler().onResponseError!(controller, aborts[0] as Error)
  t.equal(aborts.length, 1, 'bytes after the refusal are not counted again')
  t.same(seen, { answers: 1, failures: [] }, 'settled once: the abort that follows is not a failure')
})

test('a redirect is never a body over the limit, announced or streamed', async (t) => {
  const { dispatcher, handler, controller, aborts } = played()
  const answer = exchange(dispatcher, REQUEST, new Cancel())
  handler().onRequestStart!(controller, {})
  handler().onResponseStart!(controller, 302, { 'content-length': '999999', location: '/elsewhere' }, '')
  handler().onResponseData!(controller, Buffer.alloc(2000))
  handler().onResponseEnd!(controller, {})
  t.match(await answer, { status: 302, body: '' })
  t.same(aborts, [], 'read to its end, so the connection is kept')
})

test('the outcome settles once: nothing after a failure answers or fails again', async (t) => {
  const { dispatcher, handler, controller } = played()
  const { seen, settle } = counted()
  const failure = exchange(dispatcher, REQUEST, new Cancel(), settle)
  const error = Object.assign(new Error('socket hang up'), { code: 'UND_ERR_SOCKET' })
  handler().onResponseError!(controller, error)
  await t.rejects(failure, error)
  handler().onResponseEnd!(controller, {})
  t.same(seen, { answers: 0, failures: [error] }, 'one failure, no answer')
})

test('the outcome settles once: an abort after the answer changes nothing', async (t) => {
  const { dispatcher, handler, controller, aborts } = played()
  const { seen, settle } = counted()
  const signal = new Cancel()
  const answer = exchange(dispatcher, REQUEST, signal, settle)
  handler().onRequestStart!(controller, {})
  handler().onResponseStart!(controller, 200, {}, '')
  handler().onResponseData!(controller, Buffer.from('{"a":1}'))
  handler().onResponseEnd!(controller, {})
  t.match(await answer, { status: 200, body: '{"a":1}' })
  signal.abort(new Error('client left'))
  t.same(seen, { answers: 1, failures: [] })
  t.same(aborts, [], 'undici is not told of an abort that came after the answer')
})

test('an abort before undici hands over the request is passed on as soon as it does', async (t) => {
  const { dispatcher, handler, controller, aborts } = played()
  const signal = new Cancel()
  const answer = exchange(dispatcher, REQUEST, signal)
  const reason = new Error('client left')
  signal.abort(reason)
  await t.rejects(answer, reason, 'rejected at once')
  t.same(aborts, [], 'no controller yet')
  handler().onRequestStart!(controller, {})
  t.same(aborts, [reason], 'the request is aborted with the signal\'s reason when it starts')
})

test('a failure before the request started is not marked as sent; one after it started is', async (t) => {
  for (const started of [false, true]) {
    const { dispatcher, handler, controller } = played()
    const answer = exchange(dispatcher, REQUEST, new Cancel())
    if (started) handler().onRequestStart!(controller, {})
    // A code that is "not sent" unless the request had started.
    handler().onResponseError!(controller, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
    const error = await answer.catch((caught: unknown) => caught)
    t.equal(classifyFailure(error, false).facts.notSent, !started, started ? 'started: may have been sent' : 'not started: not sent')
  }
})

test('an aborted signal rejects without dispatching, with what settle makes of it or what it throws', async (t) => {
  const { dispatcher, dispatched } = played()
  const gone = new Cancel()
  gone.abort(new Error('client left'))
  await t.rejects(exchange(dispatcher, REQUEST, gone, { answer: () => 'unused', failure: () => new Error('classified') }), { message: 'classified' })
  await t.rejects(exchange(dispatcher, REQUEST, gone, { answer: () => 'unused', failure: () => { throw new Error('a bug in settle') } }), { message: 'a bug in settle' })
  t.equal(dispatched(), 0, 'nothing was dispatched')
})

test('a dispatch that throws is a failure before sending', async (t) => {
  const error = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  const dispatcher = { dispatch: () => { throw error } } as unknown as Dispatcher
  const caught = await exchange(dispatcher, REQUEST, new Cancel()).catch((e: unknown) => e)
  t.equal(caught, error)
  t.equal(classifyFailure(caught, false).facts.notSent, true)
})
