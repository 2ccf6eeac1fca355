// The hottask client: builds the exact upstream request, owns the keep-alive pool, and
// classifies the outcome of one attempt. Deadlines, retries and admission are the
// caller's (session-service.ts); routes never see undici.
import { Pool } from 'undici'
import type { Dispatcher } from 'undici'
import type { CancelSignal } from '../lib/cancel.ts'
import type { SecretScrubber } from '../lib/secrets.ts'
import { ClientGoneError, isDeadline } from '../lib/abort-reasons.ts'
import { classifyAnswer, classifyFailure } from './classify.ts'
import { exchange } from './exchange.ts'
import type { Settle } from './exchange.ts'

export const SESSION_PATH = '/chat/Chatbot/GetSession'
/** Larger upstream bodies are not JSON we want: they are refused unread. */
export const MAX_UPSTREAM_BODY_BYTES = 64 * 1024

export interface UpstreamClientOptions {
  baseUrl: string
  timeoutMs: number
  userAgent: string
  scrubber: SecretScrubber
  /** Tests may bring their own dispatcher; otherwise the client owns a pool. */
  dispatcher?: Dispatcher
  /** The pool's connection cap: the admitted concurrency, never more. */
  connections: number
}

export interface AttemptRequest {
  serialNumber: string
  requestId: string
  key: string
}

export interface UpstreamClient {
  /**
   * One upstream exchange under `signal`. Resolves to the session id's exact decimal
   * digits; rejects with an UpstreamError (a deadline abort is UPSTREAM_TIMEOUT) or a
   * ClientGoneError when the signal's reason says the client left.
   */
  attempt: (request: AttemptRequest, signal: CancelSignal) => Promise<string>
  close: () => Promise<void>
}

export function createUpstreamClient (options: UpstreamClientOptions): UpstreamClient {
  const { baseUrl, timeoutMs, userAgent, scrubber } = options
  const owned = options.dispatcher === undefined
  // undici's own timeouts fire late and are only a backstop; the signal is the deadline.
  const dispatcher = options.dispatcher ?? new Pool(baseUrl, {
    connections: options.connections,
    pipelining: 1,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs + 1000,
    bodyTimeout: timeoutMs + 1000
  })

  // Built once: only the key, the request id and the body change per request.
  const fixedHeaders = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': userAgent }

  // Classified by the exchange's handler: no async function per attempt waits on the upstream.
  const settle: Settle<string> = {
    answer: (answer) => classifyAnswer(answer, scrubber),
    failure: (error, signal) => signal.aborted && !isDeadline(signal) ? new ClientGoneError() : classifyFailure(error, isDeadline(signal))
  }

  function attempt (request: AttemptRequest, signal: CancelSignal): Promise<string> {
    return exchange(dispatcher, {
      origin: baseUrl,
      path: SESSION_PATH,
      headers: { authorization: request.key, ...fixedHeaders, 'x-request-id': request.requestId },
      body: JSON.stringify({ serialNumber: request.serialNumber }),
      maxBodyBytes: MAX_UPSTREAM_BODY_BYTES
    }, signal, settle)
  }

  return {
    attempt,
    close: async () => { if (owned) await dispatcher.close() }
  }
}
