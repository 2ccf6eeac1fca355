// The in-memory quota store: atomic adds, counters expiring by its clock without a timer,
// and a cap on counters (least recently used evicted first) against a flood of identities.
import { test } from 'tap'
import { DEFAULT_MAX_COUNTERS, MemoryQuotaStore } from '../../../src/quotas/memory-store.ts'

function clock (): { now: () => number, advance: (ms: number) => void } {
  let time = 1_000_000
  return { now: () => time, advance: (ms) => { time += ms } }
}

test('add returns the new total, refunds included; get reads it; keys are apart', async (t) => {
  const { now } = clock()
  const store = new MemoryQuotaStore({ now })
  const expiresAt = now() + 60_000
  t.equal(await store.get('a'), 0, 'a missing counter is 0')
  t.equal(await store.add('a', 1, expiresAt), 1)
  t.equal(await store.add('a', 1, expiresAt), 2)
  t.equal(await store.add('a', 40, expiresAt), 42)
  t.equal(await store.add('a', -1, expiresAt), 41, 'a negative amount refunds')
  t.equal(await store.add('b', 1, expiresAt), 1)
  t.equal(await store.get('a'), 41)
  t.equal(await store.get('b'), 1)
  t.equal(store.size, 2)
})

test('a counter disappears at its expiry, by the injected clock', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryQuotaStore({ now })
  await store.add('a', 5, now() + 100)
  advance(99)
  t.equal(await store.get('a'), 5, 'still there 1 ms before')
  t.equal(await store.add('a', 1, now() + 1), 6, 'and still counted')
  advance(1)
  t.equal(await store.get('a'), 0, 'gone at its expiry')
  t.equal(store.size, 0, 'and dropped when read')
  t.equal(await store.add('a', 1, now() + 100), 1, 'an expired counter starts again from 0')
})

test('an expiry already past tells the total and keeps nothing, as Redis does', async (t) => {
  const { now } = clock()
  const store = new MemoryQuotaStore({ now })
  await store.add('a', 3, now() + 100)
  t.equal(await store.add('a', -1, now()), 2)
  t.equal(await store.get('a'), 0)
  t.equal(store.size, 0)
})

test('expired counters are swept on add, so they do not hold space', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryQuotaStore({ now })
  for (let i = 0; i < 50; i++) await store.add(`old-${i}`, 1, now() + 10)
  advance(10)
  await store.add('new', 1, now() + 10)
  t.equal(store.size, 1)
})

test('at most maxCounters; the least recently used goes first', async (t) => {
  const { now } = clock()
  const store = new MemoryQuotaStore({ maxCounters: 3, now })
  const expiresAt = now() + 60_000
  for (const key of ['a', 'b', 'c']) await store.add(key, 1, expiresAt)
  await store.add('a', 1, expiresAt) // a is now the most recently used
  await store.add('d', 1, expiresAt)
  t.equal(store.size, 3)
  t.equal(await store.get('b'), 0, 'b, least recently used, evicted')
  t.same([await store.get('a'), await store.get('c'), await store.get('d')], [2, 1, 1], 'the others kept')
  for (let i = 0; i < 1000; i++) await store.add(`flood-${i}`, 1, expiresAt)
  t.equal(store.size, 3, 'never grows beyond maxCounters')
})

test('the default cap is 100000 counters', async (t) => {
  t.equal(DEFAULT_MAX_COUNTERS, 100_000)
  const store = new MemoryQuotaStore()
  const expiresAt = Date.now() + 60_000
  for (let i = 0; i <= DEFAULT_MAX_COUNTERS; i++) await store.add(`visitor-${i}`, 1, expiresAt)
  t.equal(store.size, DEFAULT_MAX_COUNTERS)
  t.equal(await store.get('visitor-0'), 0, 'the oldest went')
  t.equal(await store.get(`visitor-${DEFAULT_MAX_COUNTERS}`), 1)
})

test('concurrent adds each see their own total', async (t) => {
  const { now } = clock()
  const store = new MemoryQuotaStore({ now })
  const totals = await Promise.all(Array.from({ length: 100 }, () => store.add('a', 1, now() + 1000)))
  t.same(totals.sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1))
})

test('maxCounters must be a positive integer', async (t) => {
  for (const maxCounters of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => new MemoryQuotaStore({ maxCounters }), RangeError, String(maxCounters))
  }
})

test('at its exact expiry a counter counts from 0 on add too, and an add expiring now keeps nothing at all', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryQuotaStore({ now })
  await store.add('a', 5, now() + 100)
  advance(100)
  t.equal(await store.add('a', 1, now() + 100), 1, 'the expired total is not carried over')
  t.equal(await store.add('b', 2, now()), 2)
  t.equal(store.size, 1, 'b was never kept: only a is')
})

test('one counter is a valid cap, and a wrong cap says why', async (t) => {
  const { now } = clock()
  const store = new MemoryQuotaStore({ now, maxCounters: 1 })
  t.equal(await store.add('a', 1, now() + 100), 1)
  t.equal(await store.add('b', 1, now() + 100), 1)
  t.equal(store.size, 1)
  t.throws(() => new MemoryQuotaStore({ maxCounters: 0 }), { message: 'maxCounters must be a positive integer' })
})
