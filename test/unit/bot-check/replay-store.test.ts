// The replay memories: in memory (bounded, expiring by its clock, failing when full of
// live entries rather than forgetting one) and in a real Redis (one atomic SET NX PXAT
// under the service's namespace, shared by every connection).
import { test } from 'tap'
import { DEFAULT_MAX_REPLAY_ENTRIES, MemoryReplayStore, REPLAY_KEY_PREFIX, RedisReplayStore } from '../../../src/bot-check/replay-store.ts'
import { connectRedis, startRedis } from '../../helpers/redis-server.ts'
import { until } from '../../helpers/waiting.ts'

function clock (): { now: () => number, advance: (ms: number) => void } {
  let time = 1_000_000
  return { now: () => time, advance: (ms) => { time += ms } }
}

test('memory: true the first time an id is seen, false until it expires, true after', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryReplayStore({ now })
  t.equal(await store.remember('a', now() + 1000), true)
  t.equal(await store.remember('a', now() + 1000), false)
  t.equal(await store.remember('b', now() + 1000), true, 'ids are independent')
  advance(999)
  t.equal(await store.remember('a', now() + 1000), false, 'still remembered just before expiry')
  advance(1)
  t.equal(await store.remember('a', now() + 1000), true, 'forgotten at expiry')
  t.equal(await store.remember('a', now() + 1000), false, 'and remembered again')
  t.equal(await store.remember('past', now()), true, 'already expired: nothing to guard')
  t.equal(store.size, 2, 'and nothing kept for it')
})

test('memory is bounded: when full of live entries it fails, and expired ones make room', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryReplayStore({ maxEntries: 3, now })
  for (const id of ['a', 'b', 'c']) t.equal(await store.remember(id, now() + 10_000), true)
  await t.rejects(store.remember('d', now() + 10_000), { code: 'REPLAY_MEMORY_FULL' }, 'never forgets a live entry to make room')
  t.equal(await store.remember('a', now() + 10_000), false, 'the live entries are still refused')
  t.equal(store.size, 3)

  advance(10_000)
  t.equal(await store.remember('e', now() + 10_000), true, 'expired entries are dropped when room is needed')
  t.equal(store.size, 1, 'all of them')
  // A challenge issued earlier but solved later expires before the entries already kept.
  t.equal(await store.remember('f', now() + 1_000), true)
  t.equal(await store.remember('g', now() + 10_000), true)
  await t.rejects(store.remember('h', now() + 10_000), { code: 'REPLAY_MEMORY_FULL' })
  advance(1_000)
  t.equal(await store.remember('h', now() + 10_000), true, 'the earliest expiry is tracked: f made room as soon as it expired')
  t.equal(await store.remember('e', now() + 10_000), false)
})

test('memory: by default it holds 100 000 live entries, and refuses the next', async (t) => {
  const { now } = clock()
  const store = new MemoryReplayStore({ now })
  for (let i = 0; i < DEFAULT_MAX_REPLAY_ENTRIES; i++) await store.remember(`id-${i}`, now() + 1000)
  t.equal(store.size, 100_000)
  await t.rejects(store.remember('one more', now() + 1000), { code: 'REPLAY_MEMORY_FULL' })
})

test('memory full: the error says so, and a sweep remembers the earliest expiry, not the last seen', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryReplayStore({ maxEntries: 2, now })
  t.equal(await store.remember('early', now() + 10), true)
  t.equal(await store.remember('late', now() + 100), true)
  const full = await store.remember('next', now() + 100).catch((error: unknown) => error)
  t.match(full, { name: 'ReplayMemoryFull', code: 'REPLAY_MEMORY_FULL', message: 'the replay memory is full of unexpired solutions' })
  advance(10)
  t.equal(await store.remember('next', now() + 100), true, 'room as soon as the earliest entry expired, though a later one was seen last')
})

test('memory: an id seen again after its entry expired drops that entry, even when the new one is already expired', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryReplayStore({ now })
  t.equal(await store.remember('a', now() + 10), true)
  advance(10)
  t.equal(await store.remember('a', now()), true)
  t.equal(store.size, 0, 'the expired entry is not kept')
})

test('Redis: one SET NX PXAT under the namespace, shared by every connection, atomic', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisReplayStore(redis)
  const expiresAtMs = Date.now() + 60_000
  t.equal(await store.remember('sig-1', expiresAtMs), true)
  t.equal(await store.remember('sig-1', expiresAtMs), false)
  t.equal(await redis.get(`${REPLAY_KEY_PREFIX}sig-1`), '1')
  t.equal(await redis.pexpiretime(`${REPLAY_KEY_PREFIX}sig-1`), expiresAtMs, 'expires when the challenge does')

  const other = new RedisReplayStore(await connectRedis(t, server.url))
  t.equal(await other.remember('sig-1', expiresAtMs), false, 'another replica sees it')
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).remember('sig-2', expiresAtMs)))
  t.equal(answers.filter(Boolean).length, 1, 'twenty at once, one wins')

  t.equal(await store.remember('sig-3', Date.now() + 50), true)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(await store.remember('sig-3', Date.now() + 50), true, 'forgotten after expiry')
  t.equal(REPLAY_KEY_PREFIX, 'hottask-proxy:altcha:')
})

test('Redis gone: remember rejects at once', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const store = new RedisReplayStore(redis)
  await server.stop()
  await until(() => redis.status !== 'ready', 'connection lost')
  const started = Date.now()
  await t.rejects(store.remember('sig', Date.now() + 60_000))
  t.ok(Date.now() - started < 1000)
})
