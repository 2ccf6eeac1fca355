// rediss:// against a real redis-server that speaks only TLS, with certificates made for the
// test: with the CA that signed the server's certificate (REDIS_TLS_CA_FILE), replicas share
// limits and idempotency keys through it; with a CA that did not, with only the system's CAs,
// or with a certificate for another host, readiness fails while the process goes on serving,
// and the log says why, without the URL's password.
import { test } from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../simulator/server.ts'
import { startServer } from '../helpers/proxy-process.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { postSession, setup, TEST_KEY, TEST_TOKEN_SECRET } from '../helpers/setup.ts'
import { makeTestCertificates } from '../helpers/test-certificates.ts'
import { until } from '../helpers/waiting.ts'
import type { FastifyInstance } from 'fastify'

const PASSWORD = 'redis-password-0123456789'

const readyz = async (app: FastifyInstance) => await app.inject({ url: '/readyz' })

test('with the CA that signed the server\'s certificate, two replicas share limits and idempotency keys over TLS', async (t) => {
  const certs = makeTestCertificates(t)
  const redis = await startRedis(t, { tls: certs })
  t.match(redis.url, /^rediss:\/\/127\.0\.0\.1:\d+\/0$/)
  const env = { REDIS_URL: redis.url, REDIS_TLS_CA_FILE: certs.ca, RATE_LIMIT_MAX: '3' }
  const a = await setup(t, env)
  const b = await setup(t, env)
  await until(async () => (await readyz(a.app)).json().checks.redis === 'ok' && (await readyz(b.app)).json().checks.redis === 'ok', 'both replicas connected to Redis')

  const key = { 'idempotency-key': 'tls-replay-5f0c2a9e7d41b836' }
  const first = await postSession(a.app, { serialNumber: 'abc' }, key)
  const replayed = await postSession(b.app, { serialNumber: 'abc' }, key)
  t.equal(first.statusCode, 201)
  t.equal(replayed.statusCode, 201)
  t.equal(replayed.json().sessionId, first.json().sessionId, 'the other replica replays the answer kept in Redis')
  t.equal(a.upstream.count() + b.upstream.count(), 1, 'one upstream call for both')
  t.same([(await postSession(b.app, { serialNumber: 'abc' })).statusCode, (await postSession(a.app, { serialNumber: 'abc' })).statusCode], [201, 429],
    'one combined limit of 3 (the replay counted too)')
})

test('without REDIS_TLS_CA_FILE the system CAs do not trust a private CA: Redis reported failing, and the log says why', async (t) => {
  const certs = makeTestCertificates(t)
  const redis = await startRedis(t, { tls: certs })
  const { app, logs } = await setup(t, { REDIS_URL: redis.url })
  await until(() => logs.entries.some((e) => e.msg === 'redis TLS connection failed: check REDIS_URL\'s host and REDIS_TLS_CA_FILE'), 'the TLS failure is logged')
  const res = await readyz(app)
  t.equal(res.statusCode, 200, 'RATE_LIMIT_ON_STORE_ERROR=open: reported, not required')
  t.same(res.json().checks, { shutdown: 'ok', redis: 'failing' })
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201, 'served, the rate limit open on a store error')
})

test('attack: a certificate the right CA issued for another host makes the redis check fail', async (t) => {
  const certs = makeTestCertificates(t)
  const redis = await startRedis(t, { tls: { ...certs, cert: certs.otherHostCert } })
  const { app, logs } = await setup(t, { REDIS_URL: redis.url, REDIS_TLS_CA_FILE: certs.ca })
  await until(() => logs.entries.some((e) => e.msg === 'redis TLS connection failed: check REDIS_URL\'s host and REDIS_TLS_CA_FILE'), 'the TLS failure is logged')
  t.match(logs.entries.find((e) => e.code !== undefined && e.level === 50), { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: /127\.0\.0\.1/ })
  t.equal((await readyz(app)).json().checks.redis, 'failing')
})

test('attack: a certificate from another CA makes the redis check fail, not the process crash, and the log holds no password', async (t) => {
  const certs = makeTestCertificates(t)
  const redis = await startRedis(t, { tls: certs })
  const upstream = await startSimulator({ key: [TEST_KEY] })
  t.teardown(() => upstream.close())
  const proxy = await startServer({
    HOTTASK_API_KEY: TEST_KEY,
    HOTTASK_BASE_URL: upstream.url,
    REDIS_URL: redis.url.replace('rediss://', `rediss://:${PASSWORD}@`),
    REDIS_TLS_CA_FILE: certs.otherCa,
    SESSION_TOKEN_SECRET: TEST_TOKEN_SECRET,
    LOG_LEVEL: 'debug'
  })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  await until(() => /redis TLS connection failed/.test(proxy.output()), 'the TLS failure is logged')
  const line = JSON.parse(proxy.output().split('\n').find((l) => l.includes('redis TLS connection failed'))!) as Record<string, unknown>
  t.match(line, { level: 50, code: /CERT|UNABLE_TO/, reason: /certificate/ })
  const ready = await request(`${proxy.url}/readyz`)
  t.equal(ready.statusCode, 200, 'RATE_LIMIT_ON_STORE_ERROR=open: reported, not required')
  t.match(await ready.body.json(), { checks: { redis: 'failing' } })
  const session = await request(`${proxy.url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"serialNumber":"abc"}' })
  t.equal(session.statusCode, 201, 'still serving')
  await session.body.dump()
  t.equal(proxy.child.exitCode, null, 'the process is running')
  t.notOk(proxy.output().includes(PASSWORD), 'the password is never logged')
  t.equal(proxy.output().split('\n').filter((l) => l.includes('redis TLS connection failed')).length, 1, 'logged once, not on every reconnection')
})
