// Load shedding by process health (@fastify/under-pressure): while the event loop lags
// or the heap is over its limit, requests get 503 OVERLOADED through our error handler.
// Health, readiness and metrics opt out with `config.pressureHandler: exempt`.
import underPressure from '@fastify/under-pressure'
import type { FastifyContextConfig, FastifyInstance } from 'fastify'
import { overloaded } from '../../http/overloaded.ts'
import type { OverloadReason } from '../../telemetry/events.ts'

/** A route-level pressure handler that lets the request through. */
export const exemptFromPressure = (): undefined => undefined

/** Route config for health, readiness and metrics: never shed. */
export const PRESSURE_EXEMPT: FastifyContextConfig = { pressureHandler: exemptFromPressure } as FastifyContextConfig

export interface PressureOptions {
  maxEventLoopDelayMs: number
  maxHeapUsedBytes: number
  onShed: (reason: Extract<OverloadReason, 'event_loop' | 'heap'>) => void
}

/**
 * How often the event-loop delay is read: as often as the limit itself, 100 ms to 1 s.
 * The plugin counts a window without any delay sample as infinite delay; a window at
 * least as long as the limit can only be empty when the loop was stuck longer than the
 * limit. (A shorter interval let one short burst of answers shed requests.)
 */
export function sampleIntervalMs (maxEventLoopDelayMs: number): number {
  return Math.min(1000, Math.max(100, maxEventLoopDelayMs))
}

export async function registerUnderPressure (app: FastifyInstance, options: PressureOptions): Promise<void> {
  // Start-up (module loading, schema compilation) blocks the loop once; the first samples
  // would blame that on traffic. Shedding starts two samples after the app is ready.
  const sampleInterval = sampleIntervalMs(options.maxEventLoopDelayMs)
  let armedAt = Infinity
  app.addHook('onReady', async () => { armedAt = Date.now() + 2 * sampleInterval })
  // 0 disables a check; the plugin treats 0 the same way.
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    maxHeapUsedBytes: options.maxHeapUsedBytes,
    sampleInterval,
    pressureHandler: async (_request, _reply, type) => {
      if (Date.now() < armedAt) return
      options.onShed(type === 'heapUsedBytes' ? 'heap' : 'event_loop')
      throw overloaded()
    }
  })
}
