// An upstream failure as the contract answers it: its code, its Retry-After, and how loud its log line is.
import { test } from 'tap'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'

test('UPSTREAM_RATE_LIMITED carries the upstream\'s Retry-After, or 30 s', async (t) => {
  t.same(new UpstreamError('UPSTREAM_RATE_LIMITED', { retryAfter: 7 }).headers, { 'retry-after': '7' })
  t.same(new UpstreamError('UPSTREAM_RATE_LIMITED').headers, { 'retry-after': '30' })
  t.equal(new UpstreamError('UPSTREAM_ERROR', { retryAfter: 7 }).headers, undefined, 'other codes send none')
})

test('the status and detail come from the registry unless a detail is given', async (t) => {
  const error = new UpstreamError('CHATBOT_NOT_FOUND', { httpStatus: 200 }, 'No such bot.')
  t.match(error, { name: 'UpstreamError', code: 'CHATBOT_NOT_FOUND', status: 404, detail: 'No such bot.', facts: { httpStatus: 200 } })
  t.equal(new UpstreamError('UPSTREAM_TIMEOUT').detail, 'The chatbot service did not answer in time.')
  t.same(new UpstreamError('UPSTREAM_TIMEOUT').facts, {})
})

test('an auth failure logs at error with the refused key\'s fingerprint; anything else at warn with its facts', async (t) => {
  t.same(new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401, keyFingerprint: '0a1b2c3d' }).logEntry(), {
    level: 'error', fields: { code: 'UPSTREAM_AUTH_FAILED', keyFingerprint: '0a1b2c3d' }, message: 'upstream refused the API key'
  })
  const facts = { cause: 'ECONNRESET', attempts: 2 }
  t.same(new UpstreamError('UPSTREAM_UNAVAILABLE', facts).logEntry(), {
    level: 'warn', fields: { code: 'UPSTREAM_UNAVAILABLE', upstream: facts }, message: 'upstream call failed'
  })
})
