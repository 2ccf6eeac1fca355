// Bounded upstream work: at most `max` requests talk to the upstream at once, at most
// `queueMax` wait for a slot, and a waiter leaves when its signal aborts (its deadline
// or its client). Beyond the queue: 503 OVERLOADED, never unbounded memory.
import type { CancelSignal } from '../lib/cancel.ts'
import { overloaded } from '../http/overloaded.ts'

interface Waiter {
  resolve: () => void
  reject: (reason: unknown) => void
  signal: CancelSignal
  onAbort: () => void
  done: boolean
}

export class ConcurrencyLimiter {
  readonly #max: number
  readonly #queueMax: number
  readonly #waiters: Waiter[] = []
  #head = 0
  #active = 0
  #queued = 0
  readonly #release = (): void => this.#next()

  constructor (max: number, queueMax: number) {
    this.#max = max
    this.#queueMax = queueMax
  }

  get active (): number { return this.#active }
  get queued (): number { return this.#queued }
  /** Waiters held in memory, served ones included until they are dropped: a bounded multiple of the queue. */
  get retained (): number { return this.#waiters.length }

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
        reject,
        signal,
        // Registered only while queued: serving a waiter removes it first.
        onAbort: () => {
          waiter.done = true
          this.#queued--
          reject(signal.reason)
        },
        done: false
      }
      signal.addEventListener('abort', waiter.onAbort)
      this.#waiters.push(waiter)
      this.#queued++
    })
  }

  /** Hands the slot to the next live waiter, or frees it. */
  #next (): void {
    while (this.#head < this.#waiters.length) {
      const waiter = this.#waiters[this.#head++]!
      if (waiter.done) continue
      waiter.done = true
      this.#queued--
      waiter.signal.removeEventListener('abort', waiter.onAbort)
      this.#compact()
      waiter.resolve()
      return
    }
    this.#compact()
    this.#active--
  }

  /** Drops consumed waiters from the front now and then, so the array stays small. */
  #compact (): void {
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters.splice(0, this.#head)
      this.#head = 0
    }
  }
}
