// A per-replica circuit breaker, counted per attempt: consecutive failures of the 5xx
// classes (or auth failures: a wrong key should not be hammered) open it for a
// cooldown; then exactly one probe goes through (half-open) while others are refused.
import { ProblemError } from '../http/errors.ts'
import type { ErrorCode } from '../http/errors.ts'
import type { AttemptOutcome, CircuitState } from '../telemetry/events.ts'

/** How an attempt ended, as far as the circuit cares. */
export type AttemptVerdict = 'failure' | 'healthy' | 'abandoned'

const FAILURES = new Set<ErrorCode>(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR', 'UPSTREAM_BAD_RESPONSE', 'UPSTREAM_AUTH_FAILED'])

/** Success, 4xx-class answers and upstream rate limiting prove the upstream is alive. */
export function verdictOf (code: AttemptOutcome): AttemptVerdict {
  if (code === 'client_gone') return 'abandoned'
  return code !== 'success' && FAILURES.has(code) ? 'failure' : 'healthy'
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
    if (verdict === 'abandoned') return
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
