import { test } from 'tap'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import { afterSending, classifyAnswer, classifyChatAnswer, classifyFailure } from '../../../src/upstream/classify.ts'
import type { UpstreamError } from '../../../src/upstream/upstream-error.ts'
import { ERRORS } from '../../../src/http/errors.ts'

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

const scrubber = new SecretScrubber()
scrubber.add('SECRET-KEY-1234')
const answer = (status: number, body: string | undefined, headers: Record<string, string> = {}) => ({ status, headers, body })
const envelope = (fields: Record<string, unknown>) => JSON.stringify({ Data: null, Version: '1.0.0', Message: '', ...fields })
const failure = (code: number, message = 'No.') => envelope({ Success: false, Code: code, Message: message })

/** The mapped error of an answer that is not a session. */
function mapped (a: ReturnType<typeof answer>): UpstreamError {
  try {
    classifyAnswer(a, scrubber)
  } catch (error) {
    return error as UpstreamError
  }
  throw new Error('expected a mapped error')
}

test('a 2xx success envelope is the session id, with its exact digits', async (t) => {
  t.equal(classifyAnswer(answer(200, envelope({ Success: true, Code: 200, Data: { SessionID: 123456 } })), scrubber), '123456')
  t.equal(classifyAnswer(answer(201, '{"Data":{"SessionID":9007199254740993123},"Success":true,"Code":200}'), scrubber), '9007199254740993123')
})

test('a 2xx failure envelope is mapped by its Code, even on HTTP 200', async (t) => {
  for (const [code, contract] of [
    [400, 'UPSTREAM_REJECTED'], [422, 'UPSTREAM_REJECTED'], [404, 'CHATBOT_NOT_FOUND'], [401, 'UPSTREAM_AUTH_FAILED'],
    [403, 'UPSTREAM_AUTH_FAILED'], [429, 'UPSTREAM_RATE_LIMITED'], [408, 'UPSTREAM_TIMEOUT'], [504, 'UPSTREAM_TIMEOUT'],
    [500, 'UPSTREAM_ERROR'], [418, 'UPSTREAM_ERROR']
  ] as const) {
    const error = mapped(answer(200, failure(code)))
    t.equal(error.code, contract, `Code ${code}`)
    t.equal(error.facts.httpStatus, 200)
  }
})

test('attack: a hostile upstream Message never reaches the caller; it is logged made safe and scrubbed', async (t) => {
  for (const [code, message] of [
    [404, 'Chatbot\nnot found.'], [400, 'bad SECRET-KEY-1234'], [400, 'bad SECRET%2DKEY%2D1234 (url-encoded)'],
    [400, 'U0VDUkVULUtFWS0xMjM0 (base64)'], [400, 'secret-key-1234 (lower case)'], [422, 'at 10.0.0.7:8080 Error\n    at handler (/srv/app.js:1:1)'],
    [401, 'internal: host 10.0.0.1'], [500, 'stack trace']
  ] as const) {
    const error = mapped(answer(200, failure(code, message)))
    t.equal(error.detail, ERRORS[error.code].detail, `Code ${code}: the registry's detail`)
  }
  t.equal(mapped(answer(200, failure(404, 'Chatbot\nnot found.'))).facts.message, 'Chatbot not found.', 'logged, made safe')
  t.equal(mapped(answer(200, failure(400, 'bad SECRET-KEY-1234'))).facts.message, 'bad [REDACTED]', 'logged, scrubbed')
  t.equal(mapped(answer(200, failure(400, '  '))).facts.message, undefined)
})

test('a 2xx that is no usable envelope is UPSTREAM_BAD_RESPONSE', async (t) => {
  for (const body of ['<html>', '[]', '{"Success":true}', envelope({ Success: true, Code: 201 }), envelope({ Success: false, Code: 200 }),
    envelope({ Success: true, Code: 200, Data: { SessionID: 0 } }), envelope({ Success: true, Code: 200, Data: null })]) {
    t.equal(mapped(answer(200, body)).code, 'UPSTREAM_BAD_RESPONSE', body)
  }
  t.equal(mapped(answer(200, undefined)).code, 'UPSTREAM_BAD_RESPONSE', 'a body over the limit')
})

