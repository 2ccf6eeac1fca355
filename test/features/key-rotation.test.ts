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
import { until } from '../helpers/waiting.ts'

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
  await upstream.received(1)
  writeFileSync(file, `${NEW}\n`)
  proxy.child.kill('SIGHUP')
  await until(() => /reason":"SIGHUP"[^\n]*API key reloaded/.test(proxy.output()), 'the key is reloaded')
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
  await until(() => /API key file unusable; keeping the old key/.test(proxy.output()), 'the empty file is read')
  const kept = await post(proxy.url, 'kept')
  t.equal(kept.statusCode, 201)
  await kept.body.dump()
  t.match(proxy.output(), /API key file unusable; keeping the old key/)
  writeFileSync(file, NEW)
  await until(() => /reason":"file change"[^\n]*API key reloaded/.test(proxy.output()), 'the change is picked up')
  const changed = await post(proxy.url, 'changed')
  await changed.body.dump()
  t.same(keysUsed(upstream), ['kept=old', 'changed=new'])
})

test('next-key failover: the refused key is replaced by the next one, once', async (t) => {
  const { app, upstream, logs, metrics } = await setup(t, { HOTTASK_API_KEY: 'refused-key-00000000000', HOTTASK_API_KEY_NEXT: TEST_KEY })
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 201)
  t.equal(upstream.count(), 2)
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.equal(upstream.count(), 3, 'the next key is now current: one attempt')
  const warn = logs.entries.find((e) => e.msg === 'API key refused upstream; the next key worked and is now current')
  t.match(warn, { level: 40, refused: /^[0-9a-f]{8}$/, current: /^[0-9a-f]{8}$/ })
  t.notOk(logs.text.includes('refused-key-00000000000'))
  t.match(await metrics.render(), /hottask_proxy_upstream_retries_total\{reason="next_key"\} 1/)
})

test('HOTTASK_API_KEY_NEXT_FILE is re-read like the key file; a key file still holding a refused key is ignored', async (t) => {
  const NEXT = 'rotation-next-key-1111111111'
  const LATER = 'rotation-later-key-222222222'
  const dir = mkdtempSync(join(tmpdir(), 'rotation-next-'))
  const currentFile = join(dir, 'current')
  const nextFile = join(dir, 'next')
  writeFileSync(currentFile, OLD)
  writeFileSync(nextFile, NEXT)
  // The upstream no longer accepts OLD.
  const { app, upstream, logs } = await setup(t, { HOTTASK_API_KEY: '', HOTTASK_API_KEY_FILE: currentFile, HOTTASK_API_KEY_NEXT_FILE: nextFile, LOG_LEVEL: 'info' }, { simulator: { key: [NEXT, LATER] } })
  const keyOf = (i: number) => upstream.requests[i]!.headers.authorization

  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.same([keyOf(0), keyOf(1)], [OLD, NEXT], 'refused, then the next key worked')

  // The orchestrator has not updated the current key's file yet: it still holds the refused key.
  app.reloadKeys('SIGHUP')
  const ignored = logs.entries.find((e) => e.msg === 'API key file still holds a refused key; ignored')
  t.match(ignored, { level: 40, variable: 'HOTTASK_API_KEY_FILE', refused: /^[0-9a-f]{8}$/, current: /^[0-9a-f]{8}$/ })
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.equal(keyOf(2), NEXT, 'the promoted key stays current')

  // A new next key arrives in its file, and takes over when the upstream revokes the current one.
  writeFileSync(nextFile, LATER)
  app.reloadKeys('SIGHUP')
  t.ok(logs.entries.some((e) => e.msg === 'API key reloaded' && e.variable === 'HOTTASK_API_KEY_NEXT_FILE'), 'the next key was reloaded')
  upstream.acceptKeys([LATER])
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.same([keyOf(3), keyOf(4)], [NEXT, LATER], 'the reloaded next key took over')
  t.equal(upstream.count(), 5)
  t.notOk(logs.text.includes(NEXT) || logs.text.includes(LATER) || logs.text.includes(OLD), 'keys are logged by fingerprint only')
})
