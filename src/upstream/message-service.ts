// Relaying a message, resiliently but never twice: the circuit breaker (the one of the
// upstream host, shared with session creation) and the messages' own concurrency limit
// admit it; then the whole answer, or a stream's headers, must come within the message
// deadline. A message is retried only when its connection never opened, so no byte of it
// reached the upstream; any answer (429 and 503 included) is mapped, never retried. A
// relayed stream keeps its slot until it ends.
import type { FastifyBaseLogger } from 'fastify'
import { sleep } from '../lib/cancel.ts'
import type { CancelSignal } from '../lib/cancel.ts'
import type { KeyRing } from '../keys/key-ring.ts'
import type { SecretScrubber } from '../lib/secrets.ts'
import { ClientGoneError, isDeadline } from '../lib/abort-reasons.ts'
import { admitter } from './admission.ts'
import { Deadline } from '../lib/deadlines.ts'
import type { AskClient } from './ask-client.ts'
import { blameOf, verdictOf } from './circuit-breaker.ts'
import type { Blame, CircuitBreaker } from './circuit-breaker.ts'
import { classifyChatAnswer, classifyFailure } from './classify.ts'
import type { ConcurrencyLimiter } from './concurrency.ts'
import type { ChatAnswer } from './envelope.ts'
import type { KeyEvidence } from './key-evidence.ts'
import type { RelayStream } from './relay.ts'
import type { RetryBudget } from './retry-budget.ts'
import type { SessionObserver } from './session-service.ts'
import { UpstreamError } from './upstream-error.ts'
import type { AttemptTracer, RetryReason, StreamEnd } from '../telemetry/events.ts'

/** A retry waits at least this long for its attempt to have a chance. */
const MIN_ATTEMPT_MS = 50

export interface MessageObserver extends SessionObserver {
  /** Seconds from admission to the upstream's answer headers (a whole answer: to its end). */
  firstByte: (seconds: number) => void
  streamEnded: (end: StreamEnd) => void
}

export interface MessageServiceOptions {
  client: AskClient
  keys: KeyRing
  circuit: CircuitBreaker
  evidence: KeyEvidence
  limiter: ConcurrencyLimiter
  budget: RetryBudget
  scrubber: SecretScrubber
  timeoutMs: number
  retries: number
  retryBaseMs: number
  observer: MessageObserver
  random?: () => number
  sleep?: (ms: number, signal: CancelSignal) => Promise<void>
  /** Runs each attempt inside its span (tracing on only). */
  traceAttempt?: AttemptTracer
}

export interface MessageRequest {
  sessionId: string
  /** The chatbot the session token names: whose evidence an auth failure is weighed against. */
  serialNumber: string
  content: string
  stream: boolean
  requestId: string
  clientSignal: CancelSignal
  log: FastifyBaseLogger
}

export type MessageResult =
  | { kind: 'answer', answer: ChatAnswer, attempts: number }
  | { kind: 'stream', contentType: string, body: RelayStream, attempts: number }

export interface MessageService {
  send: (request: MessageRequest) => Promise<MessageResult>
}

/**
 * What a failed message is evidence about. A reply that outlasts the message deadline, or
 * one the proxy cannot use (too large, say), can be the caller's doing — a question asking
 * for a very long answer — so it never counts toward the circuit every caller shares.
 */
export function messageBlame (failure: UpstreamError, keyWorksForChatbot: boolean): Blame {
  if (failure.code === 'UPSTREAM_BAD_RESPONSE' || (failure.code === 'UPSTREAM_TIMEOUT' && failure.facts.cause === 'DEADLINE')) return 'chatbot'
  return blameOf(failure.code, keyWorksForChatbot)
}

