// Creating a session, resiliently: the circuit breaker and the concurrency limit admit
// the request, then attempts run under one deadline (combined with the client's
// presence). A retry happens only when the upstream provably did not act on the POST
// (connection never established, or 429/503 with a Retry-After that fits), within the
// retry budget and the deadline. An auth failure is retried once with the next key.
// Each failure is blamed on what it is evidence about (circuit-breaker.ts, blameOf): the
// upstream, the key, or only the chatbot the caller chose, so no caller can switch the
// service off for others by choosing a chatbot that fails.
import type { FastifyBaseLogger } from 'fastify'
import { sleep } from '../lib/cancel.ts'
import type { CancelSignal } from '../lib/cancel.ts'
import type { KeyRing } from '../keys/key-ring.ts'
import { fingerprint } from '../lib/secrets.ts'
import { ClientGoneError } from '../lib/abort-reasons.ts'
import { admitter } from './admission.ts'
import { Deadline } from '../lib/deadlines.ts'
import { blameOf, verdictOf } from './circuit-breaker.ts'
import type { CircuitBreaker } from './circuit-breaker.ts'
import type { ChatbotBreakers } from './chatbot-breakers.ts'
import type { KeyEvidence } from './key-evidence.ts'
import type { UpstreamClient } from './client.ts'
import type { ConcurrencyLimiter } from './concurrency.ts'
import type { RetryBudget } from './retry-budget.ts'
import type { AttemptOutcome, AttemptTracer, OverloadReason, RetryReason } from '../telemetry/events.ts'
import { UpstreamError } from './upstream-error.ts'

/** A retry waits at least this long for its attempt to have a chance. */
const MIN_ATTEMPT_MS = 50

export interface SessionObserver {
  attempt: (outcome: AttemptOutcome, durationMs: number) => void
  retry: (reason: RetryReason) => void
  overloaded: (reason: OverloadReason) => void
  /** A key known to work for the chatbot was refused: evidence against the key itself. */
  keyRefused?: () => void
}

export interface SessionServiceOptions {
  client: UpstreamClient
  keys: KeyRing
  circuit: CircuitBreaker
  /** Which chatbots each key was seen to work for. */
  evidence: KeyEvidence
  /** Breakers for failures that are about one chatbot only. */
  chatbots: ChatbotBreakers
  limiter: ConcurrencyLimiter
  budget: RetryBudget
  timeoutMs: number
  retries: number
  retryBaseMs: number
  observer: SessionObserver
  /** The jitter's random source (tests make it fixed). */
  random?: () => number
  /** How a retry waits (tests record the waits instead of sleeping). */
  sleep?: (ms: number, signal: CancelSignal) => Promise<void>
  /** Runs each attempt inside its span (tracing on only). */
  traceAttempt?: AttemptTracer
}

export interface SessionRequest {
  serialNumber: string
  requestId: string
  /** Aborts when the client goes away. */
  clientSignal: CancelSignal
  log: FastifyBaseLogger
}

export interface CreatedSession { sessionId: string, attempts: number }

export interface SessionService {
  createSession: (request: SessionRequest) => Promise<CreatedSession>
}

