// Quota counters through a real redis-server: the stored shape and its expiry, one atomic
// transaction per add, two replicas (two connections) sharing one count, exactness under
// concurrency, and failures that reject rather than invent a total.
import type { Redis } from 'ioredis'
import { test } from 'tap'
import { QUOTA_KEY_PREFIX, RedisQuotaStore } from '../../../src/quotas/redis-store.ts'
import { connectRedis, startRedis } from '../../helpers/redis-server.ts'
import { until } from '../../helpers/waiting.ts'

/** Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats. */
async function calls (redis: Redis, command: string): Promise<number> {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await redis.info('commandstats'))
  return match === null ? 0 : Number(match[1])
}

test('counters live under the namespace, as integers, expiring at the instant given', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisQuotaStore(redis)
  const key = 'sessions:2025-06-15:visitor'
  const expiresAt = Date.now() + 60_000
  t.equal(await store.get(key), 0, 'a missing counter is 0')
  t.equal(await store.add(key, 1, expiresAt), 1)
  t.equal(await store.add(key, 41, expiresAt), 42)
  t.equal(await store.add(key, -1, expiresAt), 41, 'a negative amount refunds')
  t.equal(await store.get(key), 41)
  t.equal(await redis.get(QUOTA_KEY_PREFIX + key), '41')
  const pttl = await redis.pttl(QUOTA_KEY_PREFIX + key)
  t.ok(pttl > 55_000 && pttl <= 60_000, `PTTL ${pttl} is close to the expiry`)
  t.equal(await redis.pexpiretime(QUOTA_KEY_PREFIX + key), expiresAt, 'the very instant given')
  t.same(await redis.keys('*'), [QUOTA_KEY_PREFIX + key], 'nothing outside the namespace')
})

test('every add sets the expiry, so a counter is never left without one', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisQuotaStore(redis)
  await store.add('k', 1, Date.now() + 60_000)
  await redis.persist(QUOTA_KEY_PREFIX + 'k')
  t.equal(await redis.pttl(QUOTA_KEY_PREFIX + 'k'), -1)
  await store.add('k', 1, Date.now() + 60_000)
  t.ok(await redis.pttl(QUOTA_KEY_PREFIX + 'k') > 55_000)
})

test('an expiry already past: the total is told and the counter is gone', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisQuotaStore(redis)
  await store.add('k', 3, Date.now() + 60_000)
  t.equal(await store.add('k', -1, Date.now() - 1), 2)
  t.equal(await redis.exists(QUOTA_KEY_PREFIX + 'k'), 0)
  t.equal(await store.get('k'), 0)
})

test('an add is one MULTI/EXEC of INCRBY and PEXPIREAT', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisQuotaStore(redis)
  await redis.config('RESETSTAT')
  await store.add('k', 1, Date.now() + 60_000)
  t.same(
    { multi: await calls(redis, 'multi'), exec: await calls(redis, 'exec'), incrby: await calls(redis, 'incrby'), pexpireat: await calls(redis, 'pexpireat') },
    { multi: 1, exec: 1, incrby: 1, pexpireat: 1 }
  )
})

test('two replicas on one Redis share one count, exact under concurrency', async (t) => {
  const server = await startRedis(t)
  const a = new RedisQuotaStore(await connectRedis(t, server.url))
  const b = new RedisQuotaStore(await connectRedis(t, server.url))
  const expiresAt = Date.now() + 60_000
  t.equal(await a.add('k', 1, expiresAt), 1)
  t.equal(await b.add('k', 1, expiresAt), 2)
  t.equal(await a.get('k'), 2)

  const totals = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).add('c', 1, expiresAt)))
  t.same(totals.sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1), 'each add saw its own total')
  t.equal(await b.get('c'), 100)
})

test('a counter that is not an integer is a store failure, never a made-up total', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisQuotaStore(redis)
  await redis.set(QUOTA_KEY_PREFIX + 'bad', 'many')
  await t.rejects(store.get('bad'), { message: 'malformed quota counter in Redis' })
  await t.rejects(store.add('bad', 1, Date.now() + 60_000), { message: /not an integer/ })
  await redis.set(QUOTA_KEY_PREFIX + 'bad', '1.5')
  await t.rejects(store.get('bad'), { message: 'malformed quota counter in Redis' })
  for (const text of [' 12', '12 ', '1e3', '0x10']) {
    await redis.set(QUOTA_KEY_PREFIX + 'bad', text)
    await t.rejects(store.get('bad'), { message: 'malformed quota counter in Redis' }, JSON.stringify(text))
  }
  await redis.set(QUOTA_KEY_PREFIX + 'good', '-12')
  t.equal(await store.get('good'), -12, 'digits with a sign are a count')
})

test('Redis gone: adds and reads reject at once', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisQuotaStore(redis)
  await server.stop()
  await until(() => redis.status !== 'ready', 'connection lost')
  await t.rejects(store.add('k', 1, Date.now() + 60_000))
  await t.rejects(store.get('k'))
})

test('a prefix of its own may be given', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  await new RedisQuotaStore(redis, 'other:').add('k', 1, Date.now() + 60_000)
  t.same(await redis.keys('*'), ['other:k'])
  t.equal(QUOTA_KEY_PREFIX, 'hottask-proxy:quota:', 'the prefix other tools (and other replicas) look for')
})
