import { test } from 'tap'
import { classifyFailure } from '../../../src/upstream/classify.ts'

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
