// Rate limits through a real redis-server: replicas share one limit, and a Redis outage
// is neither a crash nor a 500 — it follows RATE_LIMIT_ON_STORE_ERROR and heals itself.
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { startRedis } from '../helpers/redis-server.ts'
import { createSession, postMessage, postSession, setup } from '../helpers/setup.ts'
import { metricValue } from '../helpers/waiting.ts'

async function until (condition: () => Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const ready = async (app: FastifyInstance): Promise<boolean> => (await app.inject({ url: '/readyz' })).statusCode === 200
/** Whether /readyz reports Redis connected (with RATE_LIMIT_ON_STORE_ERROR=open it is reported, not required). */
const redisUp = async (app: FastifyInstance): Promise<boolean> => (await app.inject({ url: '/readyz' })).json().checks.redis === 'ok'

test('two replicas sharing Redis enforce one combined limit', async (t) => {
  const redis = await startRedis(t)
  const env = { REDIS_URL: redis.url, RATE_LIMIT_MAX: '3' }
  const a = await setup(t, env)
  const b = await setup(t, env)
  await until(async () => await redisUp(a.app) && await redisUp(b.app), 'both replicas connected to Redis')
  const statuses = []
  for (const app of [a.app, b.app, a.app, b.app, a.app]) {
    statuses.push((await postSession(app, { serialNumber: 'abc' })).statusCode)
  }
  t.same(statuses, [201, 201, 201, 429, 429])
  const limited = await postSession(b.app, { serialNumber: 'abc' })
  t.equal(limited.json().code, 'RATE_LIMITED')
  t.equal(limited.headers['x-ratelimit-limit'], '3')
})

test('the per-session message limit is shared by two replicas through Redis', async (t) => {
  const redis = await startRedis(t)
  const env = { REDIS_URL: redis.url, MESSAGE_RATE_LIMIT_MAX: '3' }
  const a = await setup(t, env)
  const b = await setup(t, env)
  await until(async () => await redisUp(a.app) && await redisUp(b.app), 'both replicas connected to Redis')
  const session = await createSession(a.app)
  const statuses = []
  for (const app of [a.app, b.app, a.app, b.app]) statuses.push((await postMessage(app, session, { content: 'hi' })).statusCode)
  t.same(statuses, [200, 200, 200, 429], 'a token signed by one replica works on the other, and the count is one')
  const other = await createSession(a.app) // each replica's simulator counts ids from 100001: a's next is 100002
  t.equal((await postMessage(a.app, other, { content: 'hi' })).statusCode, 200, 'another session counts apart')
})

test('Redis down, open: requests are served and the replica stays ready, Redis reported failing; recovery after restart', async (t) => {
  const redis = await startRedis(t)
  const { app, logs, metrics } = await setup(t, { REDIS_URL: redis.url, RATE_LIMIT_MAX: '2' })
  const redisGauge = (): Promise<number | undefined> => metricValue(metrics, 'hottask_proxy_readiness_check{check="redis"}')
  await until(() => redisUp(app), 'connected')
  t.equal(await redisGauge(), 1, 'the readiness gauge shows Redis up')
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)

  await redis.stop()
  await until(async () => !(await redisUp(app)), 'Redis reported failing')
  const readyz = await app.inject({ url: '/readyz' })
  t.equal(readyz.statusCode, 200, 'still ready: it serves without Redis, and so does every other replica')
  t.same(readyz.json(), { status: 'ready', checks: { shutdown: 'ok', redis: 'failing' } })
  t.equal(await redisGauge(), 0, 'the readiness gauge shows Redis down')
  for (let i = 0; i < 4; i++) t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201, 'served open')
  t.ok(logs.entries.some((e) => e.msg === 'rate-limit store failed' && e.level === 40))

  await redis.restart()
  await until(() => redisUp(app), 'connected again')
  t.equal(await redisGauge(), 1, 'and up again')
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 429, 'limits hold again')
})

test('Redis down, closed: not ready, and 503 RATE_LIMIT_UNAVAILABLE with Retry-After, no upstream call', async (t) => {
  const redis = await startRedis(t)
  const { app, upstream } = await setup(t, { REDIS_URL: redis.url, RATE_LIMIT_ON_STORE_ERROR: 'closed' })
  await until(() => ready(app), 'ready')
  await redis.stop()
  await until(async () => !(await ready(app)), 'not ready')
  t.same((await app.inject({ url: '/readyz' })).json(), { status: 'not ready', checks: { shutdown: 'ok', redis: 'failing' } }, 'closed: Redis gates readiness')
  const res = await postSession(app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'RATE_LIMIT_UNAVAILABLE')
  t.equal(res.headers['retry-after'], '5')
  t.equal(upstream.count(), 0)
  await redis.restart()
  await until(() => ready(app), 'ready again')
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
})

test('Redis unreachable at startup: open, the service starts ready and reports Redis failing; closed, not ready', async (t) => {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))

  const { app } = await setup(t, { REDIS_URL: `redis://127.0.0.1:${port}/0` })
  const readyz = await app.inject({ url: '/readyz' })
  t.equal(readyz.statusCode, 200)
  t.same(readyz.json(), { status: 'ready', checks: { shutdown: 'ok', redis: 'failing' } }, 'readiness names Redis')
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201, 'served open meanwhile')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  const closed = await setup(t, { REDIS_URL: `redis://127.0.0.1:${port}/0`, RATE_LIMIT_ON_STORE_ERROR: 'closed' })
  const notReady = await closed.app.inject({ url: '/readyz' })
  t.equal(notReady.statusCode, 503)
  t.same(notReady.json(), { status: 'not ready', checks: { shutdown: 'ok', redis: 'failing' } })
})