export function createSessionService (options: SessionServiceOptions): SessionService {
  const { client, keys, circuit, evidence, chatbots, limiter, budget, timeoutMs, retries, retryBaseMs, observer } = options
  const random = options.random ?? Math.random
  const pause = options.sleep ?? sleep
  const { traceAttempt } = options

  /** How long to wait before retrying, or undefined when the POST may have been acted on. */
  function retryWait (error: UpstreamError, retryNumber: number): { ms: number, reason: RetryReason } | undefined {
    const { notSent, httpStatus, retryAfter } = error.facts
    if (notSent === true) return { ms: random() * retryBaseMs * 2 ** (retryNumber - 1), reason: 'not_sent' }
    if ((httpStatus === 429 || httpStatus === 503) && retryAfter !== undefined) return { ms: retryAfter * 1000, reason: 'retry_after' }
    return undefined
  }

  const admit = admitter(limiter, circuit, observer.overloaded)

  /** Every attempt, under the deadline and in the slot; ends them both, whatever the outcome. */
  async function attempts (request: SessionRequest, signal: Deadline, firstProbe: boolean, release: () => void): Promise<CreatedSession> {
    const deadlineAt = signal.at
    try {
      budget.recordRequest()
      const { log } = request
      let key = keys.current
      let refusedKey: string | undefined
      let probe = firstProbe
      let retriesDone = 0
      let last: UpstreamError | undefined
      let retryReason: RetryReason | undefined
      for (let attempt = 1; ; attempt++) {
        if (last !== undefined) {
          // The circuit may have opened meanwhile: then the last answer stands.
          try { probe = circuit.admit() } catch { throw last }
        }
        const started = performance.now()
        try {
          const upstreamRequest = { serialNumber: request.serialNumber, requestId: request.requestId, key }
          const sessionId = traceAttempt === undefined
            ? await client.attempt(upstreamRequest, signal)
            : await traceAttempt({ attempt, retryReason }, () => client.attempt(upstreamRequest, signal))
          circuit.record('healthy', probe)
          evidence.recordSuccess(key, request.serialNumber)
          chatbots.recordSuccess(request.serialNumber)
          observer.attempt('success', performance.now() - started)
          log.debug({ attempt, outcome: 'success' }, 'upstream attempt')
          if (refusedKey !== undefined) {
            keys.promote(refusedKey, key)
            log.warn({ refused: fingerprint(refusedKey), current: fingerprint(key) }, 'API key refused upstream; the next key worked and is now current')
          }
          return { sessionId, attempts: attempt }
        } catch (error) {
          const elapsed = performance.now() - started
          if (!(error instanceof UpstreamError)) {
            circuit.record('abandoned', probe)
            if (error instanceof ClientGoneError) observer.attempt('client_gone', elapsed)
            throw error
          }
          const blame = blameOf(error.code, evidence.worksFor(key, request.serialNumber))
          circuit.record(verdictOf(blame, probe), probe)
          if (blame === 'key') observer.keyRefused?.()
          last = error
          observer.attempt(error.code, elapsed)
          error.facts.attempts = attempt
          if (error.code === 'UPSTREAM_AUTH_FAILED') error.facts.keyFingerprint = fingerprint(key)
          log.debug({ attempt, outcome: error.code, cause: error.facts.cause, httpStatus: error.facts.httpStatus }, 'upstream attempt')

          // The next key is tried when the key is to blame, or once per chatbot while the key
          // has not worked at all (a start with a revoked key); it becomes current only if it works.
          const next = keys.next
          if (error.code === 'UPSTREAM_AUTH_FAILED' && refusedKey === undefined && next !== undefined && next !== key &&
            (blame === 'key' || (!evidence.keyProven(key) && evidence.mayTryNextKey(request.serialNumber)))) {
            refusedKey = key
            key = next
            retryReason = 'next_key'
            observer.retry(retryReason)
            continue
          }
          if (blame === 'chatbot') chatbots.recordFailure(request.serialNumber, error)
          const wait = retryWait(error, retriesDone + 1)
          if (wait === undefined || retriesDone >= retries) throw error
          if (Date.now() + wait.ms + Math.max(MIN_ATTEMPT_MS, elapsed) > deadlineAt) throw error
          if (!budget.tryRetry()) {
            log.debug('retry budget spent')
            throw error
          }
          retriesDone++
          retryReason = wait.reason
          observer.retry(retryReason)
          try {
            await pause(wait.ms, signal)
          } catch {
            if (signal.reason instanceof ClientGoneError) throw new ClientGoneError()
            throw error
          }
        }
      }
    } finally {
      signal.dispose()
      release()
    }
  }

  // Not async: with a free slot (the usual case) the request's only frame waiting on the
  // upstream is attempts(); a refusal before it still rejects, never throws.
  function createSession (request: SessionRequest): Promise<CreatedSession> {
    let limit: Deadline | undefined
    try {
      chatbots.check(request.serialNumber)
      const probe = circuit.admit()
      limit = new Deadline(timeoutMs, request.clientSignal)
      const slot = admit(limit, probe)
      if (typeof slot === 'function') return attempts(request, limit, probe, slot)
      const queued = limit
      return slot.then((release) => attempts(request, queued, probe, release), (error: unknown) => {
        queued.dispose()
        throw error
      })
    } catch (error) {
      limit?.dispose()
      return Promise.reject(error)
    }
  }

  return { createSession }
}
