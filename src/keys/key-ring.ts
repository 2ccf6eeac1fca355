// The API keys in use: the current one, an optional next one for failover, and the
// keys the upstream has refused (never taken back from a file that still holds them).
// Every key it ever holds is added to the log scrubber; logs name keys by fingerprint.
import type { SecretScrubber } from '../lib/secrets.ts'
import { fingerprint } from '../lib/secrets.ts'

export interface KeyRingEvents {
  /** The current key changed (reload or failover). */
  onCurrent?: (key: string) => void
}

export class KeyRing {
  #current: string
  #next: string | undefined
  readonly #refused = new Set<string>()
  readonly #scrubber: SecretScrubber
  readonly #events: KeyRingEvents

  constructor (current: string, next: string | undefined, scrubber: SecretScrubber, events: KeyRingEvents = {}) {
    this.#scrubber = scrubber
    this.#events = events
    scrubber.add(current)
    if (next !== undefined) scrubber.add(next)
    this.#current = current
    this.#next = next === current ? undefined : next
  }

  get current (): string { return this.#current }
  get next (): string | undefined { return this.#next }

  isRefused (key: string): boolean {
    return this.#refused.has(key)
  }

  /** A key read from configuration; refused keys are not taken back. Returns whether it changed. */
  setCurrent (key: string): boolean {
    if (key === this.#current || this.#refused.has(key)) return false
    this.#scrubber.add(key)
    this.#current = key
    if (this.#next === key) this.#next = undefined
    this.#events.onCurrent?.(key)
    return true
  }

  setNext (key: string | undefined): boolean {
    if (key === this.#next || (key !== undefined && (key === this.#current || this.#refused.has(key)))) return false
    if (key !== undefined) this.#scrubber.add(key)
    this.#next = key
    return true
  }

  /**
   * The next key worked where `refused` did not: it becomes current, `refused` is
   * remembered, and there is no next key until configuration provides one.
   */
  promote (refused: string, next: string): void {
    this.#refused.add(refused)
    if (this.#next === next) this.#next = undefined
    if (this.#current === refused) {
      this.#current = next
      this.#events.onCurrent?.(next)
    }
  }

  fingerprints (): { current: string, next: string | undefined } {
    return { current: fingerprint(this.#current), next: this.#next === undefined ? undefined : fingerprint(this.#next) }
  }
}
