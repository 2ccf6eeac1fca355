// The service's one cancellation primitive, shaped like the part of AbortSignal it uses
// — `aborted`, `reason` and abort listeners — so an AbortSignal fits wherever a
// CancelSignal is taken. Every request creates some (its client's presence, its
// deadline, an idempotent call shared by several clients), and AbortController on
// Node's EventTarget made each of them, and each listener added and removed, a
// measurable share of a request's cost. Here a listener is an array slot. The request
// path uses no AbortSignal (undici is driven through its dispatch API, which takes none);
// only the identity checks' own calls, which undici's request() makes, are bounded by an
// AbortSignal.timeout (the JWKS fetch, Turnstile's siteverify).

/**
 * A function, or an object whose handleEvent runs (as EventTarget allows): an object that
 * listens with its own method needs no closure made for it.
 */
export type CancelListener = (() => void) | { handleEvent: () => void }

export interface CancelSignal {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener: (type: 'abort', listener: CancelListener, options?: { once?: boolean }) => void
  removeEventListener: (type: 'abort', listener: CancelListener) => void
}

/** Both ends in one object: `abort()` for the owner, the CancelSignal for everyone else. */
export class Cancel implements CancelSignal {
  aborted = false
  reason: unknown = undefined
  #listeners: CancelListener[] = []

  /** Aborts once: later calls change nothing. Listeners run in the order they were added. */
  abort (reason: unknown): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    const listeners = this.#listeners
    this.#listeners = []
    for (const listener of listeners) {
      if (typeof listener === 'function') listener()
      else listener.handleEvent()
    }
  }

  // A signal aborts at most once, so every listener is a `once` listener.
  addEventListener (_type: 'abort', listener: CancelListener): void {
    if (!this.aborted) this.#listeners.push(listener)
  }

  removeEventListener (_type: 'abort', listener: CancelListener): void {
    const index = this.#listeners.indexOf(listener)
    if (index >= 0) this.#listeners.splice(index, 1)
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep (ms: number, signal: CancelSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort)
  })
}
