// A loopback port that is free now: taken on 127.0.0.1 and given back. Whoever binds it next
// (a child process, a server started by a test) fails loudly if something took it meanwhile;
// with nothing bound there, it is also a port whose connections are refused.
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
