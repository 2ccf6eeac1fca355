// The service's Prometheus metrics, owned by one object with its own registry (never the
// global one: tests build several apps per process). Every label value comes from a fixed
// set, and anything else is counted as `other`, so no caller can grow the series count:
// not a URL, a serialNumber, a token, a key or an unexpected error code.
import { STATUS_CODES } from 'node:http'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { LatencyHistogram } from './latency-histogram.ts'
import type { Series } from './latency-histogram.ts'
import { fingerprint } from '../lib/secrets.ts'
import type { ReadinessReport } from '../http/readiness.ts'
import { ATTEMPT_OUTCOMES, BOT_CHECK_OUTCOMES, CIRCUIT_STATES, MESSAGE_OUTCOMES, OVERLOAD_REASONS, QUOTA_KINDS, RETRY_REASONS, STORES, STREAM_ENDS, VISITOR_TOKEN_OUTCOMES } from './events.ts'
import type { AttemptOutcome, BotCheckOutcome, CircuitState, MessageOutcome, OverloadReason, QuotaKindName, RetryReason, Store, StreamEnd, VisitorTokenOutcome } from './events.ts'

export const PREFIX = 'hottask_proxy_'
/** The route label of requests no route matched (404, and 405 through the not-found handler). */
export const NOT_FOUND_ROUTE = 'not_found'
/** The label value of anything outside its fixed set. */
export const OTHER = 'other'
/** At most this many route patterns get their own label; an app has far fewer. */
export const MAX_ROUTES = 64

// Most requests are either local (health, metrics: under 5 ms) or one upstream call of
// 100–500 ms; the tail runs to the upstream deadline (UPSTREAM_TIMEOUT_MS, 10 s default).
export const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30]
// A chatbot's reply takes seconds: its first byte, up to the message deadline (MESSAGE_TIMEOUT_MS, 60 s default).
export const FIRST_BYTE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 120]
export const UPSTREAM_BUCKETS = [0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30]

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/** What the upstream concurrency limiter reports at scrape time (ConcurrencyLimiter fits). */
export interface UpstreamLoad {
  readonly active: number
  readonly queued: number
}

// Status labels are pre-built strings, indexed by code: no String() per request.
const STATUS_LABELS: string[] = []
for (const code of Object.keys(STATUS_CODES)) STATUS_LABELS[Number(code)] = code

/** What the circuit gauge reads at scrape time (CircuitBreaker fits). */
export interface CircuitSource {
  effectiveState (): CircuitState
}

/** What the readiness gauge reads at scrape time (Readiness fits). */
export interface ReadinessSource {
  report (): ReadinessReport
}

/** Records one answered request of a route: its method, status and duration in milliseconds. */
export type RequestRecorder = (method: string, statusCode: number, durationMs: number) => void

const bounded = (allowed: ReadonlySet<string>, value: string): string => allowed.has(value) ? value : OTHER

export class Metrics {
  readonly registry = new Registry()
  readonly #routes = new Set([NOT_FOUND_ROUTE])
  readonly #methods = new Set<string>(METHODS)
  readonly #outcomes = new Set<string>(ATTEMPT_OUTCOMES)
  readonly #retryReasons = new Set<string>(RETRY_REASONS)
  readonly #stores = new Set<string>(STORES)
  readonly #overloadReasons = new Set<string>(OVERLOAD_REASONS)
  readonly #messageOutcomes = new Set<string>(MESSAGE_OUTCOMES)
  readonly #streamEnds = new Set<string>(STREAM_ENDS)
  readonly #visitorOutcomes = new Set<string>(VISITOR_TOKEN_OUTCOMES)
  readonly #botCheckOutcomes = new Set<string>(BOT_CHECK_OUTCOMES)
  readonly #quotaKinds = new Set<string>(QUOTA_KINDS)

