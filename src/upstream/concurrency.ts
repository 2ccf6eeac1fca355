// Bounded upstream work: at most `max` requests talk to the upstream at once, at most
// `queueMax` wait for a slot, and a waiter leaves when its signal aborts (its deadline
// or its client). Beyond the queue: 503 OVERLOADED, never unbounded memory.
import type { CancelSignal } from '../lib/cancel.ts'
import { overloaded } from '../http/overloaded.ts'

/** A queued request: a node of the FIFO list, so one that leaves is unlinked at once. */
interface Waiter {
  resolve: () => void
  signal: CancelSignal
  onAbort: () => void
  prev: Waiter | undefined
  next: Waiter | undefined
}

export class ConcurrencyLimiter {
  readonly #max: number
  readonly #queueMax: number
  #first: Waiter | undefined
  #last: Waiter | undefined
  #active = 0
  #queued = 0
  readonly #release = (): void => this.#next()

  constructor (max: number, queueMax: number) {
    this.#max = max
    this.#queueMax = queueMax
  }

  get active (): number { return this.#active }
  get queued (): number { return this.#queued }

  /** Resolves to the slot's release function; rejects with OVERLOADED or the signal's reason. */
  acquire (signal: CancelSignal): Promise<() => void> | (() => void) {
    if (this.#active < this.#max) {
      this.#active++
      return this.#release
    }
    if (this.#queued >= this.#queueMax) throw overloaded()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => resolve(this.#release),
        signal,
        // Registered only while queued: serving a waiter removes it first.
        onAbort: () => {
          this.#unlink(waiter)
          reject(signal.reason)
        },
        prev: this.#last,
        next: undefined
      }
      if (this.#last === undefined) this.#first = waiter
      else this.#last.next = waiter
      this.#last = waiter
      this.#queued++
      signal.addEventListener('abort', waiter.onAbort)
    })
  }

  /** Hands the slot to the longest waiter, or frees it. */
  #next (): void {
    const waiter = this.#first
    if (waiter === undefined) {
      this.#active--
      return
    }
    this.#unlink(waiter)
    waiter.signal.removeEventListener('abort', waiter.onAbort)
    waiter.resolve()
  }

  #unlink (waiter: Waiter): void {
    if (waiter.prev === undefined) this.#first = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.#last = waiter.prev
    else waiter.next.prev = waiter.prev
    this.#queued--
  }
}
