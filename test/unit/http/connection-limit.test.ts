import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { limitConnections } from '../../../src/http/connection-limit.ts'
import { until } from '../../helpers/waiting.ts'

/** Opens a connection, asks once, and resolves with the socket and whether it was answered. */
function ask (port: number): Promise<{ socket: Socket, answered: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    socket.once('data', () => resolve({ socket, answered: true }))
    socket.on('error', () => {})
    socket.once('close', () => resolve({ socket, answered: false }))
  })
}

async function server (t: Test, max: number, now?: () => number) {
  const http = createServer((_request, response) => response.end('ok'))
  // Idle connections stay open on their own for a minute: only the reclaim closes them here.
  http.keepAliveTimeout = 60_000
  let drops = 0
  limitConnections(http, { max, onDrop: () => { drops++ }, now })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const sockets: Socket[] = []
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    http.closeAllConnections()
    http.close()
  })
  const port = (http.address() as AddressInfo).port
  return { http, port, drops: () => drops, open: async () => { const client = await ask(port); sockets.push(client.socket); return client } }
}

test('beyond the limit a connection is closed on arrival and counted; the idle ones are closed to make room', async (t) => {
  const { open, drops } = await server(t, 2)
  const first = await open()
  const second = await open()
  t.same([first.answered, second.answered], [true, true])
  const third = await open()
  t.equal(third.answered, false, 'closed on arrival')
  t.equal(drops(), 1)
  await until(() => first.socket.destroyed && second.socket.destroyed, 'the idle connections are closed', 2000)
  t.equal((await open()).answered, true, 'a new client then gets in')
})

test('idle connections are reclaimed at most every 100 ms, however many arrive', async (t) => {
  let time = 0
  const { open, drops } = await server(t, 1, () => time)
  const idle = await open()
  await open() // dropped: reclaims at time 0
  await until(() => idle.socket.destroyed, 'reclaimed', 2000)
  const next = await open()
  t.equal(next.answered, true)
  time = 99
  t.equal((await open()).answered, false)
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(next.socket.destroyed, false, 'not reclaimed again within 100 ms')
  time = 100
  t.equal((await open()).answered, false)
  await until(() => next.socket.destroyed, 'reclaimed once 100 ms have passed', 2000)
  t.equal(drops(), 3)
})
