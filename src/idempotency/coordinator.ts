// Idempotency-Key for POST /sessions and whole-answer messages. The first request for a
// (client, key) pair runs the upstream call; a later one asking the same (the same chatbot,
// the same message: its fingerprint) replays the stored answer, and
// concurrent ones share the call in flight: on this replica through an in-process
// map, on another replica by polling the store's pending marker. Only answers below
// 500 are kept, so the client may retry a failure. The store is never a dependency:
// when it fails, the request is served as if it had no key.
import { Cancel, sleep } from '../lib/cancel.ts'
import type { CancelSignal } from '../lib/cancel.ts'
import { ProblemError } from '../http/errors.ts'
import type { ErrorCode } from '../http/errors.ts'
import { refused, replay, succeeded } from './answer.ts'
import { storeId } from './key.ts'
import type { Entry, IdempotencyStore, StoredAnswer } from './types.ts'

export { REPLAYED_HEADER } from './answer.ts'

const POLL_INTERVAL_MS = 50
/** How long a pending marker outlives the call's own deadline, should its replica die mid-call. */
export const PENDING_MARGIN_MS = 5000
/** Told to a request that waited on another replica's call until its own deadline. */
const REMOTE_TIMEOUT_DETAIL = 'The first request with this Idempotency-Key did not finish in time; retry later.'

export interface IdempotencyOptions {
  store: IdempotencyStore
  /** How long an answer is replayed. */
  ttlMs: number
  /** How long a pending marker outlives a replica that died mid-call: the upstream deadline plus a margin. */
  pendingTtlMs: number
  pollIntervalMs?: number
  /** Each answer given as a replay (a stored one, or a shared one to a waiter). */
  onReplay?: () => void
  onStoreError?: (error: unknown) => void
  /** The clock of `deadlineAt` (default Date.now). */
  now?: () => number
}

export interface IdempotentRequest {
  /** The client's identity (token name or IP, with its kind): two scopes never share. */
  scope: string
  key: string
  /** What the request asks (a chatbot, a message's content digest): the same key asking something else is 422. */
  fingerprint: string
  /** Aborts when this request's client goes away. */
  clientSignal: CancelSignal
  /** When to stop waiting for another replica's call (epoch ms). */
  deadlineAt: number
  /** How long a replica dying mid-call leaves its pending marker: the call's deadline and a margin (default the coordinator's). */
  pendingTtlMs?: number
  /** Makes the upstream call under `signal`, which aborts once every local client sharing it is gone; resolves to the body to answer. */
  call: (signal: CancelSignal) => Promise<string>
}

export interface IdempotentResult {
  body: string
  /** True when the answer is not this request's own call. */
  replayed: boolean
}

type Outcome =
  // The call ran here; `error` is its original rejection, rethrown to the request that led.
  | { type: 'executed', answer: StoredAnswer, error?: unknown }
  | { type: 'stored', answer: StoredAnswer }
  | { type: 'refused', code: ErrorCode, detail?: string }
  // Not a problem of the contract (the client left, a bug): every participant gets it as is.
  | { type: 'failed', error: unknown }

interface Flight {
  fingerprint: string
  /** Aborted when the last participating client goes away. */
  cancel: Cancel
  active: number
  detachers: Array<() => void>
  outcome: Promise<Outcome>
}

export class Idempotency {
  readonly #store: IdempotencyStore
  readonly #ttlMs: number
  readonly #pendingTtlMs: number
  readonly #pollIntervalMs: number
  readonly #onReplay: () => void
  readonly #onStoreError: (error: unknown) => void
  readonly #now: () => number
  readonly #flights = new Map<string, Flight>()

  constructor (options: IdempotencyOptions) {
    this.#store = options.store
    this.#ttlMs = options.ttlMs
    this.#pendingTtlMs = options.pendingTtlMs
    this.#pollIntervalMs = options.pollIntervalMs ?? POLL_INTERVAL_MS
    this.#onReplay = options.onReplay ?? (() => {})
    this.#onStoreError = options.onStoreError ?? (() => {})
    this.#now = options.now ?? Date.now
  }

