// A circuit breaker per chatbot, for failures that are about the chatbot a caller chose
// rather than about the upstream: after `threshold` of them in a row, the chatbot is
// answered with the upstream's own last refusal, without an upstream call, until the
// cooldown ends. Bounded (LRU), so a caller inventing ids cannot grow it without limit.
import { UpstreamError } from './upstream-error.ts'

export interface ChatbotBreakersOptions {
  failureThreshold: number
  cooldownMs: number
  maxChatbots: number
  now?: () => number
}

interface Record {
  failures: number
  openedAt: number
  refusal: UpstreamError
}

export class ChatbotBreakers {
  readonly #threshold: number
  readonly #cooldownMs: number
  readonly #max: number
  readonly #now: () => number
  readonly #chatbots = new Map<string, Record>()

  constructor (options: ChatbotBreakersOptions) {
    this.#threshold = options.failureThreshold
    this.#cooldownMs = options.cooldownMs
    this.#max = options.maxChatbots
    this.#now = options.now ?? Date.now
  }

  get size (): number { return this.#chatbots.size }

  /** Throws the stored refusal while the chatbot's breaker is open. */
  check (serialNumber: string): void {
    const record = this.#chatbots.get(serialNumber)
    if (record === undefined || record.failures < this.#threshold) return
    if (this.#now() - record.openedAt >= this.#cooldownMs) return
    const { refusal } = record
    throw new UpstreamError(refusal.code, { httpStatus: refusal.facts.httpStatus, retryAfter: refusal.facts.retryAfter, shortCircuited: true })
  }

  /** A failure about this chatbot; the breaker opens at the threshold, and again on each failure after a cooldown. */
  recordFailure (serialNumber: string, refusal: UpstreamError): void {
    const record = this.#chatbots.get(serialNumber)
    this.#chatbots.delete(serialNumber)
    const failures = (record?.failures ?? 0) + 1
    this.#chatbots.set(serialNumber, { failures, openedAt: this.#now(), refusal })
    if (this.#chatbots.size > this.#max) this.#chatbots.delete(this.#chatbots.keys().next().value as string)
  }

  /** The chatbot answered: it is healthy again. */
  recordSuccess (serialNumber: string): void {
    this.#chatbots.delete(serialNumber)
  }

  /** Forgets every chatbot (the key changed: its refusals say nothing about the new one). */
  clear (): void {
    this.#chatbots.clear()
  }
}
