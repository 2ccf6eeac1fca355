// Reading siteverify's answers as undici hands them over, from a loopback server: the
// fields kept, which statuses are read and which dumped, the size cap, and bodies
// always consumed so the connection is reused.
import { createServer } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { Pool } from 'undici'
import { MAX_SITEVERIFY_BYTES, readSiteverify } from '../../../src/bot-check/siteverify.ts'

type Answer = (response: ServerResponse) => void

/** A server that answers each path as `answers` says; counts its connections. */
async function serve (t: Test, answers: Record<string, Answer>) {
  let connections = 0
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => answers[request.url!]!(response))
  })
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 1 })
  t.teardown(async () => {
    await pool.destroy()
    server.closeAllConnections()
    server.close()
  })
  const read = async (path: string) => await readSiteverify(await pool.request({ path, method: 'POST', body: '{}' }))
  return { read, connections: () => connections }
}

const send = (status: number, body: string, headers: Record<string, string> = {}): Answer => (response) => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers })
  response.end(body)
}

test('only the fields the checker judges by are kept', async (t) => {
  const { read } = await serve(t, {
    '/full': send(200, JSON.stringify({ success: true, 'error-codes': [], hostname: 'chat.example.com', action: 'start', cdata: 'x', metadata: { ephemeral_id: 'e' } })),
    '/bare': send(200, '{"success":false}'),
    '/odd': send(200, JSON.stringify({ success: false, 'error-codes': ['invalid-input-response', 7, null], hostname: 5, action: ['a'] }))
  })
  t.same(await read('/full'), { kind: 'siteverify', success: true, errorCodes: [], hostname: 'chat.example.com', action: 'start' })
  t.same(await read('/bare'), { kind: 'siteverify', success: false, errorCodes: [], hostname: '', action: undefined })
  t.same(await read('/odd'), { kind: 'siteverify', success: false, errorCodes: ['invalid-input-response'], hostname: '', action: undefined })
})

test('statuses: 2xx and 4xx are read, redirects and 5xx dumped (5xx worth a retry)', async (t) => {
  const refusal = JSON.stringify({ success: false, 'error-codes': ['bad-request'] })
  const { read } = await serve(t, {
    '/400-json': send(400, refusal),
    '/400-html': send(400, '<html>400</html>', { 'content-type': 'text/html' }),
    '/200-html': send(200, '<html>hi</html>', { 'content-type': 'text/html' }),
    '/200-array': send(200, '[true]'),
    '/302': send(302, refusal, { location: '/400-json' }),
    '/300': send(300, refusal),
    '/200-null': send(200, 'null'),
    '/503': send(503, refusal),
    '/500': send(500, '')
  })
  t.same(await read('/400-json'), { kind: 'siteverify', success: false, errorCodes: ['bad-request'], hostname: '', action: undefined }, 'a refusal in a 4xx')
  t.same(await read('/400-html'), { kind: 'unusable', cause: 'status_400', retry: false })
  t.same(await read('/200-html'), { kind: 'unusable', cause: 'bad_response', retry: false })
  t.same(await read('/200-array'), { kind: 'unusable', cause: 'bad_response', retry: false })
  t.same(await read('/302'), { kind: 'unusable', cause: 'status_302', retry: false }, 'its body is not believed')
  t.same(await read('/300'), { kind: 'unusable', cause: 'status_300', retry: false }, 'the first 3xx too')
  t.same(await read('/200-null'), { kind: 'unusable', cause: 'bad_response', retry: false }, 'null is no answer')
  t.same(await read('/503'), { kind: 'unusable', cause: 'status_503', retry: true })
  t.same(await read('/500'), { kind: 'unusable', cause: 'status_500', retry: true })
})

test('a body larger than the cap is refused, announced or streamed', async (t) => {
  const exact = JSON.stringify({ success: true, hostname: 'a.example' })
  const fill = (size: number): string => exact.slice(0, -1) + ' '.repeat(size - exact.length) + '}'
  const { read } = await serve(t, {
    '/exact': send(200, fill(MAX_SITEVERIFY_BYTES)),
    '/announced': send(200, fill(MAX_SITEVERIFY_BYTES + 1)),
    '/streamed': (response) => {
      response.writeHead(200, { 'content-type': 'application/json' }) // chunked: no length announced
      response.write(fill(MAX_SITEVERIFY_BYTES).slice(0, -1))
      response.end(' }')
    }
  })
  t.match(await read('/exact'), { kind: 'siteverify', success: true }, 'exactly the cap is read')
  t.same(await read('/announced'), { kind: 'unusable', cause: 'bad_response', retry: false })
  t.same(await read('/streamed'), { kind: 'unusable', cause: 'bad_response', retry: false })
  t.equal(MAX_SITEVERIFY_BYTES, 8192)
})

test('every body is consumed: one keep-alive connection serves them all', async (t) => {
  const { read, connections } = await serve(t, {
    '/503': send(503, 'x'.repeat(1000)),
    '/302': send(302, 'moved', { location: '/' }),
    '/200': send(200, '{"success":true}')
  })
  for (const path of ['/503', '/302', '/200', '/503', '/200']) await read(path)
  t.equal(connections(), 1)
})

test('a large error body unread would hold the connection: it is dumped, and the next request is served', async (t) => {
  const { read } = await serve(t, {
    '/503': send(503, 'x'.repeat(512 * 1024)),
    '/200': send(200, '{"success":true}')
  })
  t.same(await read('/503'), { kind: 'unusable', cause: 'status_503', retry: true })
  let timer: NodeJS.Timeout | undefined
  const stalled = new Promise((resolve) => { timer = setTimeout(resolve, 2000, 'stalled') })
  t.match(await Promise.race([read('/200'), stalled]), { kind: 'siteverify', success: true })
  clearTimeout(timer)
})

test('an announced body past the cap is refused unread, its connection closed, and the next answer served', async (t) => {
  const { read, connections } = await serve(t, {
    '/huge': send(200, JSON.stringify({ success: true, pad: 'x'.repeat(512 * 1024) })),
    '/200': send(200, '{"success":true}')
  })
  t.same(await read('/huge'), { kind: 'unusable', cause: 'bad_response', retry: false })
  t.match(await read('/200'), { kind: 'siteverify', success: true }, 'the next one is served')
  t.equal(connections(), 2, 'the oversized answer\'s connection was closed, not reused')
})