test('a non-2xx answer is mapped by a consistent failure envelope\'s Code, else by its HTTP status', async (t) => {
  t.equal(mapped(answer(500, failure(404))).code, 'CHATBOT_NOT_FOUND', 'a failure envelope decides')
  // An inconsistent envelope (Success false with Code 200) is no envelope: the status decides.
  t.equal(mapped(answer(401, envelope({ Success: false, Code: 200 }))).code, 'UPSTREAM_AUTH_FAILED')
  t.equal(mapped(answer(429, envelope({ Success: false, Code: 200 }))).code, 'UPSTREAM_RATE_LIMITED')
  t.equal(mapped(answer(500, envelope({ Success: true, Code: 200, Data: { SessionID: 5 } }))).code, 'UPSTREAM_ERROR', 'a success envelope on a 5xx')
  for (const [status, contract] of [
    [401, 'UPSTREAM_AUTH_FAILED'], [403, 'UPSTREAM_AUTH_FAILED'], [429, 'UPSTREAM_RATE_LIMITED'], [408, 'UPSTREAM_TIMEOUT'],
    [504, 'UPSTREAM_TIMEOUT'], [500, 'UPSTREAM_ERROR'], [503, 'UPSTREAM_ERROR'], [302, 'UPSTREAM_ERROR'], [404, 'UPSTREAM_ERROR']
  ] as const) {
    const error = mapped(answer(status, 'plain text'))
    t.equal(error.code, contract, `HTTP ${status}`)
    t.equal(error.facts.httpStatus, status)
  }
})

test('the upstream\'s Retry-After is kept, with or without an envelope', async (t) => {
  t.equal(mapped(answer(503, 'busy', { 'retry-after': '7' })).facts.retryAfter, 7)
  t.equal(mapped(answer(200, failure(429), { 'retry-after': '3' })).facts.retryAfter, 3)
  t.equal(mapped(answer(429, 'slow down')).facts.retryAfter, undefined)
})

test('each connect-phase failure is known never to have been sent; each undici timeout is a timeout', async (t) => {
  const failed = (code: string) => classifyFailure(Object.assign(new Error('x'), { code }), false)
  for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
    'UND_ERR_CONNECT_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'EPROTO']) {
    const error = failed(code)
    t.same([error.code, error.facts.notSent, error.facts.cause], ['UPSTREAM_UNAVAILABLE', true, code], code)
  }
  for (const code of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
    t.same([failed(code).code, failed(code).facts.cause], ['UPSTREAM_TIMEOUT', code], code)
  }
  t.same([failed('EPIPE').code, failed('EPIPE').facts.notSent], ['UPSTREAM_UNAVAILABLE', false], 'a broken pipe may come after sending')
})

test('HTTP 300 is not a success: only 200–299 carry a session', async (t) => {
  const error = mapped(answer(300, envelope({ Success: true, Code: 200, Data: { SessionID: 5 } })))
  t.same([error.code, error.facts.httpStatus], ['UPSTREAM_ERROR', 300])
  t.equal(classifyAnswer(answer(299, envelope({ Success: true, Code: 200, Data: { SessionID: 5 } })), scrubber), '5')
})

test('an unusable 2xx keeps its HTTP status for the log', async (t) => {
  t.equal(mapped(answer(202, '<html>')).facts.httpStatus, 202)
  t.equal(mapped(answer(200, envelope({ Success: true, Code: 200, Data: null }))).facts.httpStatus, 200)
})

/** The mapped error of a ClientAsk answer. */
function chatMapped (a: ReturnType<typeof answer>): UpstreamError {
  try {
    classifyChatAnswer(a, scrubber)
  } catch (error) {
    return error as UpstreamError
  }
  throw new Error('expected a mapped error')
}

test('a chat answer: the reply of a success envelope; a 404 in any form is SESSION_NOT_FOUND', async (t) => {
  t.same(classifyChatAnswer(answer(200, envelope({ Success: true, Code: 200, Data: { messageid: 1, content: 'Hi', totalToken: 2 } })), scrubber),
    { messageId: '1', content: 'Hi', totalTokens: 2 })
  t.equal(chatMapped(answer(200, failure(404))).code, 'SESSION_NOT_FOUND', 'envelope Code 404')
  t.equal(chatMapped(answer(404, 'Not Found')).code, 'SESSION_NOT_FOUND', 'HTTP 404 without an envelope')
  t.equal(chatMapped(answer(500, failure(404))).code, 'SESSION_NOT_FOUND')
  t.equal(chatMapped(answer(200, failure(400))).code, 'UPSTREAM_REJECTED')
  t.equal(chatMapped(answer(200, envelope({ Success: true, Code: 200, Data: { SessionID: 5 } }))).code, 'UPSTREAM_BAD_RESPONSE', 'a session is no reply')
  t.equal(mapped(answer(404, 'Not Found')).code, 'UPSTREAM_ERROR', 'for GetSession an HTTP 404 stays a plain error')
  t.equal(mapped(answer(200, failure(404))).code, 'CHATBOT_NOT_FOUND')
})

test('a connect-phase code after the request began to be written (a reused socket) may have been sent', async (t) => {
  for (const code of ['EHOSTUNREACH', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ECONNREFUSED']) {
    const error = classifyFailure(afterSending(Object.assign(new Error('x'), { code })), false)
    t.same([error.code, error.facts.notSent], ['UPSTREAM_UNAVAILABLE', false], code)
  }
})
