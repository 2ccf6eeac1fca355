// The in-memory idempotency store, for a single replica: a Map used as an LRU (a read
// moves the entry to the end; the oldest is evicted beyond maxKeys). Expiry is checked
// on access and swept from the oldest end on insert, so there is no timer per entry and
// every operation is O(1) amortised.
import type { Entry, IdempotencyStore, StoredAnswer } from './types.ts'

export interface MemoryStoreOptions {
  maxKeys: number
  /** The clock, in ms; tests bring their own. */
  now?: () => number
}

interface Slot {
  entry: Entry
  expiresAt: number
}

export class MemoryStore implements IdempotencyStore {
  readonly #slots = new Map<string, Slot>()
  readonly #maxKeys: number
  readonly #now: () => number

  constructor (options: MemoryStoreOptions) {
    if (!Number.isInteger(options.maxKeys) || options.maxKeys < 1) throw new RangeError('maxKeys must be a positive integer')
    this.#maxKeys = options.maxKeys
    this.#now = options.now ?? Date.now
  }

  get size (): number {
    return this.#slots.size
  }

  async begin (id: string, fingerprint: string, ttlMs: number): Promise<Entry | undefined> {
    const found = this.#read(id)
    if (found !== undefined) return found
    this.#write(id, { state: 'pending', fingerprint }, ttlMs)
    return undefined
  }

  async get (id: string): Promise<Entry | undefined> {
    return this.#read(id)
  }

  async complete (id: string, fingerprint: string, answer: StoredAnswer, ttlMs: number): Promise<void> {
    this.#write(id, { state: 'done', fingerprint, answer }, ttlMs)
  }

  async abandon (id: string): Promise<void> {
    this.#slots.delete(id)
  }

  #read (id: string): Entry | undefined {
    const slot = this.#slots.get(id)
    if (slot === undefined) return undefined
    this.#slots.delete(id)
    if (slot.expiresAt <= this.#now()) return undefined
    this.#slots.set(id, slot)
    return slot.entry
  }

  #write (id: string, entry: Entry, ttlMs: number): void {
    const now = this.#now()
    this.#slots.delete(id)
    // Expired entries at the old end go first; each is removed once, so this stays O(1) amortised.
    for (const [oldId, slot] of this.#slots) {
      if (slot.expiresAt > now) break
      this.#slots.delete(oldId)
    }
    this.#slots.set(id, { entry, expiresAt: now + ttlMs })
    if (this.#slots.size > this.#maxKeys) {
      const oldest = this.#slots.keys().next()
      if (oldest.done !== true) this.#slots.delete(oldest.value)
    }
  }
}
