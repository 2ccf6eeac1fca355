import { test } from 'tap'
import { SecretScrubber } from '../../src/secrets.ts'
import { asEnvelope, isConsistent, parseJson, sessionIdOf } from '../../src/upstream/envelope.ts'
import { safeMessage } from '../../src/upstream/message.ts'
import { parseRetryAfter } from '../../src/upstream/retry-after.ts'
import { ProblemError } from '../../src/errors.ts'
import { ClientGoneError, DeadlineExceeded } from '../../src/upstream/abort-reasons.ts'
import { classifyFailure } from '../../src/upstream/classify.ts'

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

test('envelope parsing keeps SessionID digits and checks shapes', async (t) => {
  const good = asEnvelope(parseJson('{"Data":{"SessionID":123456},"Version":"1.0.0","Success":true,"Code":200,"Message":""}'))
  t.ok(good)
  t.equal(sessionIdOf(good!), '123456')
  t.ok(isConsistent(good!))
  t.equal(sessionIdOf(asEnvelope(parseJson('{"Data":{"SessionID":123456789012345678901234},"Success":true,"Code":200}'))!), '123456789012345678901234')
  t.equal(sessionIdOf(asEnvelope(parseJson('{"Data":{"SessionID":1e5},"Success":true,"Code":200}'))!), '100000', 'a safe integer in any JSON form is that integer')
  t.equal(sessionIdOf(asEnvelope(parseJson('{"Data":{"SessionID":1.5},"Success":true,"Code":200}'))!), undefined)
  t.equal(sessionIdOf(asEnvelope(parseJson('{"Data":{"SessionID":1e30},"Success":true,"Code":200}'))!), undefined, 'an unsafe number not written as digits is refused')
  t.equal(sessionIdOf(asEnvelope(parseJson('{"Data":{"SessionID":"5"},"Success":true,"Code":200}'))!), undefined)
  t.equal(asEnvelope(parseJson('{"Success":"true","Code":200}')), undefined)
  t.equal(asEnvelope(parseJson('{"Success":true,"Code":200.5}')), undefined)
  t.equal(asEnvelope(parseJson('[]')), undefined)
  t.equal(asEnvelope(parseJson('nope')), undefined)
  t.equal(asEnvelope(null), undefined)
  t.notOk(isConsistent({ Success: false, Code: 200 }))
  t.notOk(isConsistent({ Success: true, Code: 201 }))
})

test('upstream messages are made safe for browsers', async (t) => {
  const scrubber = new SecretScrubber()
  scrubber.add('SECRETKEY')
  t.equal(safeMessage('Chatbot not found.', scrubber), 'Chatbot not found.')
  t.equal(safeMessage('a\u0000b\u001b[1mc\r\nd\te\u202Ef', scrubber), 'ab[1mc d ef')
  t.equal(safeMessage('key SECRETKEY and SECRET\u200bKEY', scrubber), 'key [REDACTED] and [REDACTED]')
  t.equal(safeMessage('x'.repeat(300), scrubber)?.length, 200)
  t.equal(Array.from(safeMessage('😀'.repeat(250), scrubber)!).length, 200, 'cut by characters, not code units')
  t.equal(safeMessage('   ', scrubber), undefined)
  t.equal(safeMessage(42, scrubber), undefined)
})

test('transport failures: timeouts, never-sent, and bugs', async (t) => {
  t.equal(classifyFailure(new Error('x'), true).code, 'UPSTREAM_TIMEOUT')
  t.equal(classifyFailure(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), false).code, 'UPSTREAM_TIMEOUT')
  const refused = classifyFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), false)
  t.equal(refused.code, 'UPSTREAM_UNAVAILABLE')
  t.equal(refused.facts.notSent, true)
  const reset = classifyFailure(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }), false)
  t.equal(reset.facts.notSent, false, 'a reset may come after the request was sent')
  t.equal(classifyFailure(Object.assign(new Error('x'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), false).facts.notSent, true)
  t.throws(() => classifyFailure(new TypeError('bug'), false), TypeError)
})

test('expected outcomes capture no stack trace; the global limit is left as it was', async (t) => {
  const limit = Error.stackTraceLimit
  for (const error of [new ProblemError('RATE_LIMITED'), new ClientGoneError(), new DeadlineExceeded()]) {
    t.notMatch(error.stack ?? '', /\n\s+at /, error.name)
    t.ok(error instanceof Error)
  }
  t.equal(Error.stackTraceLimit, limit)
  t.match(new Error('bug').stack, /\n\s+at /, 'ordinary errors keep theirs')
})
