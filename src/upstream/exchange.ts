// One upstream request/response through undici's dispatch API. The body arrives in
// chunks straight into a buffer: no Readable stream, async resource or abort-signal
// adapter per request, which undici's request() creates and this proxy never needs
// (every answer is a small JSON envelope, read whole). Bodies past the byte limit are
// refused unread: the connection is dropped, so a huge body costs no memory. A caller may
// pass how to settle (`Settle`): the outcome is then classified in the handler itself, so
// the caller needs no async function of its own suspended across the upstream wait.
import type { Dispatcher } from 'undici'
import type { CancelSignal } from '../lib/cancel.ts'
import { afterSending } from './classify.ts'
import type { UpstreamAnswer } from './classify.ts'

export interface ExchangeRequest {
  origin: string
  path: string
  headers: Record<string, string>
  body: string
  /** Larger bodies are not read (UpstreamAnswer.body is undefined). */
  maxBodyBytes: number
}

class BodyTooLarge extends Error {
  constructor () {
    super('upstream body over the limit')
    this.name = 'BodyTooLarge'
  }
}

/**
 * Turns the outcome into the caller's: `answer` returns its value or throws the error to
 * reject with; `failure` gives the error to reject with for a transport failure or an abort.
 */
export interface Settle<T> {
  answer: (answer: UpstreamAnswer) => T
  failure: (error: unknown, signal: CancelSignal) => unknown
}

/** The outcome as it is: the answer, or undici's error, or the signal's reason. */
const AS_IS: Settle<UpstreamAnswer> = { answer: (answer) => answer, failure: (error) => error }

/** A redirect is an error whose body is of no use: it is discarded, so the socket is reused. */
const isRedirect = (status: number): boolean => status >= 300 && status < 400

class ExchangeHandler<T> implements Dispatcher.DispatchHandler {
  readonly #signal: CancelSignal
  readonly #limit: number
  readonly #settle: Settle<T>
  readonly #resolve: (value: T) => void
  readonly #reject: (error: unknown) => void
  #controller: Dispatcher.DispatchController | undefined
  #settled = false
  #status = 0
  #headers: UpstreamAnswer['headers'] = {}
  #chunks: Buffer[] = []
  #size = 0

  constructor (signal: CancelSignal, limit: number, settle: Settle<T>, resolve: (value: T) => void, reject: (error: unknown) => void) {
    this.#signal = signal
    this.#limit = limit
    this.#settle = settle
    this.#resolve = resolve
    this.#reject = reject
    signal.addEventListener('abort', this)
  }

  // The signal aborted (the handler is its own listener: no closure per request). Settles
  // at once, even while the request still waits for a connection; undici is told as soon
  // as it hands over the request's controller.
  handleEvent (): void {
    this.#fail(this.#signal.reason)
    this.#controller?.abort(this.#signal.reason as Error)
  }

  #done (): void {
    this.#settled = true
    this.#signal.removeEventListener('abort', this)
  }

  #fail (error: unknown): void {
    if (this.#settled) return
    this.#done()
    let reason
    try {
      reason = this.#settle.failure(error, this.#signal)
    } catch (bug) {
      reason = bug
    }
    this.#reject(reason)
  }

  #answer (body: string | undefined): void {
    if (this.#settled) return
    this.#done()
    let value
    try {
      value = this.#settle.answer({ status: this.#status, headers: this.#headers, body })
    } catch (error) {
      this.#reject(error)
      return
    }
    this.#resolve(value)
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#signal.aborted) controller.abort(this.#signal.reason as Error)
  }

  onResponseStart (controller: Dispatcher.DispatchController, status: number, headers: UpstreamAnswer['headers']): void {
    this.#status = status
    this.#headers = headers
    const length = Number(headers['content-length'])
    if (!isRedirect(status) && length > this.#limit) this.#tooLarge(controller)
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled || isRedirect(this.#status)) return
    this.#size += chunk.length
    if (this.#size > this.#limit) return this.#tooLarge(controller)
    this.#chunks.push(chunk)
  }

  onResponseEnd (): void {
    if (isRedirect(this.#status)) return this.#answer('')
    const chunks = this.#chunks
    this.#answer(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'))
  }

  // Started requests (onRequestStart ran: the request was being written) may have been sent.
  onResponseError (_controller: Dispatcher.DispatchController, error: Error): void {
    this.#fail(this.#controller === undefined ? error : afterSending(error))
  }

  #tooLarge (controller: Dispatcher.DispatchController): void {
    this.#answer(undefined)
    controller.abort(new BodyTooLarge())
  }
}

/**
 * Sends one request on `dispatcher` and resolves to the whole answer, or rejects with
 * undici's error, or with `signal.reason` as soon as the signal aborts; with `settle`, to
 * what it makes of each.
 */
export function exchange (dispatcher: Dispatcher, request: ExchangeRequest, signal: CancelSignal): Promise<UpstreamAnswer>
export function exchange<T> (dispatcher: Dispatcher, request: ExchangeRequest, signal: CancelSignal, settle: Settle<T>): Promise<T>
export function exchange<T> (dispatcher: Dispatcher, request: ExchangeRequest, signal: CancelSignal, settle = AS_IS as Settle<T>): Promise<T> {
  if (signal.aborted) {
    try {
      return Promise.reject(settle.failure(signal.reason, signal))
    } catch (bug) {
      return Promise.reject(bug)
    }
  }
  return new Promise((resolve, reject) => {
    const handler = new ExchangeHandler(signal, request.maxBodyBytes, settle, resolve, reject)
    try {
      dispatcher.dispatch({ origin: request.origin, path: request.path, method: 'POST', headers: request.headers, body: request.body }, handler)
    } catch (error) {
      handler.onResponseError(undefined as never, error as Error)
    }
  })
}
