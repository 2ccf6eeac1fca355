// Retry-After from the upstream, as whole seconds for our own Retry-After header.
// RFC 9110 allows delay-seconds or an HTTP-date; anything else is ignored. Capped at ten
// minutes: an upstream that asks for a day would otherwise park every widget for a day.

export const MAX_RETRY_AFTER_SECONDS = 600

export function parseRetryAfter (value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value
  if (text === undefined) return undefined
  const trimmed = text.trim()
  let seconds: number
  if (/^\d+$/.test(trimmed)) {
    seconds = Number(trimmed)
  } else if (/^[A-Za-z]{3}/.test(trimmed)) {
    // Every HTTP-date form starts with a day name; anything else is not a date.
    const date = Date.parse(trimmed)
    if (Number.isNaN(date)) return undefined
    seconds = Math.ceil((date - now) / 1000)
  } else {
    return undefined
  }
  return Math.min(Math.max(seconds, 1), MAX_RETRY_AFTER_SECONDS)
}
