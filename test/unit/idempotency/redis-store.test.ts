// Idempotency through a real redis-server: the stored shape and TTLs, two replicas
// (two coordinators, two connections) sharing one Redis, and Redis going away in the
// middle — requests are still served and the failure is reported.
import type { Redis } from 'ioredis'
import { test } from 'tap'
import { Idempotency } from '../../../src/idempotency/coordinator.ts'
import { REDIS_KEY_PREFIX, RedisStore } from '../../../src/idempotency/redis-store.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'
import { connectRedis, startRedis } from '../../helpers/redis-server.ts'
import { until } from '../../helpers/waiting.ts'
import { instantCalls, manualCalls, request } from '../../helpers/idempotency-calls.ts'

const KEY = `${REDIS_KEY_PREFIX}token%3Aweb:key-1`

function replica (redis: Redis) {
  const seen = { replays: 0, storeErrors: [] as unknown[] }
  const idempotency = new Idempotency({
    store: new RedisStore(redis),
    ttlMs: 60_000,
    pendingTtlMs: 5_000,
    onReplay: () => { seen.replays++ },
    onStoreError: (error) => { seen.storeErrors.push(error) }
  })
  return { idempotency, seen }
}

test('the store keeps JSON under its namespace, with the pending and answer TTLs', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisStore(redis)
  t.equal(await store.begin('s:k', 'abc', 5000), undefined)
  t.same(JSON.parse(await redis.get(`${REDIS_KEY_PREFIX}s:k`) ?? ''), { state: 'pending', fingerprint: 'abc' })
  t.ok(await redis.pttl(`${REDIS_KEY_PREFIX}s:k`) > 4000)
  t.same(await store.begin('s:k', 'other', 5000), { state: 'pending', fingerprint: 'abc' }, 'a claimed key is not overwritten')

  const answer = { status: 404, problem: { code: 'CHATBOT_NOT_FOUND' as const, detail: 'Chatbot not found.' } }
  await store.complete('s:k', 'abc', answer, 60_000)
  t.same(await store.get('s:k'), { state: 'done', fingerprint: 'abc', answer })
  t.ok(await redis.pttl(`${REDIS_KEY_PREFIX}s:k`) > 55_000)
  await store.abandon('s:k')
  t.equal(await redis.exists(`${REDIS_KEY_PREFIX}s:k`), 0)

  t.equal(await store.get('missing'), undefined)

  const withHeaders = { status: 400, problem: { code: 'UPSTREAM_REJECTED' as const, detail: 'No.', headers: { 'x-a': 'b' } } }
  await store.complete('h', 'abc', withHeaders, 1000)
  t.same(await store.get('h'), { state: 'done', fingerprint: 'abc', answer: withHeaders })

  // Written by something else, or by a version that knew other codes: a store failure, never a crash.
  const done = (answer: unknown): string => JSON.stringify({ state: 'done', fingerprint: 'a', answer })
  const malformed = [
    'not json',
    '[]',
    '{"state":"pending"}',
    '{"state":"other","fingerprint":"a"}',
    done(null),
    done({ status: '201', body: '1' }),
    done({ status: 201, body: 12 }),
    done({ status: 201, body: '1', problem: { code: 'UPSTREAM_REJECTED', detail: '' } }),
    done({ status: 201 }),
    done({ status: 418, problem: { code: 'NO_SUCH_CODE', detail: '?' } }),
    done({ status: 400, problem: { code: 'UPSTREAM_REJECTED' } }),
    done({ status: 400, problem: { code: 'UPSTREAM_REJECTED', detail: 'x', headers: { a: 1 } } }),
    done({ status: 400, problem: { code: 'UPSTREAM_REJECTED', detail: 'x', headers: 'a' } })
  ]
  for (const bad of malformed) {
    await redis.set(`${REDIS_KEY_PREFIX}bad`, bad)
    // Not JSON is JSON.parse's own error; JSON of the wrong shape is named as such.
    await t.rejects(store.get('bad'), bad === 'not json' ? SyntaxError : { message: 'malformed idempotency entry in Redis' }, bad)
  }
})

test('two replicas on one Redis: one call, the other waits and replays; 422 across replicas', async (t) => {
  const server = await startRedis(t)
  const a = replica(await connectRedis(t, server.url))
  const b = replica(await connectRedis(t, server.url))
  const calls = manualCalls()
  const onA = a.idempotency.run(request(calls.call))
  const shared = await calls.nth(0)
  const onB = b.idempotency.run(request(calls.call))
  await t.rejects(b.idempotency.run(request(calls.call, { fingerprint: 'other' })), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'also while running')
  await new Promise((resolve) => setTimeout(resolve, 120)) // b polls meanwhile
  shared.resolve('123456789012345678901')
  t.same(await onA, { body: '123456789012345678901', replayed: false })
  t.same(await onB, { body: '123456789012345678901', replayed: true })
  t.same(await b.idempotency.run(request(calls.call)), { body: '123456789012345678901', replayed: true }, 'stored for later')
  t.equal(calls.list.length, 1)
  t.equal(b.seen.replays, 2)
  t.same([...a.seen.storeErrors, ...b.seen.storeErrors], [])
})

test('a 5xx on one replica is not kept: the other replica calls itself', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const a = replica(redis)
  const b = replica(await connectRedis(t, server.url))
  let count = 0
  const failing = async (): Promise<string> => { count++; throw new UpstreamError('UPSTREAM_ERROR', { httpStatus: 500 }) }
  await t.rejects(a.idempotency.run(request(failing)), { code: 'UPSTREAM_ERROR' })
  t.equal(await redis.exists(KEY), 0, 'marker dropped')
  t.same(await b.idempotency.run(request(instantCalls('9').call)), { body: '9', replayed: false })
  t.equal(count, 1)
})

test('Redis stopped mid-test: requests are still served and the store error reported', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const { idempotency, seen } = replica(redis)
  const calls = instantCalls('5')
  t.same(await idempotency.run(request(calls.call)), { body: '5', replayed: false })

  // Redis goes away while a call is in flight: its answer is still given.
  const inFlight = manualCalls()
  const running = idempotency.run(request(inFlight.call, { key: 'in-flight' }))
  const call = await inFlight.nth(0)
  await server.stop()
  await until(() => redis.status !== 'ready', 'connection lost')
  call.resolve('6')
  t.same(await running, { body: '6', replayed: false })
  t.equal(seen.storeErrors.length, 1, 'the answer could not be kept')

  const started = Date.now()
  t.same(await idempotency.run(request(calls.call)), { body: '5', replayed: false }, 'served as without a key')
  t.same(await idempotency.run(request(calls.call, { key: 'key-2' })), { body: '5', replayed: false })
  t.ok(Date.now() - started < 1500, 'no waiting for Redis')
  t.equal(calls.count(), 3)
  t.equal(seen.storeErrors.length, 3)
  t.ok(seen.storeErrors.every((error) => error instanceof Error))

  await server.restart()
  await until(() => redis.status === 'ready', 'reconnected')
  t.same(await idempotency.run(request(calls.call)), { body: '5', replayed: false }, 'the restarted Redis is empty')
  t.same(await idempotency.run(request(calls.call)), { body: '5', replayed: true }, 'and keeps answers again')
  t.equal(seen.storeErrors.length, 3)
})

test('entries live under the service\'s own key prefix', async (t) => {
  t.equal(REDIS_KEY_PREFIX, 'hottask-proxy:idempotency:', 'the prefix other tools (and older replicas) look for')
})
