import { test } from 'tap'
import { parseRetryAfter } from '../../../src/upstream/retry-after.ts'

test('Retry-After: seconds, HTTP dates, garbage', async (t) => {
  const now = Date.parse('2026-11-25T12:00:00Z')
  t.equal(parseRetryAfter('12', now), 12)
  t.equal(parseRetryAfter(['5', '9'], now), 5)
  t.equal(parseRetryAfter('0', now), 1)
  t.equal(parseRetryAfter('999999999', now), 86400)
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
