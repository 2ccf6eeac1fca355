// The quota day is a UTC calendar day: its name, its end and the seconds until then, at
// midnight, around leap days and whatever the process's time zone.
import { test } from 'tap'
import { DAY_MS, nextUtcDayAt, secondsUntilReset, utcDayOf } from '../../../src/quotas/day.ts'

const at = (iso: string): number => Date.parse(iso)

test('utcDayOf names the UTC day, changing exactly at midnight', async (t) => {
  t.equal(utcDayOf(at('2025-06-15T00:00:00.000Z')), '2025-06-15')
  t.equal(utcDayOf(at('2025-06-15T23:59:59.999Z')), '2025-06-15')
  t.equal(utcDayOf(at('2025-06-16T00:00:00.000Z')), '2025-06-16')
  t.equal(utcDayOf(at('2025-12-31T23:59:59.999Z')), '2025-12-31')
  t.equal(utcDayOf(at('2026-01-01T00:00:00.000Z')), '2026-01-01', 'a new year')
  t.equal(utcDayOf(at('2025-03-09T12:00:00.000Z')), '2025-03-09', 'zero-padded')
})

test('utcDayOf around leap days', async (t) => {
  t.equal(utcDayOf(at('2024-02-28T23:59:59.999Z')), '2024-02-28')
  t.equal(utcDayOf(at('2024-02-28T23:59:59.999Z') + 1), '2024-02-29', '2024 is a leap year')
  t.equal(utcDayOf(at('2024-02-29T23:59:59.999Z') + 1), '2024-03-01')
  t.equal(utcDayOf(at('2023-02-28T23:59:59.999Z') + 1), '2023-03-01', '2023 is not')
  t.equal(utcDayOf(at('2100-02-28T23:59:59.999Z') + 1), '2100-03-01', 'nor is 2100')
  t.equal(utcDayOf(at('2000-02-28T23:59:59.999Z') + 1), '2000-02-29', 'but 2000 is')
})

test('nextUtcDayAt is the next midnight, a whole day ahead at midnight itself', async (t) => {
  t.equal(nextUtcDayAt(at('2025-06-15T00:00:00.000Z')), at('2025-06-16T00:00:00.000Z'))
  t.equal(nextUtcDayAt(at('2025-06-15T13:45:10.123Z')), at('2025-06-16T00:00:00.000Z'))
  t.equal(nextUtcDayAt(at('2025-06-15T23:59:59.999Z')), at('2025-06-16T00:00:00.000Z'))
  t.equal(nextUtcDayAt(at('2024-02-28T12:00:00.000Z')), at('2024-02-29T00:00:00.000Z'))
  t.equal(nextUtcDayAt(at('2024-02-29T12:00:00.000Z')), at('2024-03-01T00:00:00.000Z'))
  t.equal(nextUtcDayAt(at('2023-02-28T12:00:00.000Z')), at('2023-03-01T00:00:00.000Z'))
  t.equal(nextUtcDayAt(at('2025-12-31T23:00:00.000Z')), at('2026-01-01T00:00:00.000Z'))
  t.equal(DAY_MS, 24 * 60 * 60 * 1000)
})

test('secondsUntilReset rounds up and is never 0', async (t) => {
  t.equal(secondsUntilReset(at('2025-06-15T23:59:30.000Z')), 30)
  t.equal(secondsUntilReset(at('2025-06-15T23:59:29.500Z')), 31, 'a part of a second counts whole')
  t.equal(secondsUntilReset(at('2025-06-15T23:59:59.001Z')), 1)
  t.equal(secondsUntilReset(at('2025-06-15T23:59:59.999Z')), 1, 'at least 1')
  t.equal(secondsUntilReset(at('2025-06-16T00:00:00.000Z')), 86_400, 'at midnight a whole day')
  t.equal(secondsUntilReset(at('2025-06-16T00:00:00.001Z')), 86_400)
  t.equal(secondsUntilReset(at('2025-06-16T12:00:00.000Z')), 43_200)
  t.equal(secondsUntilReset(at('2024-02-29T23:00:00.000Z')), 3600, 'a leap day is an ordinary day')
})

test('the process time zone changes nothing', async (t) => {
  const zone = process.env.TZ
  t.teardown(() => {
    if (zone === undefined) delete process.env.TZ
    else process.env.TZ = zone
  })
  // 23:30 UTC on 30 March is already the 31st east of Greenwich (Paris has just moved to
  // summer time) and still the 30th far west; the quota day is the 30th everywhere.
  const now = at('2025-03-30T23:30:00.000Z')
  for (const [tz, localDate] of [['Pacific/Kiritimati', 31], ['Europe/Paris', 31], ['Pacific/Pago_Pago', 30]] as const) {
    process.env.TZ = tz
    t.equal(new Date(now).getDate(), localDate, `${tz} is in effect`)
    t.equal(utcDayOf(now), '2025-03-30', tz)
    t.equal(nextUtcDayAt(now), at('2025-03-31T00:00:00.000Z'), tz)
    t.equal(secondsUntilReset(now), 1800, tz)
  }
})
