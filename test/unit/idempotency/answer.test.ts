// How an answer is kept and given again: the session id, or the same problem marked replayed.
import { test } from 'tap'
import { ProblemError } from '../../../src/http/errors.ts'
import { refused, REPLAYED_HEADER, replay, succeeded } from '../../../src/idempotency/answer.ts'

test('a success is kept with its body, and replayed as that body', async (t) => {
  t.same(succeeded('{"sessionId":123}'), { status: 200, body: '{"sessionId":123}' })
  t.equal(replay(succeeded('{"sessionId":9007199254740993123}')), '{"sessionId":9007199254740993123}')
})

test('a refusal is kept with its status, code, detail and headers (copied), and replayed as a fresh error marked replayed', async (t) => {
  const headers = { 'retry-after': '30' }
  const error = new ProblemError('UPSTREAM_RATE_LIMITED', 'Busy.', headers)
  const kept = refused(error)
  t.same(kept, { status: 503, problem: { code: 'UPSTREAM_RATE_LIMITED', detail: 'Busy.', headers: { 'retry-after': '30' } } })
  headers['retry-after'] = '1'
  t.equal(kept.problem?.headers?.['retry-after'], '30', 'a copy, not the error\'s own object')
  t.same(refused(new ProblemError('CHATBOT_NOT_FOUND', 'No bot.')), { status: 404, problem: { code: 'CHATBOT_NOT_FOUND', detail: 'No bot.' } })

  const thrown = t.throws(() => replay(kept)) as ProblemError
  t.ok(thrown instanceof ProblemError)
  t.not(thrown, error)
  t.match(thrown, { code: 'UPSTREAM_RATE_LIMITED', status: 503, detail: 'Busy.' })
  t.same(thrown.headers, { 'retry-after': '30', [REPLAYED_HEADER]: 'true' })
  t.same((t.throws(() => replay({ status: 404, problem: { code: 'CHATBOT_NOT_FOUND', detail: 'x' } })) as ProblemError).headers, { [REPLAYED_HEADER]: 'true' })
  t.equal(REPLAYED_HEADER, 'idempotent-replayed')
})
