// One upstream request/response through undici's dispatch API. The body arrives in
// chunks straight into a buffer: no Readable stream, async resource or abort-signal
// adapter per request, which undici's request() creates and this proxy never needs
// (every answer is a small JSON envelope, read whole). Bodies past the byte limit are
// refused unread: the connection is dropped, so a huge body costs no memory.
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

/** A redirect is an error whose body is of no use: it is discarded, so the socket is reused. */
const isRedirect = (status: number): boolean => status >= 300 && status < 400

class ExchangeHandler implements Dispatcher.DispatchHandler {
  readonly #signal: CancelSignal
  readonly #limit: number
  readonly #resolve: (answer: UpstreamAnswer) => void
  readonly #reject: (error: unknown) => void
  #controller: Dispatcher.DispatchController | undefined
  #settled = false
  #status = 0
  #headers: UpstreamAnswer['headers'] = {}
  #chunks: Buffer[] = []
  #size = 0

  constructor (signal: CancelSignal, limit: number, resolve: (answer: UpstreamAnswer) => void, reject: (error: unknown) => void) {
    this.#signal = signal
    this.#limit = limit
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
    this.#reject(error)
  }

  #answer (body: string | undefined): void {
    if (this.#settled) return
    this.#done()
    this.#resolve({ status: this.#status, headers: this.#headers, body })
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
 * undici's error, or with `signal.reason` as soon as the signal aborts.
 */
export function exchange (dispatcher: Dispatcher, request: ExchangeRequest, signal: CancelSignal): Promise<UpstreamAnswer> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const handler = new ExchangeHandler(signal, request.maxBodyBytes, resolve, reject)
    try {
      dispatcher.dispatch({ origin: request.origin, path: request.path, method: 'POST', headers: request.headers, body: request.body }, handler)
    } catch (error) {
      handler.onResponseError(undefined as never, error as Error)
    }
  })
}
