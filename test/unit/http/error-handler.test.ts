// The error handler alone, on a bare Fastify app: every error becomes one problem+json
// answer, logged as loud as the problem says, and internals never leave the process.
import Fastify from 'fastify'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import pino from 'pino'
import { test } from 'tap'
import type { Test } from 'tap'
import { ClientGoneError } from '../../../src/lib/abort-reasons.ts'
import { errorHandler } from '../../../src/http/error-handler.ts'
import { ProblemError } from '../../../src/http/errors.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'

interface Line { level: number, msg: string, [key: string]: unknown }

async function appThrowing (t: Test, error: () => unknown) {
  const lines: Line[] = []
  const seen: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as Line) } })
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger }) as unknown as FastifyInstance
  app.decorateRequest('outcome', null)
  // Which request each problem answers, as the callback hears it (tracing marks that request's span).
  app.setErrorHandler(errorHandler((code, request) => { seen.push(request.url === '/' && request.headers['x-request-id'] === 'rid' ? code : `${code} for another request`) }))
  app.post('/', { schema: { body: { type: 'object', required: ['a'], properties: { a: { type: 'string' } } } }, bodyLimit: 16 }, async () => { throw error() })
  let outcome: unknown
  app.addHook('onResponse', async (request) => { outcome = request.outcome })
  t.teardown(() => app.close())
  await app.ready()
  const post = (payload = '{"a":"x"}') => app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/json', 'x-request-id': 'rid' }, payload })
  return { post, lines: () => lines.filter((l) => l.msg !== 'incoming request' && l.msg !== 'request completed'), seen, outcome: () => outcome }
}

test('a refusal is answered as its problem, recorded as the outcome, with no line of its own', async (t) => {
  const { post, lines, seen, outcome } = await appThrowing(t, () => new ProblemError('RATE_LIMITED', 'Slow down.', { 'retry-after': '9' }))
  const res = await post()
  t.equal(res.statusCode, 429)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.headers['retry-after'], '9')
  t.same(res.json(), { type: 'urn:hottask-proxy:problem:rate-limited', title: 'Too many requests', status: 429, detail: 'Slow down.', code: 'RATE_LIMITED', requestId: res.json().requestId })
  t.same(outcome(), { code: 'RATE_LIMITED', detail: 'Slow down.' })
  t.same(lines(), [])
  t.same(seen, ['RATE_LIMITED'])
})

test('an upstream failure gets a warn line with its facts; an auth failure an error line with the key\'s fingerprint', async (t) => {
  const failed = await appThrowing(t, () => new UpstreamError('UPSTREAM_UNAVAILABLE', { cause: 'ECONNRESET', attempts: 2 }))
  t.equal((await failed.post()).statusCode, 502)
  t.match(failed.lines(), [{ level: 40, msg: 'upstream call failed', code: 'UPSTREAM_UNAVAILABLE', upstream: { cause: 'ECONNRESET', attempts: 2 } }])
  t.equal(failed.outcome(), null, 'logged on its own line, not as a refusal')

  const refused = await appThrowing(t, () => new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401, keyFingerprint: 'abcd1234' }))
  t.equal((await refused.post()).statusCode, 502)
  t.match(refused.lines(), [{ level: 50, msg: 'upstream refused the API key', code: 'UPSTREAM_AUTH_FAILED', keyFingerprint: 'abcd1234' }])
})

test('anything unexpected is 500 INTERNAL_ERROR with a generic detail, logged with its stack', async (t) => {
  const { post, lines, seen } = await appThrowing(t, () => new TypeError('secret internals at /srv/x.ts:3'))
  const res = await post()
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'INTERNAL_ERROR')
  t.equal(res.json().detail, 'An unexpected error occurred in the proxy.')
  t.notMatch(res.body, 'secret internals')
  t.match(lines(), [{ level: 50, msg: 'unexpected error', err: { type: 'TypeError', message: 'secret internals at /srv/x.ts:3', stack: /TypeError/ } }])
  t.same(seen, ['INTERNAL_ERROR'])
})

test('Fastify\'s own errors become contract codes', async (t) => {
  const { post } = await appThrowing(t, () => new Error('never reached'))
  const invalid = await post('{}')
  t.equal(invalid.json().code, 'VALIDATION_FAILED')
  t.match(invalid.json().detail, /must have required property 'a'/, 'the validation message is the detail')
  t.equal((await post('{"a":"' + 'x'.repeat(20) + '"}')).json().code, 'PAYLOAD_TOO_LARGE')
  t.equal((await post('')).json().code, 'INVALID_JSON', 'an empty JSON body')
})

test('a client that went away is answered 499 with no body and an info line', async (t) => {
  const { post, lines, seen } = await appThrowing(t, () => new ClientGoneError())
  const res = await post()
  t.equal(res.statusCode, 499)
  t.equal(res.body, '')
  t.match(lines(), [{ level: 30, msg: 'client went away; upstream call aborted' }])
  t.same(seen, [], 'no problem was answered')
})
