// Load shedding by process health: while the event loop lags or the heap is over its
// limit, requests get 503 OVERLOADED through the error handler. Routes with
// `config: { shed: false }` (health, readiness) always answer.
import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { overloaded } from '../../http/overloaded.ts'
import type { OverloadReason } from '../../telemetry/events.ts'
import { ProcessHealth } from '../../telemetry/process-health.ts'
import type { ProcessHealthOptions } from '../../telemetry/process-health.ts'

export interface SheddingOptions {
  /** 0 disables the check. */
  maxEventLoopDelayMs: number
  /** 0 disables the check. */
  maxHeapUsedBytes: number
  onShed: (reason: Extract<OverloadReason, 'event_loop' | 'heap'>) => void
  onSampleError?: (error: unknown) => void
  /** The sampling interval and reading sources, for tests. */
  health?: Partial<Pick<ProcessHealthOptions, 'intervalMs' | 'readDelayMs' | 'readHeapUsedBytes'>>
}

/**
 * How often health is read: as often as the delay limit itself, 100 ms to 1 s. A window
 * without any delay sample counts as infinite delay; a window at least as long as the
 * limit can only be empty when the loop was stuck longer than the limit. (A shorter
 * interval let one short burst of answers shed requests.)
 */
export function sampleIntervalMs (maxEventLoopDelayMs: number): number {
  return Math.min(1000, Math.max(100, maxEventLoopDelayMs))
}

/** What is over its limit, if anything. */
export function overloadOf (reading: ProcessHealth['reading'], options: Pick<SheddingOptions, 'maxEventLoopDelayMs' | 'maxHeapUsedBytes'>): 'event_loop' | 'heap' | undefined {
  if (options.maxEventLoopDelayMs > 0 && reading.eventLoopDelayMs > options.maxEventLoopDelayMs) return 'event_loop'
  if (options.maxHeapUsedBytes > 0 && reading.heapUsedBytes > options.maxHeapUsedBytes) return 'heap'
  return undefined
}

export function registerLoadShedding (app: FastifyInstance, options: SheddingOptions): void {
  if (options.maxEventLoopDelayMs === 0 && options.maxHeapUsedBytes === 0) return
  const intervalMs = options.health?.intervalMs ?? sampleIntervalMs(options.maxEventLoopDelayMs)
  // Start-up (module loading, schema compilation) blocks the loop once; the first samples
  // would blame that on traffic. Health is read, and shedding starts, two samples after ready.
  let health: ProcessHealth | undefined
  let armedAt = Infinity
  app.addHook('onReady', async () => {
    health = new ProcessHealth({ ...options.health, intervalMs, onError: options.onSampleError })
    armedAt = Date.now() + 2 * intervalMs
  })
  app.addHook('onClose', async () => { health?.stop() })
  const shed: onRequestHookHandler = (_request, _reply, done) => {
    if (health === undefined || Date.now() < armedAt) return done()
    const reason = overloadOf(health.reading, options)
    if (reason === undefined) return done()
    options.onShed(reason)
    done(overloaded())
  }
  // Each route decides once, when it is added, whether it can be shed: reading
  // request.routeOptions builds a fresh object on every request.
  app.addHook('onRoute', (route) => {
    if ((route.config as { shed?: boolean } | undefined)?.shed === false) return
    route.onRequest = [shed, ...[route.onRequest ?? []].flat()]
  })
  // Requests no route matched (404, 405) are shed too.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) shed.call(app, request, reply, done)
    else done()
  })
}
