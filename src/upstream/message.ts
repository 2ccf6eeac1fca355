// The upstream's error Message, made safe to log: no control or bidi characters, no
// secret, at most 200 characters. (It is never shown to a caller: see classify.ts.)
import type { SecretScrubber } from '../lib/secrets.ts'

const MAX_CHARS = 200
const LINE_BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g
const INVISIBLE = /[\p{Cc}\p{Cf}]/gu

export function safeMessage (message: unknown, scrubber: SecretScrubber): string | undefined {
  if (typeof message !== 'string') return undefined
  // Scrub again after removing characters: a key hidden by invisible ones is then seen whole.
  const visible = scrubber.scrub(message).replace(LINE_BREAKS, ' ').replace(INVISIBLE, '')
  const clean = scrubber.scrub(visible).replace(/ {2,}/g, ' ').trim()
  return clean.length === 0 ? undefined : Array.from(clean).slice(0, MAX_CHARS).join('')
}
