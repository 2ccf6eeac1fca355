// An upstream failure as the contract answers it: its code, its Retry-After, and how loud its log line is.
import { test } from 'tap'
import { ProblemError } from '../../../src/http/errors.ts'
import { ClientGoneError } from '../../../src/lib/abort-reasons.ts'
import { neverSent, refusedOrNeverSent, UpstreamError } from '../../../src/upstream/upstream-error.ts'

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

test('what provably never reached the upstream, and what the upstream refused', async (t) => {
  const cases: Array<[string, unknown, boolean, boolean]> = [
    ['admission: the queue was full', new ProblemError('OVERLOADED'), true, true],
    ['admission: the circuit is open', new ProblemError('UPSTREAM_CIRCUIT_OPEN'), true, true],
    ['no connection made', new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true }), true, true],
    ['a chatbot\'s open breaker answered', new UpstreamError('CHATBOT_NOT_FOUND', { shortCircuited: true }), true, true],
    ['the upstream refused (an envelope on HTTP 200)', new UpstreamError('CHATBOT_NOT_FOUND', { httpStatus: 200 }), false, true],
    ['the upstream answered 500', new UpstreamError('UPSTREAM_ERROR', { httpStatus: 500 }), false, true],
    ['a timeout after sending', new UpstreamError('UPSTREAM_TIMEOUT', { cause: 'DEADLINE' }), false, false],
    ['a reset after sending', new UpstreamError('UPSTREAM_UNAVAILABLE', { cause: 'ECONNRESET', notSent: false }), false, false],
    ['the client left', new ClientGoneError(), false, false],
    ['another refusal of the proxy', new ProblemError('VALIDATION_FAILED'), false, false],
    ['not an error', 'x', false, false]
  ]
  for (const [name, error, never, refused] of cases) {
    t.equal(neverSent(error), never, `never sent: ${name}`)
    t.equal(refusedOrNeverSent(error), refused, `refused or never sent: ${name}`)
  }
})
