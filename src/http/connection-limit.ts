// At most MAX_CONNECTIONS client connections, so descriptors never run out: beyond it a
// new socket is closed on arrival, before a byte of it is read. Idle keep-alive
// connections are then closed too (at most every RECLAIM_INTERVAL_MS), so clients that
// hold a socket without using it cannot keep out the ones with something to ask; a
// keep-alive client simply reconnects.
import type { Server } from 'node:http'

const RECLAIM_INTERVAL_MS = 100

export interface ConnectionLimitOptions {
  max: number
  /** Each connection closed on arrival. */
  onDrop: () => void
  now?: () => number
}

export function limitConnections (server: Server, options: ConnectionLimitOptions): void {
  const now = options.now ?? Date.now
  server.maxConnections = options.max
  let reclaimedAt = -Infinity
  server.on('drop', () => {
    options.onDrop()
    const time = now()
    if (time - reclaimedAt < RECLAIM_INTERVAL_MS) return
    reclaimedAt = time
    server.closeIdleConnections()
  })
}
