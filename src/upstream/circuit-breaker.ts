// A per-replica circuit breaker, counted per attempt: consecutive failures blamed on the
// upstream or on the key open it for a cooldown; then exactly one probe goes through
// (half-open) while others are refused. What a failure is blamed on comes from evidence
// (blameOf): an outcome a caller can cause with its own choice of chatbot never counts.
import { ProblemError } from '../http/errors.ts'
import type { ErrorCode } from '../http/errors.ts'
import type { CircuitState } from '../telemetry/events.ts'

/** How an attempt ended, as far as the circuit cares; `neutral` and `abandoned` decide nothing. */
export type AttemptVerdict = 'failure' | 'healthy' | 'neutral' | 'abandoned'

/**
 * What a failed attempt is evidence about: the upstream itself (transport failures and
 * 5xx classes), the key (an auth failure for a chatbot the key is known to work for), only
 * the chatbot the caller chose (any other auth failure, 400/404-class answers), or nothing
 * bad (upstream rate limiting: it is alive and asks us to slow down).
 */
export type Blame = 'upstream' | 'key' | 'chatbot' | 'alive'

const UPSTREAM_FAULTS = new Set<ErrorCode>(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR', 'UPSTREAM_BAD_RESPONSE'])

export function blameOf (code: ErrorCode, keyWorksForChatbot: boolean): Blame {
  if (UPSTREAM_FAULTS.has(code)) return 'upstream'
  if (code === 'UPSTREAM_AUTH_FAILED') return keyWorksForChatbot ? 'key' : 'chatbot'
  if (code === 'UPSTREAM_RATE_LIMITED') return 'alive'
  return 'chatbot'
}

/** The circuit's verdict on a blamed attempt: a probe that got any answer shows the upstream alive. */
export function verdictOf (blame: Blame, probe: boolean): AttemptVerdict {
  if (blame === 'upstream' || blame === 'key') return 'failure'
  if (blame === 'alive' || probe) return 'healthy'
  return 'neutral'
}

export interface CircuitOptions {
  threshold: number
  cooldownMs: number
  now?: () => number
  onChange?: (state: CircuitState, previous: CircuitState) => void
}

export class CircuitBreaker {
  readonly #threshold: number
  readonly #cooldownMs: number
  readonly #now: () => number
  readonly #onChange: (state: CircuitState, previous: CircuitState) => void
  #state: CircuitState = 'closed'
  #failures = 0
  #openedAt = 0
  #probing = false

  constructor (options: CircuitOptions) {
    this.#threshold = options.threshold
    this.#cooldownMs = options.cooldownMs
    this.#now = options.now ?? Date.now
    this.#onChange = options.onChange ?? (() => {})
  }

  get state (): CircuitState {
    return this.#state
  }

  /**
   * The state as callers meet it now, for the metrics: an open circuit whose cooldown has
   * passed admits the next request as a probe, so it reads half_open although the move
   * happens only when a request comes. Reading it changes nothing.
   */
  effectiveState (): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#cooldownMs) return 'half_open'
    return this.#state
  }

  #move (state: CircuitState): void {
    const previous = this.#state
    if (previous === state) return
    this.#state = state
    this.#onChange(state, previous)
  }

  #refuse (): ProblemError {
    const remaining = this.#state === 'open' ? this.#openedAt + this.#cooldownMs - this.#now() : 1000
    return new ProblemError('UPSTREAM_CIRCUIT_OPEN', undefined, { 'retry-after': String(Math.max(1, Math.ceil(remaining / 1000))) })
  }

  /**
   * Admits one attempt or throws UPSTREAM_CIRCUIT_OPEN. Returns whether the attempt is
   * the half-open probe (its verdict decides the circuit).
   */
  admit (): boolean {
    if (this.#state === 'closed') return false
    if (this.#state === 'open') {
      if (this.#now() - this.#openedAt < this.#cooldownMs) throw this.#refuse()
      this.#move('half_open')
    }
    if (this.#probing) throw this.#refuse()
    this.#probing = true
    return true
  }

  record (verdict: AttemptVerdict, probe: boolean): void {
    if (probe) this.#probing = false
    if (verdict === 'abandoned' || verdict === 'neutral') return
    if (verdict === 'healthy') {
      this.#failures = 0
      if (probe || this.#state === 'half_open') this.#move('closed')
      return
    }
    this.#failures++
    if (probe || (this.#state === 'closed' && this.#failures >= this.#threshold)) {
      this.#openedAt = this.#now()
      this.#move('open')
    }
  }
}
