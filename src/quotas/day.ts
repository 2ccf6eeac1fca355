// The quota day: a fixed UTC calendar day, the same on every replica whatever its time
// zone. UTC has no daylight saving and JavaScript time counts no leap seconds, so every
// day is exactly DAY_MS long and plain arithmetic on epoch milliseconds is exact.
export const DAY_MS = 86_400_000

/** The UTC day holding nowMs, as 'YYYY-MM-DD' (the day part of every counter's key). */
export function utcDayOf (nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10)
}

/** Epoch ms of the first UTC midnight after nowMs (the next day's if nowMs is midnight). */
export function nextUtcDayAt (nowMs: number): number {
  return (Math.floor(nowMs / DAY_MS) + 1) * DAY_MS
}

/**
 * Whole seconds until the next UTC midnight, rounded up, as Retry-After wants: at least 1,
 * since the next midnight is always strictly ahead (a whole day ahead at midnight itself).
 */
export function secondsUntilReset (nowMs: number): number {
  return Math.ceil((nextUtcDayAt(nowMs) - nowMs) / 1000)
}
