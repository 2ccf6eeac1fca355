import { test } from 'tap'
import { setup, postSession } from '../helpers/setup.ts'

test('smoke', async (t) => {
  const { app, upstream, logs } = await setup(t)
  const created = await postSession(app, { serialNumber: 'abc' })
  t.equal(created.statusCode, 201)
  const { sessionId, sessionToken } = created.json()
  t.ok(sessionToken)
  const whole = await app.inject({ method: 'POST', url: `/sessions/${sessionId}/messages`, headers: { 'content-type': 'application/json', 'session-token': sessionToken }, payload: { content: 'héllo 😀' } })
  t.equal(whole.statusCode, 200, whole.body)
  console.log(whole.body, upstream.requests.at(-1)?.body)
  const streamed = await app.inject({ method: 'POST', url: `/sessions/${sessionId}/messages`, headers: { 'content-type': 'application/json', 'session-token': sessionToken }, payload: { content: 'hi there', stream: true } })
  console.log(streamed.statusCode, streamed.headers, JSON.stringify(streamed.body))
  const key = await app.inject({ method: 'POST', url: `/sessions/${sessionId}/messages`, headers: { 'content-type': 'application/json', 'session-token': sessionToken }, payload: { content: 'sim:key', stream: true } })
  console.log(key.statusCode, JSON.stringify(key.body))
  const silent = await app.inject({ method: 'POST', url: `/sessions/${sessionId}/messages`, headers: { 'content-type': 'application/json', 'session-token': sessionToken }, payload: { content: 'sim:reset', stream: true } }).catch((e) => e)
  console.log('reset', silent.statusCode ?? silent, JSON.stringify(silent.body))
  await new Promise((r) => setTimeout(r, 200)); console.log(logs.lines.filter((l) => !l.includes("upstream attempt")).join(""))
})
