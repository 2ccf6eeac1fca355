// The in-memory store: bounded by maxKeys (least recently used evicted first) and
// expiring entries by its clock, without a timer per entry.
import { test } from 'tap'
import { MemoryStore } from '../../../src/idempotency/memory-store.ts'

const ANSWER = { status: 201, body: '7' }

function clock (): { now: () => number, advance: (ms: number) => void } {
  let time = 1_000_000
  return { now: () => time, advance: (ms) => { time += ms } }
}

test('begin claims a free id and returns what is there otherwise', async (t) => {
  const store = new MemoryStore({ maxKeys: 10 })
  t.equal(await store.begin('s:k', 'abc', 1000), undefined)
  t.same(await store.begin('s:k', 'other', 1000), { state: 'pending', fingerprint: 'abc' })
  await store.complete('s:k', 'abc', ANSWER, 1000)
  t.same(await store.get('s:k'), { state: 'done', fingerprint: 'abc', answer: ANSWER })
  t.same(await store.begin('s:k', 'abc', 1000), { state: 'done', fingerprint: 'abc', answer: ANSWER })
  await store.abandon('s:k')
  t.equal(await store.get('s:k'), undefined)
  t.equal(await store.begin('s:k', 'abc', 1000), undefined, 'claimable again')
})

test('at most maxKeys entries; the least recently used goes first', async (t) => {
  const store = new MemoryStore({ maxKeys: 3 })
  for (const id of ['a', 'b', 'c']) await store.complete(id, 'x', ANSWER, 60_000)
  await store.get('a') // a is now the most recently used
  await store.complete('d', 'x', ANSWER, 60_000)
  t.equal(store.size, 3)
  t.equal(await store.get('b'), undefined, 'b, least recently used, evicted')
  for (const id of ['a', 'c', 'd']) t.ok(await store.get(id), `${id} kept`)
  for (let i = 0; i < 1000; i++) await store.begin(`many-${i}`, 'x', 60_000)
  t.equal(store.size, 3, 'never grows beyond maxKeys')
})

test('entries expire by the clock: pending after its own ttl, answers after theirs', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryStore({ maxKeys: 10, now })
  await store.begin('p', 'x', 100)
  await store.complete('d', 'x', ANSWER, 1000)
  advance(99)
  t.ok(await store.get('p'))
  advance(1)
  t.equal(await store.get('p'), undefined, 'pending marker expired')
  t.equal(await store.begin('p', 'y', 100), undefined, 'an expired marker no longer blocks a claim')
  advance(899)
  t.ok(await store.get('d'))
  advance(1)
  t.equal(await store.get('d'), undefined, 'answer expired')
})

test('expired entries are swept on insert, so they do not hold space', async (t) => {
  const { now, advance } = clock()
  const store = new MemoryStore({ maxKeys: 100, now })
  for (let i = 0; i < 50; i++) await store.complete(`old-${i}`, 'x', ANSWER, 10)
  advance(10)
  await store.complete('new', 'x', ANSWER, 10)
  t.equal(store.size, 1)
})

test('maxKeys must be a positive integer', async (t) => {
  t.throws(() => new MemoryStore({ maxKeys: 0 }), new RangeError('maxKeys must be a positive integer'))
  t.throws(() => new MemoryStore({ maxKeys: 1.5 }), RangeError)
  const one = new MemoryStore({ maxKeys: 1 })
  await one.begin('a', 'bot', 1000)
  t.ok(await one.get('a'), 'one key is a valid limit')
})

test('writing an entry again makes it the most recently used', async (t) => {
  const store = new MemoryStore({ maxKeys: 2 })
  await store.begin('a', 'bot', 60_000)
  await store.begin('b', 'bot', 60_000)
  await store.complete('a', 'bot', ANSWER, 60_000)
  await store.begin('c', 'bot', 60_000)
  t.ok(await store.get('a'), 'a was written last but one, so it stays')
  t.equal(await store.get('b'), undefined, 'b was the least recently used')
})
