// With METRICS_PORT, /metrics moves off the main port to this tiny server, so it can be
// bound to an internal interface and never shares the public listener, its rate limit
// or its load shedding. It serves GET (and HEAD) /metrics, answers other methods there
// 405 with Allow, and every other path 404.
import { createServer } from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Metrics } from './metrics.ts'

/** The two levels this server logs at; a Fastify or pino logger fits. */
export interface MetricsServerLog {
  info (obj: object, msg?: string): void
  error (obj: object, msg?: string): void
}

export interface MetricsServerOptions {
  host: string
  port: number
  log: MetricsServerLog
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464, with the port actually bound (port 0 picks one). */
  url: string
  close: () => Promise<void>
}

// A scrape is a short request from a known scraper: tight limits, no slow clients.
const HEADERS_TIMEOUT_MS = 5000
const REQUEST_TIMEOUT_MS = 10000
const KEEP_ALIVE_TIMEOUT_MS = 72000
/** Prometheus and an operator or two: part of the descriptors MAX_CONNECTIONS leaves aside. */
export const METRICS_MAX_CONNECTIONS = 16

// A server's request always has a url (its type allows undefined only for client responses).
const isMetricsPath = (url: string | undefined): boolean => String(url).split('?', 1)[0] === '/metrics'

export async function startMetricsServer (metrics: Metrics, options: MetricsServerOptions): Promise<MetricsServer> {
  const { log } = options
  let closing = false
  const send = (response: ServerResponse, status: number, contentType: string, body: string, extra: OutgoingHttpHeaders = {}): void => {
    const headers: OutgoingHttpHeaders = { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra }
    // A scrape answered while closing ends its connection, so close() need not wait for it to idle out.
    if (closing) headers.connection = 'close'
    response.writeHead(status, headers).end(body)
  }
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    if (!isMetricsPath(request.url)) {
      send(response, 404, 'text/plain; charset=utf-8', 'Not found\n')
      return
    }
    // HEAD is answered like GET; Node leaves the body out.
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'text/plain; charset=utf-8', 'Method not allowed\n', { allow: 'GET, HEAD' })
      return
    }
    metrics.render().then((body) => send(response, 200, metrics.contentType, body), (error: unknown) => {
      log.error({ err: error }, 'metrics collection failed')
      send(response, 500, 'text/plain; charset=utf-8', 'Metrics collection failed\n')
    })
  }

  const server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handle)
  server.maxConnections = METRICS_MAX_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject)
      // A failed accept (out of descriptors) is logged; unheard, it would end the process.
      server.on('error', (error) => log.error({ err: error }, 'metrics server error'))
      resolve()
    })
  })
  const { address, port } = server.address() as AddressInfo
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`
  log.info({ url }, 'metrics server listening')

  return {
    url,
    close: () => new Promise<void>((resolve, reject) => {
      closing = true
      server.close((error) => { if (error === undefined) resolve(); else reject(error) })
      // A scraper's keep-alive connection would otherwise hold close() open until it idles out.
      server.closeIdleConnections()
    })
  }
}
