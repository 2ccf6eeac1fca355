// The Cloudflare Turnstile bot check: the widget's token is worth nothing until
// siteverify says so. One POST per verification under one deadline; a network failure
// or a 5xx is tried once more with the same idempotency key (so Cloudflare does not
// count the retry as a second use of the token) while the deadline allows. Cloudflare
// keeps tokens single-use; we check that the token was made for our hosts and action.
import { randomUUID } from 'node:crypto'
import { Pool } from 'undici'
import type { Dispatcher } from 'undici'
import { readSiteverify } from './siteverify.ts'
import type { Siteverify } from './siteverify.ts'
import { PASSED, precheck, refused, unavailable } from './verdict.ts'
import type { BotChecker, BotCheckVerdict } from './verdict.ts'

export const TURNSTILE_VERIFY_URL = 'https://challenges.cloudflare.com/turnstile/v0/siteverify'
const CONNECTIONS = 16

export interface TurnstileOptions {
  verifyUrl: string
  secret: string
  /** The whole verification, both attempts included. */
  timeoutMs: number
  /** The hosts of CORS_ORIGINS, lowercase; undefined (CORS_ORIGINS `*`) skips the check. */
  allowedHostnames: string[] | undefined
  action: string | undefined
  /** Must not follow redirects; by default the checker owns a pool to the verify URL's origin. */
  dispatcher?: Dispatcher
}

type Attempt = { kind: 'answer', answer: Siteverify } | { kind: 'failed', cause: string, retry: boolean }

export class TurnstileChecker implements BotChecker {
  readonly #origin: string
  readonly #path: string
  readonly #secret: string
  readonly #timeoutMs: number
  readonly #allowedHostnames: ReadonlySet<string> | undefined
  readonly #action: string | undefined
  readonly #dispatcher: Dispatcher
  readonly #owned: boolean

  constructor (options: TurnstileOptions) {
    const url = new URL(options.verifyUrl)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('the Turnstile verify URL must be http(s)')
    if (options.secret === '') throw new Error('the Turnstile secret is empty')
    if (!(options.timeoutMs > 0)) throw new Error('the bot check timeout must be positive')
    this.#origin = url.origin
    this.#path = url.pathname + url.search
    this.#secret = options.secret
    this.#timeoutMs = options.timeoutMs
    this.#allowedHostnames = options.allowedHostnames === undefined ? undefined : new Set(options.allowedHostnames.map((host) => host.toLowerCase()))
    this.#action = options.action
    this.#owned = options.dispatcher === undefined
    // undici's own timeouts fire late and are only a backstop; the deadline signal is the limit.
    this.#dispatcher = options.dispatcher ?? new Pool(this.#origin, {
      connections: CONNECTIONS,
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs + 1000,
      bodyTimeout: options.timeoutMs + 1000
    })
  }

  async verify (token: string, context: { remoteIp: string }): Promise<BotCheckVerdict> {
    const early = precheck(token)
    if (early !== undefined) return early
    const deadline = AbortSignal.timeout(this.#timeoutMs)
    const body = JSON.stringify({
      secret: this.#secret,
      response: token,
      remoteip: context.remoteIp === '' ? undefined : context.remoteIp,
      idempotency_key: randomUUID()
    })
    let attempt = await this.#attempt(body, deadline)
    // Never after the deadline: an attempt it cut short is not retryable.
    if (attempt.kind === 'failed' && attempt.retry) attempt = await this.#attempt(body, deadline)
    if (attempt.kind === 'failed') return unavailable(attempt.cause)
    return this.#judge(attempt.answer)
  }

  async close (): Promise<void> {
    if (this.#owned) await this.#dispatcher.close()
  }

  async #attempt (body: string, deadline: AbortSignal): Promise<Attempt> {
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path: this.#path,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body,
        signal: deadline
      })
      const answer = await readSiteverify(response)
      if (answer.kind === 'unusable') return { kind: 'failed', cause: answer.cause, retry: answer.retry }
      return { kind: 'answer', answer }
    } catch {
      // The error may quote the request; only its kind leaves this function.
      return { kind: 'failed', cause: deadline.aborted ? 'timeout' : 'network', retry: !deadline.aborted }
    }
  }

  #judge (answer: Siteverify): BotCheckVerdict {
    if (!answer.success) {
      // Cloudflare's own trouble, or our secret refused: no fault of the visitor's.
      if (answer.errorCodes.includes('internal-error')) return unavailable('verifier_error')
      if (answer.errorCodes.some((code) => code.endsWith('-input-secret'))) return unavailable('secret_rejected')
      return refused('invalid')
    }
    if (this.#allowedHostnames !== undefined && !this.#allowedHostnames.has(answer.hostname.toLowerCase())) return refused('hostname')
    if (this.#action !== undefined && answer.action !== this.#action) return refused('action')
    return PASSED
  }
}
