// Daily quotas per visitor: sessions, messages and the tokens of whole answers, each
// counted per identity over a fixed UTC day. Spending increments first and compares
// after (undoing when over), so concurrent spends on any number of replicas never let
// more through than the limit. A store failure follows the rate limit's policy: `open`
// serves without a quota, `closed` refuses with 503; both are reported.
import { ProblemError } from '../http/errors.ts'
import { nextUtcDayAt, secondsUntilReset, utcDayOf } from './day.ts'
import type { QuotaStore } from './store.ts'

/** Retry-After of the 503 while the store fails, as the rate limit's own (plugins are not ours to import). */
export const STORE_RETRY_AFTER_SECONDS = 5
/**
 * How long a day's counters outlive the day. Redis expires them by its own clock: a replica
 * whose clock lags still counts on yesterday's counter for a moment, and must find it there.
 */
export const EXPIRY_GRACE_MS = 10 * 60_000

export type QuotaKind = 'sessions' | 'messages' | 'tokens'
export interface QuotaLimits { sessions?: number, messages?: number, tokens?: number }
export interface QuotaState { kind: QuotaKind, limit: number, remaining: number, resetSeconds: number }
export interface Spent { state: QuotaState, refund: () => Promise<void> }

export interface QuotasOptions {
  /** Positive integers; an unset kind has no quota. */
  limits: QuotaLimits
  store: QuotaStore
  onStoreError: 'open' | 'closed'
  onStoreFailure: (error: Error) => void
  onExceeded?: (kind: QuotaKind) => void
  /** The clock, in ms; tests bring their own. */
  now?: () => number
  storeRetryAfterSeconds?: number
}

type Outcome = { spent: Spent } | { refused: QuotaState }

const KINDS: readonly QuotaKind[] = ['sessions', 'messages', 'tokens']
const noRefund = async (): Promise<void> => {}

export class Quotas {
  readonly #limits: Readonly<QuotaLimits>
  readonly #store: QuotaStore
  readonly #options: QuotasOptions
  readonly #now: () => number
  readonly #unavailable: Record<string, string> | undefined

  constructor (options: QuotasOptions) {
    for (const kind of KINDS) {
      const limit = options.limits[kind]
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) throw new RangeError(`the ${kind} quota must be a positive integer`)
    }
    this.#limits = { ...options.limits }
    this.#store = options.store
    this.#options = options
    this.#now = options.now ?? Date.now
    const retryAfter = options.storeRetryAfterSeconds ?? STORE_RETRY_AFTER_SECONDS
    this.#unavailable = options.onStoreError === 'closed' ? { 'retry-after': String(retryAfter) } : undefined
  }

  has (kind: QuotaKind): boolean {
    return this.#limits[kind] !== undefined
  }

  /**
   * Spends one session or message for identity. Over the limit the spend is undone and
   * QUOTA_EXCEEDED thrown; a message is also refused, without being spent, once the day's
   * tokens are. Undefined when no quota applies or the store failed under `open`. With
   * only a tokens quota, a message resolves the tokens state and a refund that does nothing.
   */
  async spend (kind: 'sessions' | 'messages', identity: string): Promise<Spent | undefined> {
    if (!this.has(kind) && !(kind === 'messages' && this.has('tokens'))) return undefined
    let outcome: Outcome
    try {
      outcome = await this.#spend(kind, identity, this.#now())
    } catch (error) {
      this.#report(error)
      if (this.#unavailable !== undefined) throw new ProblemError('RATE_LIMIT_UNAVAILABLE', 'The quota store is unavailable; retry later.', this.#unavailable)
      return undefined
    }
    if ('refused' in outcome) throw this.#exceeded(outcome.refused)
    return outcome.spent
  }

  /** Adds a whole answer's tokens; never throws (store failures are reported); the tokens state, or undefined. */
  async addTokens (identity: string, tokens: number): Promise<QuotaState | undefined> {
    const limit = this.#limits.tokens
    if (limit === undefined) return undefined
    const now = this.#now()
    // The upstream's count: a malformed one must not break an answer already given.
    const amount = Number.isSafeInteger(tokens) && tokens > 0 ? tokens : 0
    try {
      return stateOf('tokens', limit, await this.#store.add(keyOf('tokens', identity, now), amount, expiryOf(now)), now)
    } catch (error) {
      this.#report(error)
      return undefined
    }
  }

  async #spend (kind: 'sessions' | 'messages', identity: string, now: number): Promise<Outcome> {
    const tokens = kind === 'messages' ? this.#limits.tokens : undefined
    let tokensState: QuotaState | undefined
    if (tokens !== undefined) {
      tokensState = stateOf('tokens', tokens, await this.#store.get(keyOf('tokens', identity, now)), now)
      if (tokensState.remaining === 0) return { refused: tokensState }
    }
    const limit = this.#limits[kind]
    if (limit === undefined) return { spent: { state: tokensState!, refund: noRefund } }
    // The key and expiry are fixed now: a refund after midnight still lands on this day.
    const key = keyOf(kind, identity, now)
    const expiresAt = expiryOf(now)
    const total = await this.#store.add(key, 1, expiresAt)
    if (total > limit) {
      // Undone, or a later refund would free a place this refusal still held.
      await this.#store.add(key, -1, expiresAt).catch((error: unknown) => this.#report(error))
      return { refused: stateOf(kind, limit, total, now) }
    }
    return { spent: { state: stateOf(kind, limit, total, now), refund: this.#refunder(key, expiresAt) } }
  }

  #refunder (key: string, expiresAt: number): () => Promise<void> {
    let refunded = false
    return async () => {
      if (refunded) return
      refunded = true
      await this.#store.add(key, -1, expiresAt).catch((error: unknown) => this.#report(error))
    }
  }

  #exceeded (state: QuotaState): ProblemError {
    this.#options.onExceeded?.(state.kind)
    const detail = `The daily quota of ${state.limit} ${state.kind} is spent; it resets at the next UTC midnight, in ${state.resetSeconds} s.`
    return new ProblemError('QUOTA_EXCEEDED', detail, { 'retry-after': String(state.resetSeconds), ...quotaHeaders(state) })
  }

  #report (error: unknown): void {
    this.#options.onStoreFailure(error instanceof Error ? error : new Error(String(error)))
  }
}

export function quotaHeaders (state: QuotaState): Record<string, string> {
  return {
    'x-quota-limit': String(state.limit),
    'x-quota-remaining': String(state.remaining),
    'x-quota-reset': String(state.resetSeconds)
  }
}

const keyOf = (kind: QuotaKind, identity: string, now: number): string => `${kind}:${utcDayOf(now)}:${identity}`

const expiryOf = (now: number): number => nextUtcDayAt(now) + EXPIRY_GRACE_MS

function stateOf (kind: QuotaKind, limit: number, total: number, now: number): QuotaState {
  return { kind, limit, remaining: Math.max(0, limit - total), resetSeconds: secondsUntilReset(now) }
}
