// An upstream call the test settles by hand, counting calls and keeping each one's signal,
// and the requests the coordinator tests send.
import type { IdempotentRequest } from '../../src/idempotency/coordinator.ts'
import type { CancelSignal } from '../../src/lib/cancel.ts'

export interface PendingCall {
  signal: CancelSignal
  resolve: (body: string) => void
  reject: (error: unknown) => void
}

export interface Calls {
  call: (signal: CancelSignal) => Promise<string>
  list: PendingCall[]
  /** The n-th call (0-based), once it has been made. */
  nth: (n: number) => Promise<PendingCall>
}

export function manualCalls (): Calls {
  const list: PendingCall[] = []
  const call = (signal: CancelSignal): Promise<string> => {
    const { promise, resolve, reject } = Promise.withResolvers<string>()
    list.push({ signal, resolve, reject })
    return promise
  }
  const nth = async (n: number): Promise<PendingCall> => {
    for (let spins = 0; list[n] === undefined; spins++) {
      if (spins > 400) throw new Error(`call ${n} was never made`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return list[n]
  }
  return { call, list, nth }
}

/** Resolves to a fixed session id at once, counting calls. */
export function instantCalls (body = '42'): { call: () => Promise<string>, count: () => number } {
  let count = 0
  return { call: async () => { count++; return body }, count: () => count }
}

export function request (call: IdempotentRequest['call'], overrides: Partial<IdempotentRequest> = {}): IdempotentRequest {
  return {
    scope: 'token:web',
    key: 'key-1',
    fingerprint: 'abc',
    clientSignal: new AbortController().signal,
    deadlineAt: Infinity,
    call,
    ...overrides
  }
}

/** Lets every pending promise continuation run. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
