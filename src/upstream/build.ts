// Wires the upstream side from the configuration: the key ring (and its files), the
// clients with their pools, the session service and the message service, which share
// the upstream host's circuit and retry budget but have limiters of their own.
import type { FastifyBaseLogger } from 'fastify'
import type { Dispatcher } from 'undici'
import type { Config } from '../config/config.ts'
import { KeyFiles } from '../keys/key-files.ts'
import { KeyRing } from '../keys/key-ring.ts'
import type { SecretScrubber } from '../lib/secrets.ts'
import { ChatbotBreakers } from './chatbot-breakers.ts'
import { CircuitBreaker } from './circuit-breaker.ts'
import type { AttemptTracer, CircuitState } from '../telemetry/events.ts'
import { createUpstreamClient } from './client.ts'
import { ConcurrencyLimiter } from './concurrency.ts'
import { RetryBudget } from './retry-budget.ts'
import { KeyEvidence } from './key-evidence.ts'
import { createSessionService } from './session-service.ts'
import type { SessionService } from './session-service.ts'
import { createAskClient } from './ask-client.ts'
import { createMessageService } from './message-service.ts'
import type { MessageObserver, MessageService } from './message-service.ts'

export interface UpstreamObserver extends MessageObserver {
  circuit: (state: CircuitState) => void
  key: (key: string) => void
}

export interface UpstreamParts {
  sessions: SessionService
  messages: MessageService
  /** The messages' own limiter: long answers never take session creation's slots. */
  messageLimiter: ConcurrencyLimiter
  keys: KeyRing
  keyFiles: KeyFiles
  limiter: ConcurrencyLimiter
  circuit: CircuitBreaker
  close: () => Promise<void>
}

export interface UpstreamDeps {
  scrubber: SecretScrubber
  log: FastifyBaseLogger
  userAgent: string
  observer: UpstreamObserver
  dispatcher?: Dispatcher
  /** The clock of the circuit's cooldown and the retry budget's window (tests move it by hand). */
  now?: () => number
  /** Runs each upstream attempt inside its span; undefined with tracing off. */
  traceAttempt?: AttemptTracer
}

export function buildUpstream (config: Config, deps: UpstreamDeps): UpstreamParts {
  const { log, observer } = deps
  const chatbots = new ChatbotBreakers({ ...config.chatbotCircuit, now: deps.now })
  const evidence = new KeyEvidence({ allowedSerialNumbers: config.allowedSerialNumbers, maxChatbots: config.chatbotCircuit.maxChatbots, now: deps.now })
  // A new current key owes nothing to the refusals the old one got.
  const keys = new KeyRing(config.apiKey, config.nextApiKey, deps.scrubber, { onCurrent: (key) => { chatbots.clear(); observer.key(key) } })
  observer.key(keys.current)
  const keyFiles = new KeyFiles({ currentFile: config.apiKeyFile, nextFile: config.nextApiKeyFile, ring: keys, log })
  const circuit = new CircuitBreaker({
    threshold: config.circuit.failureThreshold,
    cooldownMs: config.circuit.cooldownMs,
    now: deps.now,
    onChange: (state, previous) => {
      log.warn({ state, previous }, 'upstream circuit state changed')
      observer.circuit(state)
    }
  })
  observer.circuit(circuit.state)
  const limiter = new ConcurrencyLimiter(config.load.maxConcurrency, config.load.queueMax)
  const client = createUpstreamClient({
    baseUrl: config.baseUrl,
    timeoutMs: config.upstreamTimeoutMs,
    userAgent: deps.userAgent,
    scrubber: deps.scrubber,
    dispatcher: deps.dispatcher,
    // Only admitted requests reach the pool, so it never needs more connections.
    connections: config.load.maxConcurrency
  })
  const budget = new RetryBudget({ percent: config.retry.budgetPercent, minPerWindow: config.retry.budgetMin, now: deps.now })
  const sessions = createSessionService({
    client,
    keys,
    circuit,
    evidence,
    chatbots,
    limiter,
    budget,
    timeoutMs: config.upstreamTimeoutMs,
    retries: config.retry.retries,
    retryBaseMs: config.retry.baseMs,
    observer,
    traceAttempt: deps.traceAttempt
  })
  const messageLimiter = new ConcurrencyLimiter(config.messages.maxConcurrency, config.messages.queueMax)
  const askClient = createAskClient({
    baseUrl: config.baseUrl,
    userAgent: deps.userAgent,
    timeoutMs: config.messages.timeoutMs,
    streamIdleMs: config.messages.streamIdleTimeoutMs,
    streamMaxMs: config.messages.streamMaxMs,
    connections: config.messages.maxConcurrency,
    dispatcher: deps.dispatcher
  })
  const messages = createMessageService({
    client: askClient,
    keys,
    circuit,
    evidence,
    limiter: messageLimiter,
    budget,
    scrubber: deps.scrubber,
    timeoutMs: config.messages.timeoutMs,
    retries: config.retry.retries,
    retryBaseMs: config.retry.baseMs,
    observer,
    traceAttempt: deps.traceAttempt
  })
  return {
    sessions,
    messages,
    messageLimiter,
    keys,
    keyFiles,
    limiter,
    circuit,
    close: async () => {
      keyFiles.close()
      await Promise.all([client.close(), askClient.close()])
    }
  }
}
