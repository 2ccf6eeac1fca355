// Descriptor exhaustion: a process under a low open-files limit, held by hundreds of idle
// keep-alive connections, stays alive and keeps serving, because it never accepts more
// connections than its descriptors allow and never lets a failed reading or accept kill it.
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { test } from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../simulator/server.ts'
import { runServer, startServer } from '../helpers/proxy-process.ts'
import { TEST_KEY } from '../helpers/setup.ts'
import { until } from '../helpers/waiting.ts'

/** A connection that asked for /healthz once and now holds its socket open. */
function idleClient (port: number): Promise<{ socket: Socket, answered: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    let answered = false
    socket.on('connect', () => socket.write('GET /healthz HTTP/1.1\r\nHost: proxy\r\n\r\n'))
    socket.on('data', (chunk: Buffer) => {
      if (!answered && chunk.toString('latin1').startsWith('HTTP/1.1 200')) {
        answered = true
        resolve({ socket, answered })
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve({ socket, answered }))
  })
}

async function healthy (url: string): Promise<number> {
  // A fresh connection can arrive while the limit is full: it is closed, and the idle ones with it.
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await request(`${url}/healthz`, { reset: true })
      await res.body.dump()
      return res.statusCode
    } catch (error) {
      if (attempt === 4) throw error
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

test('attack: idle keep-alive connections under a low open-files limit leave the process alive and serving', async (t) => {
  const upstream = await startSimulator({ key: TEST_KEY })
  t.teardown(() => upstream.close())
  // 256 descriptors: 64 kept aside, 8 + 8 upstream sockets, so MAX_CONNECTIONS defaults to 176.
  const proxy = await startServer({
    HOTTASK_API_KEY: TEST_KEY,
    HOTTASK_BASE_URL: upstream.url,
    UPSTREAM_MAX_CONCURRENCY: '8',
    MESSAGE_MAX_CONCURRENCY: '8',
    RATE_LIMIT_MAX: '1000',
    MAX_HEAP_USED_BYTES: '1073741824'
  }, undefined, [], { openFilesLimit: 256 })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  const port = Number(new URL(proxy.url).port)

  const clients = await Promise.all(Array.from({ length: 300 }, () => idleClient(port)))
  t.teardown(() => { for (const { socket } of clients) socket.destroy() })
  const answered = clients.filter((client) => client.answered).length
  t.ok(answered > 0, `${answered} of 300 were answered`)
  // The server's closes reach the clients' sockets as events, later under load: wait for
  // them (an over-limit server keeps its connections open, and the wait times out).
  const open = (): number => clients.filter((client) => !client.socket.destroyed && client.socket.readyState === 'open').length
  await until(() => open() <= 176, 'the connections the server closed are closed at the clients')
  t.ok(open() <= 176, `${open()} idle connections still open: never more than MAX_CONNECTIONS`)

  t.equal(proxy.child.exitCode, null, 'alive')
  t.equal(await healthy(proxy.url), 200, 'serving a new client')
  const session = await request(`${proxy.url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serialNumber: 'abc' }), reset: true })
  t.equal(session.statusCode, 201, 'and still reaching the upstream')
  await session.body.dump()
  // A second wave after the first: nothing has run out in between.
  const second = await Promise.all(Array.from({ length: 300 }, () => idleClient(port)))
  t.teardown(() => { for (const { socket } of second) socket.destroy() })
  t.equal(proxy.child.exitCode, null, 'alive after a second wave')
  t.equal(await healthy(proxy.url), 200)
  t.notMatch(proxy.output(), /uncaught|EMFILE/, 'no crash, no descriptor error')

  const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*metrics server listening/.exec(proxy.output())
  const metrics = await request(`${match![1]}/metrics`)
  const dropped = /^hottask_proxy_connections_dropped_total (\d+)/m.exec(await metrics.body.text())
  t.ok(Number(dropped?.[1]) > 0, `${dropped?.[1]} connections dropped on arrival, and counted`)
})

test('a MAX_CONNECTIONS the open-files limit cannot hold is a start-up error, not a crash under load', async (t) => {
  const run = runServer({ HOTTASK_API_KEY: TEST_KEY, MAX_CONNECTIONS: '1000' }, undefined, [], { openFilesLimit: 256 })
  t.equal(await run.exited, 1)
  t.match(run.output(), 'MAX_CONNECTIONS: the open-files limit (256) leaves room for at most 0 after UPSTREAM_MAX_CONCURRENCY + MESSAGE_MAX_CONCURRENCY (512) upstream sockets and 64 other descriptors; raise the limit')
  const defaults = runServer({ HOTTASK_API_KEY: TEST_KEY }, undefined, [], { openFilesLimit: 256 })
  t.equal(await defaults.exited, 1, 'the default concurrency does not fit either')
  t.match(defaults.output(), 'leaves room for fewer than 16 client connections')
})
