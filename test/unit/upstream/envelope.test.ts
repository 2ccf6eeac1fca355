import { test } from 'tap'
import { asEnvelope, isConsistent, parseJson, sessionIdOf } from '../../../src/upstream/envelope.ts'

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
