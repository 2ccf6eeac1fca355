// The process: reads the environment (and ./.env when present; the environment wins),
// validates it, builds the app, listens, and shuts down gracefully on SIGTERM/SIGINT:
// not-ready at once, stop accepting, finish in-flight requests, close, exit 0.
// This is the only module that touches `process`.
import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'
import pino from 'pino'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config/config.ts'
import { LogBatch } from './telemetry/log-batch.ts'
import { startMetricsServer } from './telemetry/metrics-server.ts'
import { createMetrics } from './telemetry/metrics.ts'
import { Readiness } from './http/readiness.ts'

/** Log lines are written in batches of about this many bytes… */
const LOG_BUFFER_BYTES = 4096
/** …or after this long, whichever comes first. */
const LOG_FLUSH_MS = 250

function readEnv (): Record<string, string | undefined> {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {}
  // The OpenTelemetry SDK reads its OTEL_* variables from the process environment itself:
  // those given in .env join it, so the SDK sees what the configuration was checked with.
  for (const [name, value] of Object.entries(fromFile)) {
    if (name.startsWith('OTEL_') && value !== '' && process.env[name] === undefined) process.env[name] = value
  }
  return { ...fromFile, ...process.env }
}

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig(readEnv())
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`hottask-proxy: ${error.message}\n`)
    process.exit(1)
  }

  const readiness = new Readiness()
  const metrics = createMetrics()
  // Lines batched 4 KiB at a time (about a dozen requests), at least every LOG_FLUSH_MS
  // when traffic is light, and each batch written at once. Handing batches to libuv's
  // thread pool instead (sync: false) cost more CPU per request: a thread wake-up and a
  // completion event per batch. Like pino's default, a stdout that
  // stops reading stalls the process rather than growing its memory without bound.
  const stdout = pino.destination({ dest: 1, sync: true, minLength: 0 })
  const logs = new LogBatch(stdout, { bytes: LOG_BUFFER_BYTES, flushMs: LOG_FLUSH_MS })
  const exit = (code: number): never => {
    // Flushing to a stdout nobody reads any more (EPIPE) must not keep the process alive.
    try { logs.flushSync() } catch {}
    process.exit(code)
  }
  stdout.on('error', () => {})
  const app = await buildApp(config, { readiness, metrics, watchKeyFiles: true, logStream: logs })
  // /metrics lives only on its own port (METRICS_PORT), opened before the main port.
  const metricsServer = await startMetricsServer(metrics, { ...config.metrics, log: app.log })

  const close = (): void => {
    app.log.info('closing: no new connections, finishing in-flight requests')
    const timer = setTimeout(() => {
      app.log.error('shutdown timed out: exiting')
      exit(1)
    }, config.shutdown.timeoutMs)
    timer.unref()
    // Connections busy when closing began become idle later; close them as they do,
    // or a keep-alive client would hold the process open until its idle timeout.
    const reaper = setInterval(() => app.server.closeIdleConnections(), 100)
    reaper.unref()
    app.close().then(async () => {
      await metricsServer.close()
      app.log.info('shut down cleanly')
      exit(0)
    }, (error: unknown) => {
      app.log.error({ err: error }, 'shutdown failed')
      exit(1)
    })
  }

  let stopping = false
  const shutdown = (signal: string): void => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting now')
      exit(1)
    }
    stopping = true
    // Not-ready at once; keep serving through the drain delay so that load balancers
    // stop routing here before the listener closes.
    readiness.drain()
    app.log.info({ signal, drainDelayMs: config.shutdown.drainDelayMs }, 'shutting down: not ready')
    setTimeout(close, config.shutdown.drainDelayMs)
  }
  // A crash still writes the lines buffered before it, then the crash itself.
  process.once('uncaughtException', (error) => {
    app.log.fatal({ err: error }, 'uncaught exception: exiting')
    exit(1)
  })
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  // Rotation without restart: re-read the API key, session-token secret and client-token files.
  process.on('SIGHUP', () => app.reloadKeys('SIGHUP'))

  // A deep accept queue: a launch-day burst of connections waits instead of being dropped.
  await app.listen({ host: config.host, port: config.port, backlog: 4096 })
  // A failed accept (out of descriptors) is logged; unheard, it would end the process.
  app.server.on('error', (error) => app.log.error({ err: error }, 'server error'))
}

main().catch((error: unknown) => {
  process.stderr.write(`hottask-proxy: failed to start: ${(error as Error).message}\n`)
  process.exit(1)
})
