import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { Pool } from 'undici'
import { Cancel } from '../../../src/lib/cancel.ts'
import { relay, relayedContentType } from '../../../src/upstream/relay.ts'
import type { RelayRequest } from '../../../src/upstream/relay.ts'

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