  #load: UpstreamLoad | undefined
  #messageLoad: UpstreamLoad | undefined
  #readiness: ReadinessSource | undefined
  #circuitSource: CircuitSource | undefined
  /** http_requests_total and http_request_duration_seconds. */
  readonly #requests: LatencyHistogram
  readonly #recorders = new Map<string, RequestRecorder>()
  /** upstream_attempts_total and upstream_attempt_duration_seconds. */
  readonly #attempts: LatencyHistogram
  readonly #attemptSeries = new Map<string, Series>()
  readonly #retries: Counter<'reason'>
  readonly #keyRefusals: Counter
  readonly #circuit: Gauge<'state'>
  readonly #rateLimited: Counter
  readonly #originRefused: Counter
  readonly #replays: Counter
  readonly #storeErrors: Counter<'store'>
  readonly #overload: Counter<'reason'>
  readonly #connectionsDropped: Counter
  readonly #messages: Counter<'outcome'>
  readonly #streams: Counter<'end'>
  readonly #visitorTokens: Counter<'outcome'>
  readonly #visitorValid: ReturnType<Counter<'outcome'>['labels']>
  readonly #botChecks: Counter<'outcome'>
  readonly #quotaRefusals: Counter<'quota'>
  readonly #firstByte: Histogram
  readonly #apiKey: Gauge<'fingerprint'>

