import { test } from 'tap'
import { postSession, setup } from '../helpers/setup.ts'

test('the chatbot allow-list refuses other ids before any upstream call', async (t) => {
  const { app, upstream } = await setup(t, { ALLOWED_SERIAL_NUMBERS: 'bot-a,bot-b' })
  t.equal((await postSession(app, { serialNumber: 'bot-b' })).statusCode, 201)
  const refused = await postSession(app, { serialNumber: 'bot-c' })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'SERIAL_NUMBER_NOT_ALLOWED')
  t.equal(upstream.count(), 1)
})

test('DEFAULT_SERIAL_NUMBER serves a body-less POST and `{}`', async (t) => {
  const { app, upstream } = await setup(t, { ALLOWED_SERIAL_NUMBERS: 'bot-a,bot-b', DEFAULT_SERIAL_NUMBER: 'bot-a' })
  const noBody = await app.inject({ method: 'POST', url: '/sessions' })
  t.equal(noBody.statusCode, 201)
  t.equal((await postSession(app, {})).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'bot-b' })).statusCode, 201)
  t.same(upstream.requests.map((r) => JSON.parse(r.body).serialNumber), ['bot-a', 'bot-a', 'bot-b'])
  t.equal((await postSession(app, { extra: 1 })).statusCode, 400, 'unknown members are still refused')
  t.equal((await postSession(app, 'null')).statusCode, 400, 'a JSON null is not "no body"')
})
