// The shared vocabulary: which tokens no verifier ever sees, and the verdicts' shapes.
import { test } from 'tap'
import { BOT_CHECK_TOKEN_HEADER, MAX_TOKEN_LENGTH, PASSED, precheck, refused, unavailable } from '../../../src/bot-check/verdict.ts'

test('empty tokens are missing, oversized ones invalid, the rest go to the verifier', async (t) => {
  t.same(precheck(''), { ok: false, reason: 'missing' })
  t.same(precheck('x'.repeat(MAX_TOKEN_LENGTH + 1)), { ok: false, reason: 'invalid' })
  t.equal(precheck('x'.repeat(MAX_TOKEN_LENGTH)), undefined)
  t.equal(precheck('x'), undefined)
  t.equal(MAX_TOKEN_LENGTH, 4096, 'above Turnstile\'s 2048 and an ALTCHA payload\'s ~600')
})

test('verdicts carry a reason and, when unavailable, a short cause', async (t) => {
  t.same(PASSED, { ok: true })
  t.ok(Object.isFrozen(PASSED), 'one shared pass nobody can change')
  t.same(refused('replayed'), { ok: false, reason: 'replayed' })
  t.same(unavailable('timeout'), { ok: false, reason: 'unavailable', cause: 'timeout' })
  t.equal(BOT_CHECK_TOKEN_HEADER, 'bot-check-token')
})