export function createMessageService (options: MessageServiceOptions): MessageService {
  const { client, keys, circuit, evidence, limiter, budget, scrubber, timeoutMs, retries, retryBaseMs, observer } = options
  const random = options.random ?? Math.random
  const pause = options.sleep ?? sleep
  const { traceAttempt } = options
  const admit = admitter(limiter, circuit, observer.overloaded)

  /** A whole reply, its secrets replaced: the chatbot's words reach a browser. */
  const scrubbed = (answer: ChatAnswer): ChatAnswer => ({ ...answer, content: scrubber.scrub(answer.content) })

  async function attempts (request: MessageRequest, signal: CancelSignal, deadlineAt: number, firstProbe: boolean, admittedAt: number): Promise<MessageResult> {
    const { log } = request
    let probe = firstProbe
    let retriesDone = 0
    let retryReason: RetryReason | undefined
    for (let attempt = 1; ; attempt++) {
      const key = keys.current
      const started = performance.now()
      try {
        const ask = {
          sessionId: request.sessionId,
          content: request.content,
          stream: request.stream,
          requestId: request.requestId,
          key,
          // Every secret the proxy holds, in each form the logs are scrubbed of.
          secrets: scrubber.secrets
        }
        const result = traceAttempt === undefined
          ? await client.ask(ask, signal)
          : await traceAttempt({ attempt, retryReason }, () => client.ask(ask, signal))
        observer.firstByte((performance.now() - admittedAt) / 1000)
        const outcome: MessageResult = result.kind === 'stream'
          ? { kind: 'stream', contentType: result.contentType, body: result.body, attempts: attempt }
          : { kind: 'answer', answer: scrubbed(classifyChatAnswer(result.answer, scrubber)), attempts: attempt }
        circuit.record('healthy', probe)
        evidence.recordSuccess(key, request.serialNumber)
        observer.attempt('success', performance.now() - started)
        log.debug({ attempt, outcome: 'success', streamed: outcome.kind === 'stream' }, 'upstream attempt')
        return outcome
      } catch (caught) {
        const elapsed = performance.now() - started
        let error = caught
        if (!(error instanceof UpstreamError)) {
          if (signal.aborted && !isDeadline(signal)) {
            circuit.record('abandoned', probe)
            observer.attempt('client_gone', elapsed)
            throw new ClientGoneError()
          }
          try {
            error = classifyFailure(error, isDeadline(signal))
          } catch (bug) {
            circuit.record('abandoned', probe)
            throw bug
          }
        }
        const failure = error as UpstreamError
        const blame = messageBlame(failure, evidence.worksFor(key, request.serialNumber))
        circuit.record(verdictOf(blame, probe), probe)
        if (blame === 'key') observer.keyRefused?.()
        observer.attempt(failure.code, elapsed)
        failure.facts.attempts = attempt
        log.debug({ attempt, outcome: failure.code, cause: failure.facts.cause, httpStatus: failure.facts.httpStatus }, 'upstream attempt')
        // Only a message that never left may go again.
        if (failure.facts.notSent !== true || retriesDone >= retries) throw failure
        const waitMs = random() * retryBaseMs * 2 ** retriesDone
        if (Date.now() + waitMs + Math.max(MIN_ATTEMPT_MS, elapsed) > deadlineAt || !budget.tryRetry()) throw failure
        retriesDone++
        retryReason = 'not_sent'
        observer.retry(retryReason)
        try {
          await pause(waitMs, signal)
        } catch {
          if (signal.reason instanceof ClientGoneError) throw new ClientGoneError()
          throw failure
        }
        // The circuit may have opened meanwhile: then this answer stands.
        try { probe = circuit.admit() } catch { throw failure }
      }
    }
  }

  async function send (request: MessageRequest): Promise<MessageResult> {
    const probe = circuit.admit()
    const limit = new Deadline(timeoutMs, request.clientSignal)
    let release: (() => void) | undefined
    let handedOver = false
    try {
      const slot = admit(limit, probe)
      release = typeof slot === 'function' ? slot : await slot
      budget.recordRequest()
      const result = await attempts(request, limit, limit.at, probe, performance.now())
      if (result.kind === 'stream') {
        // The slot is the stream's until it ends.
        handedOver = true
        const done = release
        result.body.onEnd((end) => {
          done()
          observer.streamEnded(end)
        })
      }
      return result
    } finally {
      limit.dispose()
      if (!handedOver) release?.()
    }
  }

  return { send }
}