  /** Resolves to the session, or rejects with the answer's error (a replayed one carries REPLAYED_HEADER). */
  async run (request: IdempotentRequest): Promise<IdempotentResult> {
    const id = storeId(request.scope, request.key)
    const running = this.#flights.get(id)
    if (running !== undefined) {
      if (running.fingerprint !== request.fingerprint) throw new ProblemError('IDEMPOTENCY_KEY_REUSED')
      if (running.cancel.aborted) {
        // Everyone it served has left and its call is being aborted: start afresh once it has settled.
        await running.outcome
        return await this.run(request)
      }
      this.#attach(running, request.clientSignal)
      return this.#answer(await running.outcome, false)
    }

    const { promise, resolve } = Promise.withResolvers<Outcome>()
    const flight: Flight = { fingerprint: request.fingerprint, cancel: new Cancel(), active: 0, detachers: [], outcome: promise }
    this.#flights.set(id, flight)
    this.#attach(flight, request.clientSignal)
    // The flight leaves the map before anyone sees its outcome, so a retry after it starts afresh.
    resolve(this.#settle(id, flight, request).finally(() => {
      this.#flights.delete(id)
      for (const detach of flight.detachers) detach()
    }))
    return this.#answer(await promise, true)
  }

  #attach (flight: Flight, clientSignal: CancelSignal): void {
    const leave = (): void => {
      flight.active--
      if (flight.active === 0) flight.cancel.abort(clientSignal.reason)
    }
    flight.active++
    if (clientSignal.aborted) {
      leave()
      return
    }
    clientSignal.addEventListener('abort', leave)
    flight.detachers.push(() => clientSignal.removeEventListener('abort', leave))
  }

  #answer (outcome: Outcome, led: boolean): IdempotentResult {
    if (outcome.type === 'failed') throw outcome.error
    if (outcome.type === 'refused') throw new ProblemError(outcome.code, outcome.detail)
    const { answer } = outcome
    if (outcome.type === 'executed' && led) {
      if (outcome.error !== undefined) throw outcome.error
      return { body: answer.body as string, replayed: false }
    }
    this.#onReplay()
    return { body: replay(answer), replayed: true }
  }

  /** Decides the flight's outcome; never rejects. */
  async #settle (id: string, flight: Flight, request: IdempotentRequest): Promise<Outcome> {
    const { fingerprint } = request
    for (;;) {
      let entry: Entry | undefined
      try {
        entry = await this.#store.begin(id, fingerprint, request.pendingTtlMs ?? this.#pendingTtlMs)
      } catch (error) {
        this.#onStoreError(error)
        return await this.#execute(flight, request, undefined)
      }
      if (entry === undefined) return await this.#execute(flight, request, id)
      if (entry.fingerprint !== fingerprint) return { type: 'refused', code: 'IDEMPOTENCY_KEY_REUSED' }
      if (entry.state === 'done') return { type: 'stored', answer: entry.answer }

      // Another replica runs it. When its marker changes, claim again: that finds its
      // answer, or (it failed and kept nothing) makes this request the one that calls.
      let changed: boolean
      try {
        changed = await this.#whilePending(id, flight.cancel, request.deadlineAt)
      } catch (error) {
        if (flight.cancel.aborted) return { type: 'failed', error: flight.cancel.reason }
        this.#onStoreError(error)
        return await this.#execute(flight, request, undefined)
      }
      if (!changed) return { type: 'refused', code: 'UPSTREAM_TIMEOUT', detail: REMOTE_TIMEOUT_DETAIL }
    }
  }

  /**
   * Polls the marker until it changes (true) or the deadline passes (false); rejects
   * with the signal's reason when every client has left, or with the store's error.
   * The deadline is a time, not a timer: the last poll waits only what is left of it.
   */
  async #whilePending (id: string, signal: CancelSignal, deadlineAt: number): Promise<boolean> {
    for (;;) {
      const left = deadlineAt - this.#now()
      if (left <= 0) return false
      await sleep(Math.min(this.#pollIntervalMs, left), signal)
      const entry = await this.#store.get(id)
      if (entry?.state !== 'pending') return true
    }
  }

  /** Runs the call; with an `id` (claimed), keeps or drops its answer in the store. */
  async #execute (flight: Flight, request: IdempotentRequest, id: string | undefined): Promise<Outcome> {
    let outcome: Outcome
    try {
      const body = await request.call(flight.cancel)
      outcome = { type: 'executed', answer: succeeded(body) }
    } catch (error) {
      outcome = error instanceof ProblemError
        ? { type: 'executed', answer: refused(error), error }
        : { type: 'failed', error }
    }
    if (id === undefined) return outcome
    const kept = keptAnswer(outcome, flight.cancel.aborted)
    try {
      if (kept !== undefined) await this.#store.complete(id, request.fingerprint, kept, this.#ttlMs)
      else await this.#store.abandon(id)
    } catch (error) {
      this.#onStoreError(error)
    }
    return outcome
  }
}

/** Answers below 500 are kept; a failure of a call its clients abandoned says nothing about the request. */
function keptAnswer (outcome: Outcome, abandoned: boolean): StoredAnswer | undefined {
  if (outcome.type !== 'executed' || outcome.answer.status >= 500) return undefined
  if (outcome.error !== undefined && abandoned) return undefined
  return outcome.answer
}
