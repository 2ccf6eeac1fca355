import { test } from 'tap'
import { asEnvelope, chatAnswerOf, isConsistent, parseJson, sessionIdOf } from '../../../src/upstream/envelope.ts'

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

test('a document too deeply nested for the exact-digits parse is not an envelope, never a crash', async (t) => {
  const depth = 3000
  const deep = `{"Data":{"SessionID":123456789012345678901234},"deep":${'['.repeat(depth)}${']'.repeat(depth)},"Success":true,"Code":200}`
  t.equal(parseJson(deep), undefined)
  t.equal(asEnvelope(parseJson(deep)), undefined)
})

const reply = (data: string) => chatAnswerOf(asEnvelope(parseJson(`{"Data":${data},"Success":true,"Code":200}`))!)

test('a chat reply: message id (exact digits, any letter case), content, and totalToken when it is a count', async (t) => {
  t.same(reply('{"messageid":375561,"content":"Hi","totalToken":4337}'), { messageId: '375561', content: 'Hi', totalTokens: 4337 })
  t.same(reply('{"messageId":9007199254740993123,"Content":"x"}'), { messageId: '9007199254740993123', content: 'x', totalTokens: undefined })
  t.same(reply('{"MessageID":5,"CONTENT":"","TotalTokens":0}'), { messageId: '5', content: '', totalTokens: 0 })
  for (const tokens of ['-1', '1.5', '"7"', 'null', '1e300']) {
    t.equal(reply(`{"messageid":5,"content":"x","totalToken":${tokens}}`)?.totalTokens, undefined, `totalToken ${tokens}`)
  }
  for (const bad of ['{"messageid":0,"content":"x"}', '{"messageid":"5","content":"x"}', '{"messageid":5.5,"content":"x"}',
    '{"messageid":5,"content":7}', '{"content":"x"}', '{"messageid":5}', 'null', '"text"']) {
    t.equal(reply(bad), undefined, bad)
  }
})

test('only ids keep their digits: other numbers parse as numbers, SessionID only in its own case', async (t) => {
  const envelope = asEnvelope(parseJson('{"Data":{"sessionid":5,"totalToken":9007199254740993123},"Success":true,"Code":200}'))!
  t.equal(sessionIdOf(envelope), undefined, 'SessionID is read in its documented case only')
  t.equal(typeof (envelope.Data as Record<string, unknown>).totalToken, 'number')
})
