// The key set of visitor tokens when it lives at VISITOR_JWKS_URL. jose verifies and picks
// the key (createLocalJWKSet); this module owns fetching it, because the service needs what
// jose's remote set does not give: a clock tests can move, the last good set kept through an
// outage of the JWKS host, and "never fetched" told apart from "unknown kid" (503, not 401).
// A token with an unknown kid refetches at most once per cooldown, so forged kids cannot
// make the service hammer the host; a set never fetched is retried in the background.
import { createLocalJWKSet, errors } from 'jose'
import type { JWTHeaderParameters, FlattenedJWSInput, JSONWebKeySet, CryptoKey, KeyObject } from 'jose'
import { request } from 'undici'
import type { Dispatcher } from 'undici'
import { StacklessError } from '../lib/stackless-error.ts'

/** A JWKS larger than this is not a key set we read. */
export const MAX_JWKS_BYTES = 256 * 1024
export const JWKS_TIMEOUT_MS = 5000
/** A set older than this is refetched in the background; the old one serves meanwhile. */
export const JWKS_MAX_AGE_MS = 10 * 60_000
/** First retry of a set never fetched; doubles up to the cooldown. */
const FIRST_RETRY_MS = 500

/** No key set was ever fetched: the token cannot be judged (503), not refused (401). */
export class VisitorKeysUnavailable extends StacklessError {
  readonly code = 'VISITOR_KEYS_UNAVAILABLE'
}

export type KeyLookup = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey | KeyObject>

export interface VisitorKeySetOptions {
  url: string
  cooldownMs: number
  now?: () => number
  dispatcher?: Dispatcher
  /** How long one fetch may take; JWKS_TIMEOUT_MS unless a test needs it shorter. */
  timeoutMs?: number
  /** A fetch failed (its cause: a status, a code or "invalid"); never the set itself. */
  onFetchError?: (cause: string) => void
}

type LocalSet = ReturnType<typeof createLocalJWKSet>

async function fetchKeySet (url: string, dispatcher: Dispatcher | undefined, timeoutMs: number): Promise<JSONWebKeySet> {
  // request() never follows a redirect: a JWKS host that redirects is misconfigured.
  const response = await request(url, {
    method: 'GET',
    headers: { accept: 'application/jwk-set+json, application/json' },
    signal: AbortSignal.timeout(timeoutMs),
    dispatcher
  })
  if (response.statusCode !== 200) {
    response.body.dump().catch(() => {})
    throw new StacklessError(`status_${response.statusCode}`)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += (chunk as Buffer).length
    if (size > MAX_JWKS_BYTES) {
      response.body.destroy()
      throw new StacklessError('too_large')
    }
    chunks.push(chunk as Buffer)
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as JSONWebKeySet
}

function causeOf (error: unknown): string {
  const { name, code, message } = error as { name?: string, code?: string, message?: string }
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout'
  if (code !== undefined && code.startsWith('ERR_JW')) return 'invalid'
  if (error instanceof SyntaxError) return 'invalid'
  return code ?? message ?? 'error'
}

export class VisitorKeySet {
  readonly #url: string
  readonly #cooldownMs: number
  readonly #now: () => number
  readonly #dispatcher: Dispatcher | undefined
  readonly #timeoutMs: number
  readonly #onFetchError: (cause: string) => void
  #local: LocalSet | undefined
  #fetchedAt = -Infinity
  #attemptedAt = -Infinity
  #pending: Promise<boolean> | undefined
  #retryMs = FIRST_RETRY_MS
  #retryTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor (options: VisitorKeySetOptions) {
    this.#url = options.url
    this.#cooldownMs = options.cooldownMs
    this.#now = options.now ?? Date.now
    this.#dispatcher = options.dispatcher
    this.#timeoutMs = options.timeoutMs ?? JWKS_TIMEOUT_MS
    this.#onFetchError = options.onFetchError ?? (() => {})
  }

  /** Whether a key set was ever fetched. */
  get ready (): boolean { return this.#local !== undefined }

  /** Fetches the set now; until one arrives, retries in the background (the start never waits or fails on it). */
  start (): Promise<boolean> {
    return this.#refresh()
  }

  close (): void {
    this.#closed = true
    clearTimeout(this.#retryTimer)
  }

  /** jose's key lookup: the set's key for the token's kid and alg, refetching within the rules above. */
  readonly lookup: KeyLookup = async (header, token) => {
    if (this.#local === undefined) {
      // Never fetched: try now unless a try was just made (a flood of tokens is one fetch).
      if (this.#pending === undefined && this.#now() - this.#attemptedAt < Math.min(this.#retryMs, this.#cooldownMs)) throw new VisitorKeysUnavailable('no visitor key set yet')
      await this.#refresh()
      if (this.#local === undefined) throw new VisitorKeysUnavailable('no visitor key set yet')
    } else if (this.#now() - this.#fetchedAt >= JWKS_MAX_AGE_MS && this.#now() - this.#attemptedAt >= this.#cooldownMs) {
      // Old: refreshed in the background, at most once per cooldown while the host fails.
      this.#refresh().catch(() => {})
    }
    try {
      return await this.#local(header, token)
    } catch (error) {
      // An unknown kid may be a key the site just added: look once per cooldown.
      if (!(error instanceof errors.JWKSNoMatchingKey) || this.#now() - this.#attemptedAt < this.#cooldownMs) throw error
      await this.#refresh()
      return await this.#local(header, token)
    }
  }

  #refresh (): Promise<boolean> {
    this.#pending ??= this.#fetch().finally(() => { this.#pending = undefined })
    return this.#pending
  }

  async #fetch (): Promise<boolean> {
    this.#attemptedAt = this.#now()
    try {
      const set = await fetchKeySet(this.#url, this.#dispatcher, this.#timeoutMs)
      this.#local = createLocalJWKSet(set)
      this.#fetchedAt = this.#now()
      return true
    } catch (error) {
      this.#onFetchError(causeOf(error))
      if (this.#local === undefined) this.#scheduleRetry()
      return false
    }
  }

  #scheduleRetry (): void {
    if (this.#closed || this.#retryTimer !== undefined) return
    const delay = this.#retryMs
    this.#retryMs = Math.min(this.#retryMs * 2, this.#cooldownMs)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#local === undefined) this.#refresh().catch(() => {})
    }, delay)
    this.#retryTimer.unref()
  }
}
