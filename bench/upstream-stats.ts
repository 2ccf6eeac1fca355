// Reads the simulated upstream's counters over its control endpoints. One keep-alive
// connection per simulator carries every control request, so the simulator always sees
// exactly one connection of ours, open before the reset: it is subtracted from the peak.
import { Client } from 'undici'

export interface UpstreamStats {
  requests: number
  openConnections: number
  peakConnections: number
}

export interface UpstreamControl {
  reset: () => Promise<void>
  /** Counters since the last reset, without the control connection. */
  stats: () => Promise<UpstreamStats>
  close: () => Promise<void>
}

export function upstreamControl (url: string): UpstreamControl {
  const client = new Client(url, { pipelining: 1, keepAliveTimeout: 600000, keepAliveMaxTimeout: 600000 })
  const send = async (method: 'GET' | 'POST', path: string) => {
    try {
      return await client.request({ method, path })
    } catch {
      // The simulator closes a connection idle for 60 s; a request can race that close.
      return await client.request({ method, path })
    }
  }
  const call = async (method: 'GET' | 'POST', path: string): Promise<UpstreamStats> => {
    const response = await send(method, path)
    if (response.statusCode !== 200) {
      await response.body.dump()
      throw new Error(`simulator ${method} ${path}: HTTP ${response.statusCode}`)
    }
    return await response.body.json() as UpstreamStats
  }
  return {
    reset: async () => { await call('POST', '/__sim/reset') },
    stats: async () => {
      const raw = await call('GET', '/__sim/stats')
      return {
        requests: raw.requests,
        openConnections: Math.max(0, raw.openConnections - 1),
        peakConnections: Math.max(0, raw.peakConnections - 1)
      }
    },
    close: async () => { await client.close() }
  }
}
