// The error registry: every code's status and title, its problem type, and the problem body.
import { test } from 'tap'
import { ERRORS, PROBLEM_TYPE_BASE, ProblemError, problemType, toProblem } from '../../../src/http/errors.ts'

test('a problem type is the URN base and the code in lower case with dashes', async (t) => {
  t.equal(PROBLEM_TYPE_BASE, 'urn:hottask-proxy:problem:')
  t.equal(problemType('UPSTREAM_CIRCUIT_OPEN'), 'urn:hottask-proxy:problem:upstream-circuit-open')
})

test('every code has a 4xx or 5xx status, a title and a generic detail', async (t) => {
  for (const [code, entry] of Object.entries(ERRORS)) {
    t.ok(entry.status >= 400 && entry.status < 600, code)
    t.ok(entry.title.length > 0 && entry.detail.endsWith('.'), code)
  }
})

test('a ProblemError takes its status from the registry and its detail from the registry unless given', async (t) => {
  const plain = new ProblemError('CHATBOT_NOT_FOUND')
  t.match(plain, { name: 'ProblemError', code: 'CHATBOT_NOT_FOUND', status: 404, detail: 'The chatbot service does not know this chatbot.', headers: undefined })
  t.equal(plain.message, plain.detail)
  const told = new ProblemError('VALIDATION_FAILED', 'body/serialNumber must match pattern', { 'x-a': 'b' })
  t.match(told, { status: 400, detail: 'body/serialNumber must match pattern', headers: { 'x-a': 'b' } })
  t.equal(plain.logEntry(), undefined, 'a plain problem is a refusal: no line of its own')
})

test('the problem body carries the registry\'s title and the request id', async (t) => {
  t.same(toProblem(new ProblemError('RATE_LIMITED', 'Wait.'), 'req-1'), {
    type: 'urn:hottask-proxy:problem:rate-limited', title: 'Too many requests', status: 429, detail: 'Wait.', code: 'RATE_LIMITED', requestId: 'req-1'
  })
})
