// One ClientAsk request whose answer may be streamed. Until the upstream's headers
// arrive it is an ordinary exchange under the caller's signal (the message deadline and
// the client's presence). Then the headers decide: a non-2xx or JSON answer is read whole
// (at most `maxBodyBytes`) and classified like any other; any other 2xx body is relayed —
// a Readable that carries each chunk as it comes, secrets replaced, with backpressure
// reaching the upstream socket. From then on the stream has its own limits: no byte for
// `idleMs` (counted from the headers, then between chunks), or more than `maxMs` in all,
// and it is cut: the upstream request is aborted and the Readable fails, so the client's
// response is destroyed, never ended cleanly.
import { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type { CancelSignal } from '../lib/cancel.ts'
import { StreamScrubber } from '../lib/stream-scrubber.ts'
import { StacklessError } from '../lib/stackless-error.ts'
import { afterSending, isSuccessStatus } from './classify.ts'
import type { UpstreamAnswer } from './classify.ts'
import type { StreamEnd } from '../telemetry/events.ts'

export interface RelayRequest {
  origin: string
  path: string
  headers: Record<string, string>
  body: string
  /** A non-streamed answer larger than this is not read (UpstreamAnswer.body is undefined). */
  maxBodyBytes: number
  idleMs: number
  maxMs: number
  /** Replaced in the relayed bytes, also across chunks. */
  secrets: readonly string[]
}

export type RelayResult =
  | { kind: 'answer', answer: UpstreamAnswer }
  | { kind: 'stream', contentType: string, body: RelayStream }

/** The content types relayed as they are; any other is sent as application/octet-stream. */
const RELAYED_TYPES = new Set(['text/event-stream', 'application/x-ndjson', 'text/plain'])
const OCTET_STREAM = 'application/octet-stream'

const mediaType = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase()

/** The Content-Type the client gets for a relayed body: the upstream's (with its parameters) when known to be a stream format. */
export function relayedContentType (contentType: string | undefined): string {
  return contentType !== undefined && RELAYED_TYPES.has(mediaType(contentType)) ? contentType : OCTET_STREAM
}

/** application/json and any +json type (problem+json, say): an envelope, read whole. */
const isJson = (contentType: string | undefined): boolean => {
  const type = mediaType(contentType)
  return type === 'application/json' || type.endsWith('+json')
}

const headerText = (value: string | string[] | undefined): string | undefined => Array.isArray(value) ? value[0] : value

/** Why a relayed stream was cut; the Readable fails with it. */
export class StreamCut extends StacklessError {
  readonly code = 'STREAM_CUT'
  readonly reason: Exclude<StreamEnd, 'completed'>
  constructor (reason: Exclude<StreamEnd, 'completed'>) {
    super(`stream cut: ${reason}`)
    this.name = 'StreamCut'
    this.reason = reason
  }
}

/** The relayed body; `onEnd` listeners hear how it ended, once, as it ends. */
export class RelayStream extends Readable {
  readonly #endListeners: Array<(end: StreamEnd) => void> = []
  readonly #controller: Dispatcher.DispatchController
  readonly #scrubber: StreamScrubber
  readonly #idleMs: number
  #idleTimer: NodeJS.Timeout
  readonly #maxTimer: NodeJS.Timeout
  #end: StreamEnd | undefined

  constructor (controller: Dispatcher.DispatchController, scrubber: StreamScrubber, idleMs: number, maxMs: number) {
    super()
    this.#controller = controller
    this.#scrubber = scrubber
    this.#idleMs = idleMs
    this.#idleTimer = setTimeout(this.#cut, idleMs, 'idle')
    this.#maxTimer = setTimeout(this.#cut, maxMs, 'too_long')
  }

  get end (): StreamEnd | undefined { return this.#end }

  /** Called once, synchronously, when the stream ends (at once if it already has). */
  onEnd (listener: (end: StreamEnd) => void): void {
    if (this.#end === undefined) this.#endListeners.push(listener)
    else listener(this.#end)
  }

  /** A chunk from the upstream. */
  receive (chunk: Buffer): void {
    if (this.#end !== undefined) return
    this.#idleTimer.refresh()
    const out = this.#scrubber.push(chunk)
    if (out.length > 0 && !this.push(out)) this.#controller.pause()
  }

  /** The upstream's body ended cleanly. */
  complete (): void {
    if (!this.#finish('completed')) return
    const rest = this.#scrubber.flush()
    if (rest.length > 0) this.push(rest)
    this.push(null)
  }

  /** The upstream connection failed mid-body. */
  fail (): void {
    if (this.#finish('upstream_reset')) this.destroy(new StreamCut('upstream_reset'))
  }

  override _read (): void {
    this.#controller.resume()
  }

  // The client's response closed before the end (Fastify destroys the body): the upstream
  // request is aborted at once, since it bills per answer.
  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#finish('client_gone')) this.#controller.abort(new StreamCut('client_gone'))
    callback(error)
  }

  readonly #cut = (reason: 'idle' | 'too_long'): void => {
    if (!this.#finish(reason)) return
    const cut = new StreamCut(reason)
    this.#controller.abort(cut)
    this.destroy(cut)
  }

  /** Records the end once; false when it had already ended. */
  #finish (end: StreamEnd): boolean {
    if (this.#end !== undefined) return false
    this.#end = end
    clearTimeout(this.#idleTimer)
    clearTimeout(this.#maxTimer)
    for (const listener of this.#endListeners.splice(0)) listener(end)
    return true
  }
}

class RelayHandler implements Dispatcher.DispatchHandler {
  readonly #request: RelayRequest
  readonly #signal: CancelSignal
  readonly #resolve: (result: RelayResult) => void
  readonly #reject: (error: unknown) => void
  #controller: Dispatcher.DispatchController | undefined
  #settled = false
  #status = 0
  #headers: UpstreamAnswer['headers'] = {}
  #chunks: Buffer[] = []
  #size = 0
  #stream: RelayStream | undefined

  constructor (request: RelayRequest, signal: CancelSignal, resolve: (result: RelayResult) => void, reject: (error: unknown) => void) {
    this.#request = request
    this.#signal = signal
    this.#resolve = resolve
    this.#reject = reject
    signal.addEventListener('abort', this.#onAbort)
  }

  readonly #onAbort = (): void => {
    this.#fail(this.#signal.reason)
    this.#controller?.abort(this.#signal.reason as Error)
  }

  #settle (): boolean {
    if (this.#settled) return false
    this.#settled = true
    this.#signal.removeEventListener('abort', this.#onAbort)
    return true
  }

  #fail (error: unknown): void {
    if (this.#settle()) this.#reject(error)
  }

  #answer (body: string | undefined): void {
    if (this.#settle()) this.#resolve({ kind: 'answer', answer: { status: this.#status, headers: this.#headers, body } })
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#signal.aborted) controller.abort(this.#signal.reason as Error)
  }

  onResponseStart (controller: Dispatcher.DispatchController, status: number, headers: UpstreamAnswer['headers']): void {
    this.#status = status
    this.#headers = headers
    const contentType = headerText(headers['content-type'])
    if (!isSuccessStatus(status) || isJson(contentType)) {
      if (Number(headers['content-length']) > this.#request.maxBodyBytes) this.#tooLarge(controller)
      return
    }
    // The deadline and the caller's signal end here: the stream has limits of its own.
    if (!this.#settle()) return
    const { idleMs, maxMs, secrets } = this.#request
    this.#stream = new RelayStream(controller, new StreamScrubber(secrets), idleMs, maxMs)
    this.#resolve({ kind: 'stream', contentType: relayedContentType(contentType), body: this.#stream })
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#stream !== undefined) return this.#stream.receive(chunk)
    if (this.#settled) return
    this.#size += chunk.length
    if (this.#size > this.#request.maxBodyBytes) return this.#tooLarge(controller)
    this.#chunks.push(chunk)
  }

  onResponseEnd (): void {
    if (this.#stream !== undefined) return this.#stream.complete()
    const chunks = this.#chunks
    this.#answer(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'))
  }

  // Started requests (onRequestStart ran: the request was being written) may have been sent.
  onResponseError (_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#stream !== undefined) return this.#stream.fail()
    this.#fail(this.#controller === undefined ? error : afterSending(error))
  }

  #tooLarge (controller: Dispatcher.DispatchController): void {
    this.#answer(undefined)
    controller.abort(new Error('upstream body over the limit'))
  }
}

/**
 * Sends one ClientAsk on `dispatcher`. Resolves to a whole answer (to classify) or a
 * stream to relay; rejects with undici's error, or with `signal.reason` as soon as the
 * signal aborts before the headers.
 */
export function relay (dispatcher: Dispatcher, request: RelayRequest, signal: CancelSignal): Promise<RelayResult> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const handler = new RelayHandler(request, signal, resolve, reject)
    try {
      dispatcher.dispatch({ origin: request.origin, path: request.path, method: 'POST', headers: request.headers, body: request.body }, handler)
    } catch (error) {
      handler.onResponseError(undefined as never, error as Error)
    }
  })
}
