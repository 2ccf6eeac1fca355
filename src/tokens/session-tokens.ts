// Session tokens: what authorises messages to one session, for the caller that created
// it, until it expires. A token is `v1.<payload>.<mac>`: the payload (base64url JSON) names
// the session, the chatbot, the caller's binding and the expiry; the mac is HMAC-SHA-256
// of the payload under the server's secret. The algorithm is fixed here, never read from
// the token; signatures are compared in constant time; a previous secret still verifies
// while tokens signed with it live out their time.
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto'
import type { KeyObject } from 'node:crypto'

const VERSION = 'v1'
/** The contract's ceiling; a longer header is refused unread. */
export const MAX_TOKEN_CHARS = 512
const TOKEN_SHAPE = /^v1\.([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})$/

/** Who may use a session: the client token's name, else the visitor, else the page's Origin, else anyone holding the token. */
export type Binding =
  | { kind: 'client', name: string }
  | { kind: 'visitor', id: string }
  | { kind: 'origin', origin: string }
  | { kind: 'none' }

/** The caller of a request, as a binding is checked against it. */
export interface Caller {
  clientName: string | null
  /** A verified visitor token's identity (absent: none). */
  visitorId?: string | null
  origin: string | undefined
}

export interface TokenClaims {
  sessionId: string
  serialNumber: string
  binding: Binding
}

export type Verdict =
  | { valid: true, serialNumber: string }
  | { valid: false, code: 'INVALID_SESSION_TOKEN' | 'SESSION_TOKEN_EXPIRED' }

interface Payload {
  /** Session id, exact digits. */
  s: string
  /** Chatbot. */
  b: string
  /** Binding kind: client, visitor, origin or none. */
  k: 'c' | 'v' | 'o' | 'n'
  /** Digest of the bound identity (empty for none): the token does not carry the name, visitor or Origin itself. */
  c: string
  /** Expiry, epoch ms. */
  e: number
}

export interface SessionTokensOptions {
  secret: string
  previous?: string | undefined
  ttlMs: number
  now?: () => number
}

/** The binding a new session gets from the request that creates it. */
export function bindingOf (caller: Caller): Binding {
  if (caller.clientName !== null) return { kind: 'client', name: caller.clientName }
  if (caller.visitorId !== undefined && caller.visitorId !== null) return { kind: 'visitor', id: caller.visitorId }
  if (caller.origin !== undefined) return { kind: 'origin', origin: caller.origin }
  return { kind: 'none' }
}

/** The bound identity, keyed by the secret: a token's holder cannot test guesses of a name or an Origin against it. */
const identityDigest = (secret: KeyObject, kind: string, identity: string): string =>
  createHmac('sha256', secret).update(`${kind}\u0000${identity}`).digest().subarray(0, 16).toString('base64url')

function bindingPayload (secret: KeyObject, binding: Binding): Pick<Payload, 'k' | 'c'> {
  if (binding.kind === 'client') return { k: 'c', c: identityDigest(secret, 'client', binding.name) }
  if (binding.kind === 'visitor') return { k: 'v', c: identityDigest(secret, 'visitor', binding.id) }
  if (binding.kind === 'origin') return { k: 'o', c: identityDigest(secret, 'origin', binding.origin) }
  return { k: 'n', c: '' }
}

/** Whether the caller is the one the payload is bound to (under the secret that signed it). */
function callerMatches (secret: KeyObject, payload: Payload, caller: Caller): boolean {
  if (payload.k === 'n') return true
  const [kind, identity] = payload.k === 'c' ? ['client', caller.clientName] : payload.k === 'v' ? ['visitor', caller.visitorId] : ['origin', caller.origin]
  if (identity === null || identity === undefined) return false
  const expected = Buffer.from(payload.c)
  const actual = Buffer.from(identityDigest(secret, kind, identity))
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

function parsePayload (encoded: string): Payload | undefined {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { s, b, k, c, e } = value as Record<string, unknown>
  if (typeof s !== 'string' || typeof b !== 'string' || typeof c !== 'string' || typeof e !== 'number') return undefined
  if (k !== 'c' && k !== 'v' && k !== 'o' && k !== 'n') return undefined
  return { s, b, k, c, e }
}

export class SessionTokens {
  /** Key objects made once: an HMAC keyed by a raw Buffer prepares a new key object each time, most of its cost. */
  #secrets: KeyObject[]
  readonly #ttlMs: number
  readonly #now: () => number

  constructor (options: SessionTokensOptions) {
    this.#secrets = secretsOf(options.secret, options.previous)
    this.#ttlMs = options.ttlMs
    this.#now = options.now ?? Date.now
  }

  /** New secrets (a reloaded file): tokens are signed with `secret`, and verified with either. */
  setSecrets (secret: string, previous: string | undefined): void {
    this.#secrets = secretsOf(secret, previous)
  }

  issue (claims: TokenClaims): string {
    const payload: Payload = { s: claims.sessionId, b: claims.serialNumber, ...bindingPayload(this.#secrets[0]!, claims.binding), e: this.#now() + this.#ttlMs }
    const encoded = Buffer.from(JSON.stringify(payload)).toString('base64url')
    return `${VERSION}.${encoded}.${mac(this.#secrets[0]!, encoded).toString('base64url')}`
  }

  /** Checks, in the contract's order: shape and signature, expiry, then session and caller. */
  verify (token: string, sessionId: string, caller: Caller): Verdict {
    const parts = token.length <= MAX_TOKEN_CHARS ? TOKEN_SHAPE.exec(token) : null
    if (parts === null) return { valid: false, code: 'INVALID_SESSION_TOKEN' }
    const [, encoded, signature] = parts as unknown as [string, string, string]
    // Compared as text, not decoded: base64url's spare bits would let one signature be
    // written several ways. Every secret is checked, so the time taken says nothing of which matched.
    const presented = Buffer.from(signature)
    let signer: KeyObject | undefined
    for (const secret of this.#secrets) {
      if (timingSafeEqual(Buffer.from(mac(secret, encoded).toString('base64url')), presented)) signer = secret
    }
    if (signer === undefined) return { valid: false, code: 'INVALID_SESSION_TOKEN' }
    const payload = parsePayload(encoded)
    if (payload === undefined) return { valid: false, code: 'INVALID_SESSION_TOKEN' }
    if (this.#now() >= payload.e) return { valid: false, code: 'SESSION_TOKEN_EXPIRED' }
    if (payload.s !== sessionId || !callerMatches(signer, payload, caller)) return { valid: false, code: 'INVALID_SESSION_TOKEN' }
    return { valid: true, serialNumber: payload.b }
  }
}

function secretsOf (secret: string, previous: string | undefined): KeyObject[] {
  return (previous === undefined ? [secret] : [secret, previous]).map((text) => createSecretKey(Buffer.from(text)))
}

/** HMAC-SHA-256 over the version and the payload: 32 bytes, 43 base64url characters. */
function mac (secret: KeyObject, encoded: string): Buffer {
  return createHmac('sha256', secret).update(`${VERSION}.${encoded}`).digest()
}
