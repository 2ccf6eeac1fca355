// The Idempotency-Key header's syntax, and how a key is bound to the client that sent it.
import { createHash } from 'node:crypto'

/** As a JSON-schema pattern, for the route's header schema. */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7e]{1,128}$'
const KEY_PATTERN = new RegExp(IDEMPOTENCY_KEY_PATTERN)

/** 1–128 visible ASCII characters (no spaces, so a repeated header, joined by ", ", fails). */
export function validIdempotencyKey (value: unknown): value is string {
  return typeof value === 'string' && KEY_PATTERN.test(value)
}

/** Anonymous callers share addresses (a NAT, an office): their keys must be random, so long. */
export const MIN_ANONYMOUS_KEY_CHARS = 16

/**
 * The scope of a caller's keys: a client token's name, a visitor's identity, or, for anonymous callers, their
 * address, Origin and User-Agent together (hashed, so the scope stays short), so two
 * visitors behind one address who pick the same key still do not share an answer.
 */
export function scopeOf (caller: { clientName: string | null, visitorId: string | null }, address: string, origin: string | undefined, userAgent: string | undefined): string {
  if (caller.clientName !== null) return `client:${caller.clientName}`
  if (caller.visitorId !== null) return `visitor:${caller.visitorId}`
  const anonymous = createHash('sha256').update(JSON.stringify([address, origin, userAgent])).digest('base64url')
  return `anon:${anonymous}`
}

/**
 * The store id of a key sent by one client. The scope is percent-encoded so it holds no
 * ":", which keeps (scope, key) pairs from colliding whatever characters either contains.
 */
export function storeId (scope: string, key: string): string {
  return `${encodeURIComponent(scope)}:${key}`
}
