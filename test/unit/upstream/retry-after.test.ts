import { test } from 'tap'
import { parseRetryAfter } from '../../../src/upstream/retry-after.ts'

test('Retry-After: seconds, HTTP dates, garbage', async (t) => {
  const now = Date.parse('2026-11-25T12:00:00Z')
  t.equal(parseRetryAfter('12', now), 12)
  t.equal(parseRetryAfter(['5', '9'], now), 5)
  t.equal(parseRetryAfter('0', now), 1)
  t.equal(parseRetryAfter('999999999', now), 600, 'capped at ten minutes')
  t.equal(parseRetryAfter('600', now), 600)
  t.equal(parseRetryAfter('601', now), 600)
  t.equal(parseRetryAfter('Thu, 26 Nov 2026 12:00:00 GMT', now), 600, 'a date a day away too')
  t.equal(parseRetryAfter('Wed, 25 Nov 2026 12:00:30 GMT', now), 30)
  t.equal(parseRetryAfter('Wed, 25 Nov 2026 11:00:00 GMT', now), 1)
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter('-3', now), undefined)
  t.equal(parseRetryAfter(undefined, now), undefined)
})

test('Retry-After: surrounding white space is ignored', async (t) => {
  const now = Date.parse('2026-11-25T12:00:00Z')
  t.equal(parseRetryAfter(' 12 ', now), 12)
  t.equal(parseRetryAfter('\tWed, 25 Nov 2026 12:00:30 GMT ', now), 30)
})

test('Retry-After: only whole numbers, or dates that start with a day name', async (t) => {
  const now = Date.parse('2026-11-25T12:00:00Z')
  t.equal(parseRetryAfter('12abc', now), undefined)
  t.equal(parseRetryAfter('1.5', now), undefined)
  t.equal(parseRetryAfter('25 Nov 2026 12:00:30 GMT', now), undefined, 'a date without its day name is no HTTP-date')
  t.equal(parseRetryAfter('x 25 Nov 2026 12:00:30 GMT', now), undefined, 'nor one with a single letter before it, which Date.parse would still read')
})
