import { test } from 'tap'
import type { Test } from 'tap'
import { createServer, request } from 'node:http'
import type { ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyReply } from 'fastify'
import { ClientWatch, watchClient } from '../../../src/http/client-gone.ts'
import { ClientGoneError } from '../../../src/lib/abort-reasons.ts'
import { until } from '../../helpers/waiting.ts'

/** A real server whose handler watches its client; the test's handler decides when to respond. */
async function serve (t: Test, handle: (watch: ClientWatch, respond: () => void, res: ServerResponse) => void) {
  const watches: ClientWatch[] = []
  const server = createServer((_req, res) => {
    const watch = watchClient({ raw: res } as unknown as FastifyReply)
    watches.push(watch)
    handle(watch, () => { watch.release(); res.end('done') }, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, watches }
}

test('a client that hangs up before its answer aborts the watch with ClientGoneError', async (t) => {
  const { port, watches } = await serve(t, () => {})
  const req = request({ port, host: '127.0.0.1', method: 'POST' })
  req.on('error', () => {})
  req.end()
  await until(() => watches.length === 1, 'the request arrived')
  t.equal(watches[0]!.aborted, false)
  t.equal(watches[0]!.signal, watches[0], 'the watch is its own signal')
  req.destroy()
  await until(() => watches[0]!.aborted, 'the watch aborted')
  t.type(watches[0]!.reason, ClientGoneError)
})

test('an answered request never aborts its watch, nor does the socket closing later', async (t) => {
  const { port, watches } = await serve(t, (_watch, respond) => respond())
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', agent: false }, (res) => {
      let text = ''
      res.on('data', (chunk: Buffer) => { text += chunk.toString() })
      res.on('end', () => resolve(text))
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(body, 'done')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(watches[0]!.aborted, false)
})

test('a finished response that closes is no client gone, even while still watched', async (t) => {
  // Answers without releasing the watch: the 'close' that follows a finished response changes nothing.
  const { port, watches } = await serve(t, (_watch, _respond, res) => { res.end('done') })
  await new Promise<void>((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', agent: false }, (res) => { res.resume(); res.on('end', resolve) })
    req.on('error', reject)
    req.end()
  })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(watches[0]!.aborted, false)
})

test('a released watch ignores the client leaving', async (t) => {
  let release = (): void => {}
  const { port, watches } = await serve(t, (watch) => { release = () => watch.release() })
  const req = request({ port, host: '127.0.0.1', method: 'POST' })
  req.on('error', () => {})
  req.end()
  await until(() => watches.length === 1, 'the request arrived')
  release()
  req.destroy()
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(watches[0]!.aborted, false)
})
