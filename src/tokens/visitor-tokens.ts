// Visitor tokens: short-lived JWTs the site's backend signs for its signed-in user. jose
// verifies them; this module fixes what it accepts. The algorithms follow the key source
// (HS256 for a secret, the key's own family for a public key, asymmetric ones only for a
// JWKS: never `none`, never HS with a public key), `exp` and `sub` are required, `nbf` and
// `iat` are honoured with 30 s of leeway, and a token may not live longer than its maximum.
// The visitor's identity is a digest of issuer and subject, so logs, Redis keys and session
// tokens hold no user id in clear.
import { createHash, createSecretKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { errors, jwtVerify } from 'jose'
import type { VisitorKeySource, VisitorTokenConfig } from '../config/config.ts'
import { JWT_SHAPE } from '../config/patterns.ts'
// Why a token was refused: for the log line and the metrics, never for the caller.
import type { VisitorRefusal } from '../telemetry/events.ts'
import { VisitorKeySet } from './visitor-keys.ts'
import type { KeyLookup } from './visitor-keys.ts'
import type { Dispatcher } from 'undici'

export const CLOCK_LEEWAY_S = 30
/**
 * A widget sends the same token with every request until it refreshes it: a verified
 * token's verdict is kept (by the token's exact text) for at most this long, and never
 * past its `exp`. A removed signing key or a changed secret is obeyed within it.
 */
export const VERIFIED_TTL_MS = 60_000
/** Verified tokens remembered at once (the oldest forgotten first): a bounded memory. */
export const VERIFIED_MAX = 4096
/** A bearer value longer than this is no visitor token worth verifying. */
export const MAX_VISITOR_TOKEN_CHARS = 8192

const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']
const EC_ALGORITHMS: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }

export type { VisitorRefusal }

export type VisitorVerdict =
  | { valid: true, visitorId: string }
  | { valid: false, reason: VisitorRefusal }
  | { valid: false, reason: 'keys_unavailable' }

export function algorithmsFor (keys: VisitorKeySource): string[] {
  if (keys.kind === 'secret') return ['HS256']
  if (keys.kind === 'jwks') return JWKS_ALGORITHMS
  const type = keys.key.asymmetricKeyType
  if (type === 'ed25519') return ['EdDSA', 'Ed25519']
  if (type === 'ec') return [EC_ALGORITHMS[keys.key.asymmetricKeyDetails?.namedCurve ?? ''] ?? 'ES256']
  if (type === 'rsa-pss') return ['PS256', 'PS384', 'PS512']
  return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
}

/** The identity of a subject of an issuer: 128 bits of a SHA-256, base64url. */
export function visitorIdOf (issuer: string, subject: string): string {
  return createHash('sha256').update(JSON.stringify(['hottask-proxy visitor', issuer, subject])).digest().subarray(0, 16).toString('base64url')
}

export const hasJwtShape = (value: string): boolean => value.length <= MAX_VISITOR_TOKEN_CHARS && JWT_SHAPE.test(value)

function refusalOf (error: unknown): VisitorRefusal {
  if (error instanceof errors.JWTExpired) return 'expired'
  // jose checks iat only as a number (a future one is refused in verify): a bad one is a claim.
  if (error instanceof errors.JWTClaimValidationFailed) return error.claim === 'nbf' ? 'not_yet_valid' : 'claims'
  if (error instanceof errors.JWKSNoMatchingKey) return 'unknown_kid'
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'algorithm'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature'
  return 'malformed'
}

export interface VisitorTokenOptions {
  now?: () => number
  /** jose's jwtVerify (tests count its calls). */
  verifyJwt?: typeof jwtVerify
  dispatcher?: Dispatcher
  onKeyFetchError?: (cause: string) => void
}

export class VisitorTokens {
  readonly #issuer: string
  readonly #audience: string
  readonly #maxTtlS: number
  readonly #algorithms: string[]
  readonly #key: KeyObject | KeyLookup
  readonly #keySet: VisitorKeySet | undefined
  readonly #now: () => number
  readonly #verifyJwt: typeof jwtVerify
  /** Verified tokens: their visitor and until when the verdict stands (insertion order is age). */
  readonly #verified = new Map<string, { visitorId: string, until: number }>()

  constructor (config: VisitorTokenConfig, options: VisitorTokenOptions = {}) {
    this.#issuer = config.issuer
    this.#audience = config.audience
    this.#maxTtlS = config.maxTtlSeconds
    this.#algorithms = algorithmsFor(config.keys)
    this.#now = options.now ?? Date.now
    this.#verifyJwt = options.verifyJwt ?? jwtVerify
    const { keys } = config
    if (keys.kind === 'jwks') {
      this.#keySet = new VisitorKeySet({ url: keys.url, cooldownMs: keys.cooldownMs, now: this.#now, dispatcher: options.dispatcher, onFetchError: options.onKeyFetchError })
      this.#key = this.#keySet.lookup
    } else {
      this.#key = keys.kind === 'secret' ? createSecretKey(Buffer.from(keys.secret)) : keys.key
    }
  }

  /** Starts fetching a remote key set (never waits for it). */
  start (): void { this.#keySet?.start().catch(() => {}) }
  close (): void { this.#keySet?.close() }

  /** The visitor of a token verified within VERIFIED_TTL_MS (and before its exp), else undefined: no promise, no work. */
  remembered (token: string): string | undefined {
    const known = this.#verified.get(token)
    if (known === undefined) return undefined
    if (this.#now() < known.until) return known.visitorId
    this.#verified.delete(token)
    return undefined
  }

  async verify (token: string): Promise<VisitorVerdict> {
    const visitorId = this.remembered(token)
    if (visitorId !== undefined) return { valid: true, visitorId }
    const now = this.#now()
    if (!hasJwtShape(token)) return { valid: false, reason: 'malformed' }
    try {
      const { payload } = await this.#verifyJwt(token, this.#key as KeyObject, {
        issuer: this.#issuer,
        audience: this.#audience,
        algorithms: this.#algorithms,
        clockTolerance: CLOCK_LEEWAY_S,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(now)
      })
      const exp = payload.exp as number
      const nowS = Math.floor(now / 1000)
      // jose checks only that iat is a number: one in the future would shorten the lifetime seen.
      if (payload.iat !== undefined && payload.iat > nowS + CLOCK_LEEWAY_S) return { valid: false, reason: 'not_yet_valid' }
      const lifetime = exp - Math.min(payload.iat ?? nowS, nowS)
      if (lifetime > this.#maxTtlS) return { valid: false, reason: 'lifetime' }
      if (typeof payload.sub !== 'string' || payload.sub === '') return { valid: false, reason: 'claims' }
      const visitorId = visitorIdOf(this.#issuer, payload.sub)
      this.#remember(token, visitorId, Math.min(now + VERIFIED_TTL_MS, (exp + CLOCK_LEEWAY_S) * 1000))
      return { valid: true, visitorId }
    } catch (error) {
      if ((error as { code?: string }).code === 'VISITOR_KEYS_UNAVAILABLE') return { valid: false, reason: 'keys_unavailable' }
      return { valid: false, reason: refusalOf(error) }
    }
  }

  #remember (token: string, visitorId: string, until: number): void {
    if (this.#verified.size >= VERIFIED_MAX) this.#verified.delete(this.#verified.keys().next().value as string)
    this.#verified.set(token, { visitorId, until })
  }
}
