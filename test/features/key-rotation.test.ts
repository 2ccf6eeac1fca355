// Key rotation without restart, against the real process: SIGHUP and file changes switch
// new requests to the new key while requests in flight finish with theirs; a refused key
// fails over to the next key.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../simulator/server.ts'
import { startServer } from '../helpers/proxy-process.ts'
import { postSession, setup, TEST_KEY } from '../helpers/setup.ts'

const OLD = 'rotation-old-key-0123456789'
const NEW = 'rotation-new-key-9876543210'

const post = (url: string, serialNumber: string) => request(`${url}/sessions`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serialNumber })
})

async function rotationSetup (t: Test) {
  const upstream = await startSimulator({ key: [OLD, NEW] })
  t.teardown(() => upstream.close())
  const dir = mkdtempSync(join(tmpdir(), 'rotation-'))
  const file = join(dir, 'hottask-key')
  writeFileSync(file, OLD)
  const proxy = await startServer({ HOTTASK_API_KEY_FILE: file, HOTTASK_BASE_URL: upstream.url, LOG_LEVEL: 'debug' })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  return { upstream, file, proxy }
}

const keysUsed = (upstream: Awaited<ReturnType<typeof startSimulator>>) =>
  upstream.requests.map((r) => `${JSON.parse(r.body).serialNumber as string}=${r.headers.authorization === OLD ? 'old' : 'new'}`)

test('SIGHUP: new requests use the new key, the one in flight keeps the old', async (t) => {
  const { upstream, file, proxy } = await rotationSetup(t)
  const inFlight = post(proxy.url, 'sim-slow-600-inflight')
  await new Promise((resolve) => setTimeout(resolve, 150))
  writeFileSync(file, `${NEW}\n`)
  proxy.child.kill('SIGHUP')
  await new Promise((resolve) => setTimeout(resolve, 150))
  const after = await post(proxy.url, 'after')
  t.equal(after.statusCode, 201)
  await after.body.dump()
  const first = await inFlight
  t.equal(first.statusCode, 201, await first.body.text())
  t.same(keysUsed(upstream).sort(), ['after=new', 'sim-slow-600-inflight=old'])
  t.match(proxy.output(), /API key reloaded/)
  t.notMatch(proxy.output(), OLD)
  t.notMatch(proxy.output(), NEW)
})

test('a file change is picked up without a signal; an empty file keeps the key', async (t) => {
  const { upstream, file, proxy } = await rotationSetup(t)
  writeFileSync(file, '')
  proxy.child.kill('SIGHUP')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const kept = await post(proxy.url, 'kept')
  t.equal(kept.statusCode, 201)
  await kept.body.dump()
  t.match(proxy.output(), /API key file unusable; keeping the old key/)
  writeFileSync(file, NEW)
  const deadline = Date.now() + 5000
  while (!/reason":"file change"[^\n]*API key reloaded/.test(proxy.output()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const changed = await post(proxy.url, 'changed')
  await changed.body.dump()
  t.same(keysUsed(upstream), ['kept=old', 'changed=new'])
})

test('next-key failover: the refused key is replaced by the next one, once', async (t) => {
  const { app, upstream, logs } = await setup(t, { HOTTASK_API_KEY: 'refused-key-00000000000', HOTTASK_API_KEY_NEXT: TEST_KEY })
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 201)
  t.equal(upstream.count(), 2)
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.equal(upstream.count(), 3, 'the next key is now current: one attempt')
  const warn = logs.entries.find((e) => e.msg === 'API key refused upstream; the next key worked and is now current')
  t.match(warn, { level: 40, refused: /^[0-9a-f]{8}$/, current: /^[0-9a-f]{8}$/ })
  t.notOk(logs.text.includes('refused-key-00000000000'))
  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /hottask_proxy_upstream_retries_total\{reason="next_key"\} 1/)
})
