// What the upstream's answers have shown about a key: which chatbots it worked for, and
// when. A failure can only be blamed on the key (opening the global circuit, switching to
// the next key) when the same key was seen to work for that chatbot, or the deployment
// names the chatbot itself (ALLOWED_SERIAL_NUMBERS); otherwise a caller could make the
// key look bad by asking for a chatbot that is not ours. Bounded: the least recently
// proven chatbots are forgotten first.

/** Successes older than this prove nothing any more. */
export const EVIDENCE_WINDOW_MS = 3_600_000

export interface KeyEvidenceOptions {
  /** Chatbots the deployment serves by configuration: a key that fails for them is at fault. */
  allowedSerialNumbers: readonly string[] | undefined
  /** How many chatbots are remembered (LRU). */
  maxChatbots: number
  now?: () => number
}

interface Proof { key: string, at: number }

export class KeyEvidence {
  readonly #allowed: ReadonlySet<string>
  readonly #max: number
  readonly #now: () => number
  /** The last success of each chatbot, and the key it was made with. */
  readonly #chatbots = new Map<string, Proof>()
  /** The last success of each key, for any chatbot. */
  readonly #keys = new Map<string, number>()
  /** Chatbots that already tried the next key while the current one was unproven. */
  readonly #triedNext = new Set<string>()

  constructor (options: KeyEvidenceOptions) {
    this.#allowed = new Set(options.allowedSerialNumbers ?? [])
    this.#max = options.maxChatbots
    this.#now = options.now ?? Date.now
  }

  /** A session was created for `serialNumber` with `key`. */
  recordSuccess (key: string, serialNumber: string): void {
    const at = this.#now()
    this.#keys.set(key, at)
    this.#chatbots.delete(serialNumber)
    this.#chatbots.set(serialNumber, { key, at })
    if (this.#chatbots.size > this.#max) this.#chatbots.delete(this.#chatbots.keys().next().value as string)
    this.#triedNext.delete(serialNumber)
  }

  /** Whether `key` created any session within the window. */
  keyProven (key: string): boolean {
    const at = this.#keys.get(key)
    return at !== undefined && this.#now() - at < EVIDENCE_WINDOW_MS
  }

  /** Whether `key` is known to work for `serialNumber`: configured, or a session within the window. */
  worksFor (key: string, serialNumber: string): boolean {
    if (this.#allowed.has(serialNumber)) return true
    const proof = this.#chatbots.get(serialNumber)
    return proof !== undefined && proof.key === key && this.#now() - proof.at < EVIDENCE_WINDOW_MS
  }

  /**
   * While the key is unproven, a chatbot may try the next key once (so a start with a
   * revoked key still fails over); this records the try and says whether it is allowed.
   */
  mayTryNextKey (serialNumber: string): boolean {
    if (this.#triedNext.has(serialNumber)) return false
    this.#triedNext.add(serialNumber)
    if (this.#triedNext.size > this.#max) this.#triedNext.delete(this.#triedNext.values().next().value as string)
    return true
  }
}
