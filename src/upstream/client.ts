// The hottask client: builds the exact upstream request, owns the keep-alive pool and
// the deadline, and classifies every outcome. Routes never see undici.
import { Pool } from 'undici'
import type { Dispatcher } from 'undici'
import type { SecretScrubber } from '../secrets.ts'
import { classifyAnswer, classifyFailure } from './classify.ts'
import type { UpstreamAnswer } from './classify.ts'
import { readLimited } from './read-limited.ts'

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
  connections?: number
}

export interface SessionRequest {
  serialNumber: string
  requestId: string
  key: string
  /** Aborts the exchange when the caller goes away. */
  signal?: AbortSignal
}

export class ClientGoneError extends Error {
  readonly code = 'CLIENT_GONE'
  constructor () {
    super('the client went away before the upstream answered')
    this.name = 'ClientGoneError'
  }
}

export interface UpstreamClient {
  /** The new session's id, as exact decimal digits. Throws UpstreamError or ClientGoneError. */
  createSession: (request: SessionRequest) => Promise<string>
  close: () => Promise<void>
}

export function createUpstreamClient (options: UpstreamClientOptions): UpstreamClient {
  const { baseUrl, timeoutMs, userAgent, scrubber } = options
  const owned = options.dispatcher === undefined
  // undici's own timeouts fire late and are only a backstop; the AbortSignal is the deadline.
  const dispatcher = options.dispatcher ?? new Pool(baseUrl, {
    connections: options.connections ?? 128,
    pipelining: 1,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs + 1000,
    bodyTimeout: timeoutMs + 1000
  })

  async function exchange (request: SessionRequest, signal: AbortSignal): Promise<UpstreamAnswer> {
    const response = await dispatcher.request({
      origin: baseUrl,
      path: SESSION_PATH,
      method: 'POST',
      headers: {
        authorization: request.key,
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': userAgent,
        'x-request-id': request.requestId
      },
      body: JSON.stringify({ serialNumber: request.serialNumber }),
      signal
    })
    const { statusCode, headers } = response
    // A redirect is an error, and its body is of no use: discard it so the socket is reused.
    const body = statusCode >= 300 && statusCode < 400
      ? await response.body.dump().then(() => '')
      : await readLimited(response.body, MAX_UPSTREAM_BODY_BYTES)
    return { status: statusCode, headers, body }
  }

  async function createSession (request: SessionRequest): Promise<string> {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; controller.abort() }, timeoutMs)
    const onClientGone = (): void => controller.abort()
    request.signal?.addEventListener('abort', onClientGone, { once: true })
    let answer: UpstreamAnswer
    try {
      answer = await exchange(request, controller.signal)
    } catch (error) {
      if (!timedOut && request.signal?.aborted === true) throw new ClientGoneError()
      throw classifyFailure(error, timedOut)
    } finally {
      clearTimeout(timer)
      request.signal?.removeEventListener('abort', onClientGone)
    }
    return classifyAnswer(answer, scrubber)
  }

  return {
    createSession,
    close: async () => { if (owned) await dispatcher.close() }
  }
}
