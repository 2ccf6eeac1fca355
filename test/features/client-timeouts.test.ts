// Slow clients are cut off: headers within CLIENT_HEADERS_TIMEOUT_MS, the whole request
// within CLIENT_REQUEST_TIMEOUT_MS; idle kept-alive connections after KEEP_ALIVE_TIMEOUT_MS.
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { setup } from '../helpers/setup.ts'

async function slowClient (port: number, first: string): Promise<{ closedAfterMs: number, answer: string }> {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  const started = performance.now()
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString() })
  socket.write(first)
  await new Promise((resolve) => socket.once('close', resolve))
  return { closedAfterMs: performance.now() - started, answer }
}

test('a client that never finishes its headers is cut off', async (t) => {
  const { app } = await setup(t, { CLIENT_HEADERS_TIMEOUT_MS: '1000', CLIENT_REQUEST_TIMEOUT_MS: '5000' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const { closedAfterMs, answer } = await slowClient(port, 'POST /sessions HTTP/1.1\r\nHost: x\r\n')
  t.ok(closedAfterMs >= 900 && closedAfterMs < 3500, `closed after ${Math.round(closedAfterMs)} ms`)
  t.match(answer, /^HTTP\/1\.1 408/)
})

test('a client that never finishes its body is cut off', async (t) => {
  const { app } = await setup(t, { CLIENT_HEADERS_TIMEOUT_MS: '1000', CLIENT_REQUEST_TIMEOUT_MS: '1500' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const { closedAfterMs } = await slowClient(port, 'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"ser')
  t.ok(closedAfterMs >= 1400 && closedAfterMs < 4000, `closed after ${Math.round(closedAfterMs)} ms`)
})

test('KEEP_ALIVE_TIMEOUT_MS: an idle kept-alive connection is closed after it, not before', async (t) => {
  const { app } = await setup(t, { KEEP_ALIVE_TIMEOUT_MS: '1000' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let answer = ''
  const answered = new Promise<void>((resolve) => socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString()
    if (answer.includes('{"status":"ok"}')) resolve()
  }))
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  await answered
  const idleFrom = performance.now()
  t.match(answer, /keep-alive/i, 'the connection is kept alive')
  await new Promise((resolve) => socket.once('close', resolve))
  const idleMs = performance.now() - idleFrom
  t.ok(idleMs >= 900 && idleMs < 4000, `closed after ${Math.round(idleMs)} ms idle`)
})
