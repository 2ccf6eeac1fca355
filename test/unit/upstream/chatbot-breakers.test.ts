// Per-chatbot breakers: failures about one chatbot are answered from memory, for a while.
import { test } from 'tap'
import { ChatbotBreakers } from '../../../src/upstream/chatbot-breakers.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'

function breakers (max = 100) {
  let now = 0
  const b = new ChatbotBreakers({ failureThreshold: 3, cooldownMs: 1000, maxChatbots: max, now: () => now })
  return { b, advance: (ms: number) => { now += ms } }
}

const refusal = (code: 'CHATBOT_NOT_FOUND' | 'UPSTREAM_REJECTED' = 'CHATBOT_NOT_FOUND') => new UpstreamError(code, { httpStatus: 200, retryAfter: 4, message: 'the upstream\'s words' })
const thrown = (fn: () => void): UpstreamError | undefined => {
  try { fn() } catch (error) { return error as UpstreamError }
  return undefined
}

test('opens at the threshold and answers with the last refusal until the cooldown ends', async (t) => {
  const { b, advance } = breakers()
  b.recordFailure('bot', refusal())
  b.recordFailure('bot', refusal())
  t.equal(thrown(() => b.check('bot')), undefined, 'two failures: still asking')
  b.recordFailure('bot', refusal('UPSTREAM_REJECTED'))
  const replayed = thrown(() => b.check('bot'))
  t.ok(replayed instanceof UpstreamError)
  t.match(replayed, { code: 'UPSTREAM_REJECTED', status: 400, detail: 'The chatbot service rejected the request.', facts: { httpStatus: 200, retryAfter: 4, shortCircuited: true } })
  t.equal(replayed?.facts.message, undefined, 'a replay carries no upstream words')
  t.equal(thrown(() => b.check('other')), undefined, 'other chatbots are not affected')
  advance(999)
  t.ok(thrown(() => b.check('bot')), 'open until the cooldown ends')
  advance(1)
  t.equal(thrown(() => b.check('bot')), undefined, 'then the upstream is asked again')
  b.recordFailure('bot', refusal())
  t.ok(thrown(() => b.check('bot')), 'one more failure re-opens it')
})

test('a success clears the chatbot; clear() forgets every chatbot', async (t) => {
  const { b } = breakers()
  for (let i = 0; i < 3; i++) b.recordFailure('bot', refusal())
  b.recordSuccess('bot')
  t.equal(thrown(() => b.check('bot')), undefined)
  for (let i = 0; i < 3; i++) b.recordFailure('a', refusal())
  t.equal(b.size, 1)
  b.clear()
  t.equal(b.size, 0)
  t.equal(thrown(() => b.check('a')), undefined)
})

test('bounded: beyond the limit the least recently failing chatbot is forgotten', async (t) => {
  const { b } = breakers(2)
  for (let i = 0; i < 3; i++) b.recordFailure('a', refusal())
  b.recordFailure('b', refusal())
  b.recordFailure('c', refusal())
  t.equal(b.size, 2)
  t.equal(thrown(() => b.check('a')), undefined, 'a was forgotten')
})
