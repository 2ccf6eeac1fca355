// Streamed replies over real sockets: chunks reach the client as the upstream writes them,
// secrets are replaced even across chunks, and a stream that fails after its 200 is cut
// off (never ended cleanly) with the reason in the completion line; a client that leaves
// aborts the upstream request.
import { test } from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { createSession, setup, TEST_KEY } from '../helpers/setup.ts'
import type { Harness } from '../helpers/setup.ts'
import { metricValue, until } from '../helpers/waiting.ts'

async function listening (t: Test, env: Record<string, string> = {}): Promise<Harness & { url: string, session: { sessionId: string, sessionToken: string } }> {
  const harness = await setup(t, { MESSAGE_RATE_LIMIT_MAX: '1000', ...env })
  const url = await harness.app.listen({ port: 0, host: '127.0.0.1' })
  return { ...harness, url, session: await createSession(harness.app) }
}

function ask (url: string, session: { sessionId: string, sessionToken: string }, content: string, signal?: AbortSignal) {
  return request(`${url}/sessions/${session.sessionId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'session-token': session.sessionToken },
    body: JSON.stringify({ content, stream: true }),
    signal
  })
}

/** Reads the whole body, noting when each chunk arrived (ms after `started`); a cut stream rejects. */
async function chunks (body: AsyncIterable<Buffer>, started: number): Promise<{ text: string, arrivals: number[] }> {
  let text = ''
  const arrivals: number[] = []
  for await (const chunk of body) {
    arrivals.push(Date.now() - started)
    text += chunk.toString('utf8')
  }
  return { text, arrivals }
}

const completion = (h: Harness): Record<string, unknown> | undefined =>
  h.logs.entries.filter((e) => e.msg === 'request completed' && String((e.req as { url: string }).url).endsWith('/messages')).at(-1)

test('each chunk reaches the client as it arrives, before the upstream has finished', async (t) => {
  const h = await listening(t)
  const started = Date.now()
  const res = await ask(h.url, h.session, 'sim:chunks-6-100')
  t.equal(res.statusCode, 200)
  const { text, arrivals } = await chunks(res.body, started)
  t.equal(arrivals.length >= 6, true, `${arrivals.length} chunks`)
  const last = arrivals.at(-1)!
  t.ok(last >= 500, `the upstream took ${last} ms`)
  t.ok(arrivals[0]! < last - 400, `the first chunk came at ${arrivals[0]} ms, the last at ${last} ms`)
  t.match(text, /^data: \{"content":/)
  t.match(text, /data: \[DONE\]\n\n$/)
  t.equal(completion(h)?.streamEnd, 'completed')
  t.equal(await metricValue(h.metrics, 'hottask_proxy_message_streams_total{end="completed"}'), 1)
  t.equal(await metricValue(h.metrics, 'hottask_proxy_message_concurrency'), 0, 'the slot is free once the stream ended')
  t.equal(await metricValue(h.metrics, 'hottask_proxy_message_first_byte_seconds_count'), 1)
})

test('the relayed headers: the stream type, no-store, no buffering, a request id, and no other upstream header', async (t) => {
  const h = await listening(t)
  const res = await ask(h.url, h.session, 'hello')
  await res.body.text()
  t.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8')
  t.equal(res.headers['cache-control'], 'no-store')
  t.equal(res.headers['x-accel-buffering'], 'no')
  t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['set-cookie'], undefined, 'the upstream\'s cookie never reaches the client')
  for (const [kind, expected] of [['ndjson', 'application/x-ndjson'], ['text', 'text/plain; charset=utf-8'], ['binary', 'application/octet-stream'], ['html', 'application/octet-stream']] as const) {
    const typed = await ask(h.url, h.session, `sim:type-${kind}`)
    t.equal(typed.headers['content-type'], expected, kind)
    t.equal(await typed.body.text(), 'raw-1 raw-2', `${kind}: the bytes unchanged`)
  }
})

test('attack: the key echoed into a stream, split across two chunks, reaches the client as [REDACTED]', async (t) => {
  const h = await listening(t)
  const res = await ask(h.url, h.session, 'sim:key')
  const text = await res.body.text()
  t.equal(text, 'data: key=[REDACTED] end\n\n')
  t.notMatch(text, TEST_KEY.slice(0, 8))
  t.notMatch(text, TEST_KEY.slice(-8))
})

test('a JSON answer to a streamed request is answered whole; a failure is mapped, nothing streamed', async (t) => {
  const h = await listening(t)
  const whole = await ask(h.url, h.session, 'sim:json')
  t.equal(whole.statusCode, 200)
  t.equal(await whole.body.text(), '{"messageId":375561,"content":"not streamed after all","totalTokens":29}')
  const missing = await ask(h.url, h.session, 'sim:code-404')
  t.equal(missing.statusCode, 404)
  t.equal((await missing.body.json() as { code: string }).code, 'SESSION_NOT_FOUND')
  const limited = await ask(h.url, h.session, 'sim:http-429-ra-3')
  t.equal(limited.statusCode, 503)
  t.equal(limited.headers['retry-after'], '3')
  await limited.body.dump()
})

test('an upstream reset after the 200 cuts the client off: a truncated response, never a clean end', async (t) => {
  const h = await listening(t)
  const res = await ask(h.url, h.session, 'sim:reset')
  t.equal(res.statusCode, 200)
  await t.rejects(chunks(res.body, Date.now()), 'the body fails instead of ending')
  await until(() => completion(h)?.streamEnd === 'upstream_reset', 'the completion line says why')
  t.equal(completion(h)?.level, 30)
})

test('STREAM_IDLE_TIMEOUT_MS: a stream that goes silent is cut', async (t) => {
  const h = await listening(t, { STREAM_IDLE_TIMEOUT_MS: '200' })
  const started = Date.now()
  const res = await ask(h.url, h.session, 'sim:silent')
  await t.rejects(chunks(res.body, started))
  const elapsed = Date.now() - started
  t.ok(elapsed >= 190, `cut after ${elapsed} ms`)
  await until(() => completion(h)?.streamEnd === 'idle', 'logged as idle')
  t.equal(await metricValue(h.metrics, 'hottask_proxy_message_streams_total{end="idle"}'), 1)
})

test('STREAM_MAX_MS: a stream that runs too long is cut, however lively', async (t) => {
  const h = await listening(t, { STREAM_MAX_MS: '250', STREAM_IDLE_TIMEOUT_MS: '1000' })
  const started = Date.now()
  const res = await ask(h.url, h.session, 'sim:chunks-40-30')
  let received = 0
  await t.rejects((async () => { for await (const chunk of res.body) received += chunk.length })())
  t.ok(received > 0, `${received} bytes came before the cut`)
  t.ok(Date.now() - started < 1000, 'cut long before the upstream would have finished')
  await until(() => completion(h)?.streamEnd === 'too_long', 'logged as too long')
})

test('MESSAGE_TIMEOUT_MS covers a stream\'s headers: a slow first byte is 504', async (t) => {
  const h = await listening(t, { MESSAGE_TIMEOUT_MS: '200' })
  const res = await ask(h.url, h.session, 'sim:slow-1000')
  t.equal(res.statusCode, 504)
  t.equal((await res.body.json() as { code: string }).code, 'UPSTREAM_TIMEOUT')
})

test('a client that leaves mid-stream aborts the upstream request within a second', async (t) => {
  const h = await listening(t)
  const controller = new AbortController()
  const res = await ask(h.url, h.session, 'sim:chunks-200-50', controller.signal)
  const open = h.upstream.stats().openConnections
  await res.body[Symbol.asyncIterator]().next()
  const left = Date.now()
  controller.abort()
  await until(() => h.upstream.stats().openConnections < open, 'the upstream connection closes', 1000)
  t.ok(Date.now() - left < 1000, `closed ${Date.now() - left} ms after the client left`)
  await until(() => completion(h)?.streamEnd === 'client_gone', 'logged as client_gone')
  t.equal(await metricValue(h.metrics, 'hottask_proxy_message_concurrency'), 0)
})
