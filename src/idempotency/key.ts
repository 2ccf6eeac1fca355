// The Idempotency-Key header's syntax, and how a key is bound to the client that sent it.

/** As a JSON-schema pattern, for the route's header schema. */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7e]{1,128}$'
const KEY_PATTERN = new RegExp(IDEMPOTENCY_KEY_PATTERN)

/** 1–128 visible ASCII characters (no spaces, so a repeated header, joined by ", ", fails). */
export function validIdempotencyKey (value: unknown): value is string {
  return typeof value === 'string' && KEY_PATTERN.test(value)
}

/**
 * The store id of a key sent by one client. The scope is percent-encoded so it holds no
 * ":", which keeps (scope, key) pairs from colliding whatever characters either contains.
 */
export function storeId (scope: string, key: string): string {
  return `${encodeURIComponent(scope)}:${key}`
}