  constructor () {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX })
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name: PREFIX + name, help, labelNames, registers })

    this.#requests = new LatencyHistogram(this.registry,
      { name: PREFIX + 'http_request_duration_seconds', help: 'Time from request received to response sent.' },
      { name: PREFIX + 'http_requests_total', help: 'Requests answered, by route pattern, method and status.' },
      REQUEST_BUCKETS)
    this.#attempts = new LatencyHistogram(this.registry,
      { name: PREFIX + 'upstream_attempt_duration_seconds', help: 'Duration of one upstream attempt, by outcome.' },
      { name: PREFIX + 'upstream_attempts_total', help: 'Upstream attempts (each retry is one), by outcome: success or the error code.' },
      UPSTREAM_BUCKETS)
    this.#retries = counter('upstream_retries_total', 'Upstream retries started, by reason.', ['reason'])
    this.#keyRefusals = counter('upstream_key_refusals_total', 'Upstream auth failures for a chatbot the same key was seen to work for (or one ALLOWED_SERIAL_NUMBERS names): evidence against the key, never a caller\'s choice of chatbot.')
    // Read at scrape time when a breaker is tracked: an open circuit moves to half-open only
    // when a request comes, and with little traffic the gauge would read open long after the
    // cooldown (and page) although the next request would go through.
    this.#circuit = new Gauge({
      name: PREFIX + 'circuit_state',
      help: 'Circuit breaker state: 1 for the current state, 0 for the others.',
      labelNames: ['state'],
      registers,
      collect: () => { if (this.#circuitSource !== undefined) this.setCircuitState(this.#circuitSource.effectiveState()) }
    })
    this.#rateLimited = counter('rate_limited_total', 'Requests refused with 429 RATE_LIMITED.')
    this.#originRefused = counter('origin_refused_total', 'Requests refused with 403 ORIGIN_NOT_ALLOWED.')
    this.#replays = counter('idempotent_replays_total', 'Answers replayed for a repeated Idempotency-Key, without an upstream call.')
    this.#storeErrors = counter('store_errors_total', 'Failed operations on a shared store (Redis), by store.', ['store'])
    this.#overload = counter('overload_refusals_total', 'Requests refused with 503 OVERLOADED, by reason.', ['reason'])
    this.#connectionsDropped = counter('connections_dropped_total', 'Client connections closed on arrival because MAX_CONNECTIONS were open.')
    this.#messages = counter('messages_total', 'Message requests, by outcome: answered, streamed, client_gone, or the error code.', ['outcome'])
    this.#visitorTokens = counter('visitor_tokens_total', 'Visitor tokens verified, by outcome: valid, why one was refused, or keys_unavailable.', ['outcome'])
    this.#botChecks = counter('bot_checks_total', 'Bot checks of POST /sessions, by outcome: passed, why one was refused, unavailable, or let_through (BOT_CHECK_ON_ERROR=open).', ['outcome'])
    this.#quotaRefusals = counter('quota_refusals_total', 'Requests refused with 429 QUOTA_EXCEEDED, by the quota spent.', ['quota'])
    this.#streams = counter('message_streams_total', 'Relayed message streams, by how they ended.', ['end'])
    this.#firstByte = new Histogram({ name: PREFIX + 'message_first_byte_seconds', help: 'Time from a message\'s admission to the upstream\'s answer headers (a whole answer: its end).', buckets: FIRST_BYTE_BUCKETS, registers })
    this.#apiKey = new Gauge({ name: PREFIX + 'api_key_info', help: 'The API key in use, named by its fingerprint.', labelNames: ['fingerprint'], registers })

    const load = (name: string, help: string, read: (source: UpstreamLoad) => number): void => {
      const gauge: Gauge = new Gauge({ name: PREFIX + name, help, registers, collect: () => { gauge.set(this.#load === undefined ? 0 : read(this.#load)) } })
    }
    load('upstream_concurrency', 'Requests holding an upstream concurrency slot.', (source) => source.active)
    load('upstream_queue_length', 'Requests waiting for an upstream concurrency slot.', (source) => source.queued)
    const messageLoad = (name: string, help: string, read: (source: UpstreamLoad) => number): void => {
      const gauge: Gauge = new Gauge({ name: PREFIX + name, help, registers, collect: () => { gauge.set(this.#messageLoad === undefined ? 0 : read(this.#messageLoad)) } })
    }
    messageLoad('message_concurrency', 'Messages holding a message concurrency slot (a relayed stream holds one until it ends).', (source) => source.active)
    messageLoad('message_queue_length', 'Messages waiting for a message concurrency slot.', (source) => source.queued)
    // Read at scrape time, like /readyz: only the checks this instance runs get a series, so
    // an alert on `check="redis"` never fires for an instance without Redis.
    const readiness: Gauge<'check'> = new Gauge({
      name: PREFIX + 'readiness_check',
      help: 'Each readiness check of /readyz: 1 passing, 0 failing.',
      labelNames: ['check'],
      registers,
      collect: () => {
        readiness.reset()
        const checks = this.#readiness?.report().checks ?? {}
        for (const [check, state] of Object.entries(checks)) readiness.set({ check }, state === 'ok' ? 1 : 0)
      }
    })

    // Fixed sets start at zero, so rate() and absent() see every series from the first scrape.
    for (const outcome of this.#outcomes) this.#attemptSeriesOf(outcome)
    for (const reason of RETRY_REASONS) this.#retries.inc({ reason }, 0)
    for (const store of STORES) this.#storeErrors.inc({ store }, 0)
    for (const reason of OVERLOAD_REASONS) this.#overload.inc({ reason }, 0)
    for (const end of STREAM_ENDS) this.#streams.inc({ end }, 0)
    for (const outcome of VISITOR_TOKEN_OUTCOMES) this.#visitorTokens.inc({ outcome }, 0)
    this.#visitorValid = this.#visitorTokens.labels({ outcome: 'valid' })
    for (const outcome of BOT_CHECK_OUTCOMES) this.#botChecks.inc({ outcome }, 0)
    for (const quota of QUOTA_KINDS) this.#quotaRefusals.inc({ quota }, 0)
    for (const outcome of ['answered', 'streamed']) this.#messages.inc({ outcome }, 0)
    this.setCircuitState('closed')
  }

  /** Gives a route pattern its own label (the plugin calls this from onRoute); beyond MAX_ROUTES, `other`. */
  allowRoute (url: string): void {
    if (this.#routes.size < MAX_ROUTES + 1) this.#routes.add(url)
  }

  /**
   * Records the requests of one route pattern (undefined: no route matched). A route's
   * hook holds its recorder, so only the method and status are looked up per request.
   */
  requestRecorder (route: string | undefined): RequestRecorder {
    const label = route === undefined ? NOT_FOUND_ROUTE : bounded(this.#routes, route)
    let recorder = this.#recorders.get(label)
    if (recorder === undefined) {
      recorder = this.#newRecorder(label)
      this.#recorders.set(label, recorder)
    }
    return recorder
  }

  recordRequest (route: string | undefined, method: string, statusCode: number, durationMs: number): void {
    this.requestRecorder(route)(method, statusCode, durationMs)
  }

  #newRecorder (route: string): RequestRecorder {
    const byMethod = new Map<string, Map<string, Series>>()
    return (method, statusCode, durationMs) => {
      const methodLabel = bounded(this.#methods, method)
      const statusLabel = STATUS_LABELS[statusCode] ?? OTHER
      let byStatus = byMethod.get(methodLabel)
      if (byStatus === undefined) {
        byStatus = new Map()
        byMethod.set(methodLabel, byStatus)
      }
      let series = byStatus.get(statusLabel)
      if (series === undefined) {
        series = this.#requests.series({ route, method: methodLabel, status_code: statusLabel })
        byStatus.set(statusLabel, series)
      }
      series.observe(durationMs / 1000)
    }
  }

  recordUpstreamAttempt (outcome: AttemptOutcome, durationMs: number): void {
    this.#attemptSeriesOf(outcome).observe(durationMs / 1000)
  }

  #attemptSeriesOf (outcome: string): Series {
    const label = bounded(this.#outcomes, outcome)
    let series = this.#attemptSeries.get(label)
    if (series === undefined) {
      series = this.#attempts.series({ outcome: label })
      this.#attemptSeries.set(label, series)
    }
    return series
  }

  recordRetry (reason: RetryReason): void { this.#retries.inc({ reason: bounded(this.#retryReasons, reason) }) }
  recordKeyRefused (): void { this.#keyRefusals.inc() }
  recordRateLimited (): void { this.#rateLimited.inc() }
  recordOriginRefused (): void { this.#originRefused.inc() }
  recordIdempotentReplay (): void { this.#replays.inc() }
  recordStoreError (store: Store): void { this.#storeErrors.inc({ store: bounded(this.#stores, store) }) }
  recordOverload (reason: OverloadReason): void { this.#overload.inc({ reason: bounded(this.#overloadReasons, reason) }) }
  recordConnectionDropped (): void { this.#connectionsDropped.inc() }
  recordMessage (outcome: MessageOutcome): void { this.#messages.inc({ outcome: bounded(this.#messageOutcomes, outcome) }) }
  recordVisitorToken (outcome: VisitorTokenOutcome): void {
    // Every request of a visitor counts one: the valid series is bound once.
    if (outcome === 'valid') this.#visitorValid.inc()
    else this.#visitorTokens.inc({ outcome: bounded(this.#visitorOutcomes, outcome) })
  }

  recordBotCheck (outcome: BotCheckOutcome): void { this.#botChecks.inc({ outcome: bounded(this.#botCheckOutcomes, outcome) }) }
  recordQuotaRefused (quota: QuotaKindName): void { this.#quotaRefusals.inc({ quota: bounded(this.#quotaKinds, quota) }) }
  recordStreamEnd (end: StreamEnd): void { this.#streams.inc({ end: bounded(this.#streamEnds, end) }) }
  recordFirstByte (seconds: number): void { this.#firstByte.observe(seconds) }

  setCircuitState (state: CircuitState): void {
    for (const each of CIRCUIT_STATES) this.#circuit.set({ state: each }, each === state ? 1 : 0)
  }

  /** Takes the key itself and keeps only its fingerprint, so no caller can label with the key. */
  setApiKey (key: string): void {
    this.#apiKey.reset()
    this.#apiKey.set({ fingerprint: fingerprint(key) }, 1)
  }

  /** Where the concurrency and queue-length gauges are read at scrape time. */
  trackUpstreamLoad (source: UpstreamLoad): void {
    this.#load = source
  }

  trackMessageLoad (source: UpstreamLoad): void {
    this.#messageLoad = source
  }

  /** Where the circuit gauge is read at scrape time. */
  trackCircuit (source: CircuitSource): void {
    this.#circuitSource = source
  }

  /** Where the readiness gauge is read at scrape time. */
  trackReadiness (source: ReadinessSource): void {
    this.#readiness = source
  }

  get contentType (): string { return this.registry.contentType }

  /** The exposition in Prometheus text format. */
  render (): Promise<string> { return this.registry.metrics() }
}

export function createMetrics (): Metrics {
  return new Metrics()
}
