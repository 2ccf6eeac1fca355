import { test } from 'tap'
import { request } from 'undici'
import { setup, postSession } from '../helpers/setup.ts'

test('smoke real', async (t) => {
  const { app, logs } = await setup(t, { STREAM_IDLE_TIMEOUT_MS: '300' })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const created = await postSession(app, { serialNumber: 'abc' })
  const { sessionId, sessionToken } = created.json()
  for (const content of ['sim:chunks-5-50', 'sim:reset', 'sim:silent', 'hello']) {
    const started = Date.now()
    try {
      const res = await request(`${url}/sessions/${sessionId}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'session-token': sessionToken }, body: JSON.stringify({ content, stream: true }) })
      const arrivals: number[] = []
      for await (const chunk of res.body) arrivals.push(Date.now() - started)
      console.log(content, res.statusCode, arrivals)
    } catch (e) { console.log(content, 'error', (e as Error).message, Date.now() - started) }
  }
  await new Promise((r) => setTimeout(r, 100))
  console.log(logs.lines.filter((l) => l.includes('messages')).map((l) => l.slice(l.indexOf('"res"'))).join(''))
})
