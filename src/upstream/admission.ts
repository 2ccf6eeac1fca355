// What every upstream call goes through before it may be sent: a slot of its limiter
// (or a place in its queue), under one cancellation for its deadline and its client
// (lib/deadlines.ts).
import type { CancelSignal } from '../lib/cancel.ts'
import { overloaded } from '../http/overloaded.ts'
import { ClientGoneError, DeadlineExceeded } from '../lib/abort-reasons.ts'
import type { CircuitBreaker } from './circuit-breaker.ts'
import type { ConcurrencyLimiter } from './concurrency.ts'
import type { OverloadReason } from '../telemetry/events.ts'

export type Admit = (signal: CancelSignal, probe: boolean) => (() => void) | Promise<() => void>

/** A free slot is taken at once; only a queued request waits (and costs a promise). */
export function admitter (limiter: ConcurrencyLimiter, circuit: CircuitBreaker, overloadedBy: (reason: OverloadReason) => void): Admit {
  /** Why a request got no slot: its deadline passed in the queue, its client left, or the queue was full. */
  function refused (error: unknown, signal: CancelSignal, probe: boolean): never {
    circuit.record('abandoned', probe)
    if (signal.reason instanceof DeadlineExceeded) {
      overloadedBy('queue_timeout')
      throw overloaded()
    }
    if (!signal.aborted) overloadedBy('queue_full')
    throw signal.aborted ? new ClientGoneError() : error
  }

  return (signal, probe) => {
    let slot: ReturnType<ConcurrencyLimiter['acquire']>
    try {
      slot = limiter.acquire(signal)
    } catch (error) {
      return refused(error, signal, probe)
    }
    return typeof slot === 'function' ? slot : slot.catch((error: unknown) => refused(error, signal, probe))
  }
}
