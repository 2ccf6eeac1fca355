// What the upstream's answers have shown about a key, and for which chatbots.
import { test } from 'tap'
import { EVIDENCE_WINDOW_MS, KeyEvidence } from '../../../src/upstream/key-evidence.ts'

function evidence (options: { allowed?: string[], max?: number } = {}) {
  let now = 1_000_000
  const e = new KeyEvidence({ allowedSerialNumbers: options.allowed, maxChatbots: options.max ?? 100, now: () => now })
  return { e, advance: (ms: number) => { now += ms } }
}

test('a key works for a chatbot once it created a session for it, for one hour', async (t) => {
  const { e, advance } = evidence()
  t.notOk(e.keyProven('k1'))
  t.notOk(e.worksFor('k1', 'bot'))
  e.recordSuccess('k1', 'bot')
  t.ok(e.keyProven('k1'))
  t.ok(e.worksFor('k1', 'bot'))
  t.notOk(e.worksFor('k2', 'bot'), 'another key proves nothing')
  t.notOk(e.worksFor('k1', 'other'), 'another chatbot is not known')
  advance(EVIDENCE_WINDOW_MS - 1)
  t.ok(e.worksFor('k1', 'bot'))
  t.ok(e.keyProven('k1'))
  advance(1)
  t.notOk(e.worksFor('k1', 'bot'), 'an hour later it proves nothing')
  t.notOk(e.keyProven('k1'))
  t.equal(EVIDENCE_WINDOW_MS, 3_600_000)
})

test('chatbots of ALLOWED_SERIAL_NUMBERS are the deployment\'s own: any key is expected to work for them', async (t) => {
  const { e } = evidence({ allowed: ['ours'] })
  t.ok(e.worksFor('any-key', 'ours'))
  t.notOk(e.worksFor('any-key', 'theirs'))
})

test('the least recently proven chatbots are forgotten beyond the limit', async (t) => {
  const { e } = evidence({ max: 2 })
  e.recordSuccess('k', 'a')
  e.recordSuccess('k', 'b')
  e.recordSuccess('k', 'a')
  e.recordSuccess('k', 'c')
  t.ok(e.worksFor('k', 'a'))
  t.notOk(e.worksFor('k', 'b'), 'b was the oldest')
  t.ok(e.worksFor('k', 'c'))
})

test('each chatbot may try the next key once, until it has worked again', async (t) => {
  const { e } = evidence({ max: 2 })
  t.ok(e.mayTryNextKey('bot'))
  t.notOk(e.mayTryNextKey('bot'), 'only once')
  t.ok(e.mayTryNextKey('other'))
  e.recordSuccess('k', 'bot')
  t.ok(e.mayTryNextKey('bot'), 'a success clears it')
  t.ok(e.mayTryNextKey('third'))
  t.ok(e.mayTryNextKey('other'), 'beyond the limit the oldest try is forgotten')
})
