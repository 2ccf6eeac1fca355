// The ClientAsk client: builds the exact upstream request for a message and owns the
// messages' own keep-alive pool, so long answers never hold the connections that session
// creation needs. Deadlines, retries and admission are the caller's (message-service.ts).
import { Pool } from 'undici'
import type { Dispatcher } from 'undici'
import type { CancelSignal } from '../lib/cancel.ts'
import { exchange } from './exchange.ts'
import { relay } from './relay.ts'
import type { RelayResult } from './relay.ts'

export const ASK_PATH = '/chat/Chat/ClientAsk'
/** A whole answer larger than this is not a reply we pass on: it is refused unread. */
export const MAX_ANSWER_BYTES = 256 * 1024
/** A JSON answer to a streamed request (the upstream chose not to stream), per the contract. */
export const MAX_STREAM_ENVELOPE_BYTES = 64 * 1024

export interface AskClientOptions {
  baseUrl: string
  userAgent: string
  /** Until the whole answer, or a stream's headers. */
  timeoutMs: number
  streamIdleMs: number
  streamMaxMs: number
  connections: number
  dispatcher?: Dispatcher
}

export interface AskRequest {
  /** Exact decimal digits (the route checked them). */
  sessionId: string
  content: string
  stream: boolean
  requestId: string
  key: string
  /** Replaced in streamed bytes. */
  secrets: readonly string[]
}

export interface AskClient {
  /** One upstream exchange under `signal`: a whole answer to classify, or a stream to relay. */
  ask: (request: AskRequest, signal: CancelSignal) => Promise<RelayResult>
  close: () => Promise<void>
}

/** The upstream body: the id as a JSON number with its exact digits, the content as received. */
export function askBody (sessionId: string, content: string, stream: boolean): string {
  return `{"sessionID":${sessionId},"content":${JSON.stringify(content)},"stream":${stream}}`
}

export function createAskClient (options: AskClientOptions): AskClient {
  const { baseUrl, userAgent } = options
  const owned = options.dispatcher === undefined
  // undici's own timeouts fire late and are only a backstop; the signal and the stream's timers are the limits.
  const dispatcher = options.dispatcher ?? new Pool(baseUrl, {
    connections: options.connections,
    pipelining: 1,
    connectTimeout: options.timeoutMs,
    headersTimeout: options.timeoutMs + 1000,
    bodyTimeout: Math.max(options.timeoutMs, options.streamIdleMs) + 1000
  })
  const fixedHeaders = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': userAgent }

  async function ask (request: AskRequest, signal: CancelSignal): Promise<RelayResult> {
    const upstream = {
      origin: baseUrl,
      path: ASK_PATH,
      headers: { authorization: request.key, ...fixedHeaders, 'x-request-id': request.requestId },
      body: askBody(request.sessionId, request.content, request.stream)
    }
    if (!request.stream) return { kind: 'answer', answer: await exchange(dispatcher, { ...upstream, maxBodyBytes: MAX_ANSWER_BYTES }, signal) }
    return await relay(dispatcher, {
      ...upstream,
      maxBodyBytes: MAX_STREAM_ENVELOPE_BYTES,
      idleMs: options.streamIdleMs,
      maxMs: options.streamMaxMs,
      secrets: request.secrets
    }, signal)
  }

  return {
    ask,
    close: async () => { if (owned) await dispatcher.close() }
  }
}
