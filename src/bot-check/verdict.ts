// The bot check's vocabulary, shared by every checker and by whoever maps a verdict to
// an answer: a pass, a refusal the visitor caused, or a verifier we could not ask. A
// leaf, so the route can depend on the words without depending on Turnstile or ALTCHA.

/** The header the widget sends its solved check in (lowercase, as Node gives headers). */
export const BOT_CHECK_TOKEN_HEADER = 'bot-check-token'

/**
 * Longer tokens are refused unread, without calling out: Turnstile's are at most 2048
 * characters and an ALTCHA payload about 600, so nothing genuine comes near it.
 */
export const MAX_TOKEN_LENGTH = 4096

/** The visitor's fault: no token, or one that does not pass. */
export type BotCheckRefusal = 'missing' | 'invalid' | 'expired' | 'replayed' | 'hostname' | 'action'

export type BotCheckVerdict =
  | { ok: true }
  | { ok: false, reason: BotCheckRefusal }
  /** `cause` is a short code ('timeout', 'network', 'status_503', 'bad_response', 'store', …), never the token or a secret. */
  | { ok: false, reason: 'unavailable', cause: string }

export interface BotChecker {
  /** Never rejects: every failure is a verdict. */
  verify: (token: string, context: { remoteIp: string }) => Promise<BotCheckVerdict>
}

export const PASSED: BotCheckVerdict = Object.freeze({ ok: true })

export const refused = (reason: BotCheckRefusal): BotCheckVerdict => ({ ok: false, reason })

export const unavailable = (cause: string): BotCheckVerdict => ({ ok: false, reason: 'unavailable', cause })

/** The verdict on a token no verifier should see (empty or oversized), or undefined. */
export function precheck (token: string): BotCheckVerdict | undefined {
  if (token === '') return refused('missing')
  if (token.length > MAX_TOKEN_LENGTH) return refused('invalid')
  return undefined
}
