// Quotas: the limit and its exact 429 (headers at a given instant), the UTC day boundary,
// refunds, the tokens quota refusing messages, exactness under concurrency (memory and
// two replicas on a real Redis), and store failures under `open` and `closed`.
import { test } from 'tap'
import type { Test } from 'tap'
import { ProblemError } from '../../../src/http/errors.ts'
import { MemoryQuotaStore } from '../../../src/quotas/memory-store.ts'
import { EXPIRY_GRACE_MS, Quotas, STORE_RETRY_AFTER_SECONDS, quotaHeaders } from '../../../src/quotas/quotas.ts'
import type { QuotaKind, QuotaLimits, QuotasOptions } from '../../../src/quotas/quotas.ts'
import { QUOTA_KEY_PREFIX, RedisQuotaStore } from '../../../src/quotas/redis-store.ts'
import type { QuotaStore } from '../../../src/quotas/store.ts'
import { connectRedis, startRedis } from '../../helpers/redis-server.ts'
import { until } from '../../helpers/waiting.ts'

const at = (iso: string): number => Date.parse(iso)

function clock (iso: string): { now: () => number, set: (iso: string) => void } {
  let time = at(iso)
  return { now: () => time, set: (next) => { time = at(next) } }
}

interface Call { op: 'add' | 'get', key: string, amount?: number, expiresAt?: number }

/** A memory store that records what it is asked, on the same clock as the Quotas. */
function recording (now: () => number): { store: MemoryQuotaStore & QuotaStore, calls: Call[] } {
  const calls: Call[] = []
  const store = new MemoryQuotaStore({ now })
  const add = store.add.bind(store)
  const get = store.get.bind(store)
  store.add = async (key, amount, expiresAt) => { calls.push({ op: 'add', key, amount, expiresAt }); return await add(key, amount, expiresAt) }
  store.get = async (key) => { calls.push({ op: 'get', key }); return await get(key) }
  return { store, calls }
}

/** A store that must never be asked anything. */
const untouchable: QuotaStore = {
  add: async () => { throw new Error('the store was touched') },
  get: async () => { throw new Error('the store was touched') }
}

function quotas (limits: QuotaLimits, store: QuotaStore, extra: Partial<QuotasOptions> = {}) {
  const seen = { failures: [] as Error[], exceeded: [] as QuotaKind[] }
  const instance = new Quotas({
    limits,
    store,
    onStoreError: 'open',
    onStoreFailure: (error) => { seen.failures.push(error) },
    onExceeded: (kind) => { seen.exceeded.push(kind) },
    ...extra
  })
  return { quotas: instance, seen }
}

async function refusal (t: Test, promise: Promise<unknown>): Promise<ProblemError> {
  const error = await promise.then(() => undefined, (error: unknown) => error)
  t.ok(error instanceof ProblemError, 'refused with a ProblemError')
  return error as ProblemError
}

test('no quota configured: undefined, and the store is never asked', async (t) => {
  const none = quotas({}, untouchable).quotas
  for (const kind of ['sessions', 'messages', 'tokens'] as const) t.equal(none.has(kind), false, kind)
  t.equal(await none.spend('sessions', 'v'), undefined)
  t.equal(await none.spend('messages', 'v'), undefined)
  t.equal(await none.addTokens('v', 100), undefined)

  const sessionsOnly = quotas({ sessions: 1 }, untouchable)
  t.equal(sessionsOnly.quotas.has('sessions'), true)
  t.equal(await sessionsOnly.quotas.spend('messages', 'v'), undefined, 'messages have no quota')
  t.equal(await sessionsOnly.quotas.addTokens('v', 100), undefined, 'nor tokens')
  const tokensOnly = quotas({ tokens: 10 }, untouchable)
  t.equal(await tokensOnly.quotas.spend('sessions', 'v'), undefined, 'a tokens quota does not touch sessions')
  t.same([...sessionsOnly.seen.failures, ...tokensOnly.seen.failures], [])
})

test('the limit reached: 429 QUOTA_EXCEEDED with exact headers, and the refused spend undone', async (t) => {
  const { now } = clock('2025-06-15T23:59:30.000Z')
  const store = new MemoryQuotaStore({ now })
  const { quotas: q, seen } = quotas({ sessions: 3 }, store, { now })
  const states = []
  for (let i = 0; i < 3; i++) states.push((await q.spend('sessions', 'visitor'))?.state)
  t.same(states.map((state) => state?.remaining), [2, 1, 0])
  t.same(states[0], { kind: 'sessions', limit: 3, remaining: 2, resetSeconds: 30 })
  t.same(quotaHeaders(states[0]!), { 'x-quota-limit': '3', 'x-quota-remaining': '2', 'x-quota-reset': '30' }, 'the headers of a success')

  const error = await refusal(t, q.spend('sessions', 'visitor'))
  t.equal(error.code, 'QUOTA_EXCEEDED')
  t.equal(error.status, 429)
  t.same(error.headers, { 'retry-after': '30', 'x-quota-limit': '3', 'x-quota-remaining': '0', 'x-quota-reset': '30' })
  t.match(error.detail, /3 sessions/)
  t.same(seen.exceeded, ['sessions'])
  await refusal(t, q.spend('sessions', 'visitor'))
  t.equal(await store.get('sessions:2025-06-15:visitor'), 3, 'refusals leave the counter at the limit')
  t.ok(await q.spend('sessions', 'another visitor'), 'another identity has its own quota')
})

test('counters are keyed <kind>:<UTC day>:<identity> and expire after the day', async (t) => {
  const { now } = clock('2024-02-29T10:00:00.000Z')
  const { store, calls } = recording(now)
  const { quotas: q } = quotas({ sessions: 5, messages: 5, tokens: 100 }, store, { now })
  await q.spend('sessions', 'id-1')
  await q.spend('messages', 'id-1')
  await q.addTokens('id-1', 7)
  const expiresAt = at('2024-03-01T00:00:00.000Z') + EXPIRY_GRACE_MS
  t.same(calls, [
    { op: 'add', key: 'sessions:2024-02-29:id-1', amount: 1, expiresAt },
    { op: 'get', key: 'tokens:2024-02-29:id-1' },
    { op: 'add', key: 'messages:2024-02-29:id-1', amount: 1, expiresAt },
    { op: 'add', key: 'tokens:2024-02-29:id-1', amount: 7, expiresAt }
  ])
  t.ok(EXPIRY_GRACE_MS > 0 && EXPIRY_GRACE_MS <= 3_600_000, 'a short grace past midnight')
})

test('the UTC day boundary starts a new count', async (t) => {
  const { now, set } = clock('2025-06-15T23:59:59.999Z')
  const { quotas: q } = quotas({ messages: 2 }, new MemoryQuotaStore({ now }), { now })
  await q.spend('messages', 'v')
  await q.spend('messages', 'v')
  const error = await refusal(t, q.spend('messages', 'v'))
  t.equal(error.headers?.['retry-after'], '1', 'at least 1 second')
  set('2025-06-16T00:00:00.000Z')
  t.same((await q.spend('messages', 'v'))?.state, { kind: 'messages', limit: 2, remaining: 1, resetSeconds: 86_400 }, 'a fresh day')
})

test('a refund gives the place back, once, on the day it was spent', async (t) => {
  const { now, set } = clock('2025-06-15T12:00:00.000Z')
  const store = new MemoryQuotaStore({ now })
  const { quotas: q } = quotas({ sessions: 2 }, store, { now })
  const first = await q.spend('sessions', 'v')
  await q.spend('sessions', 'v')
  await refusal(t, q.spend('sessions', 'v'))
  await first?.refund()
  t.equal(await store.get('sessions:2025-06-15:v'), 1)
  await first?.refund()
  t.equal(await store.get('sessions:2025-06-15:v'), 1, 'a second refund does nothing')
  t.ok(await q.spend('sessions', 'v'), 'the place is free again')
  await refusal(t, q.spend('sessions', 'v'))

  // Spent before midnight, refunded after: yesterday's counter, not today's.
  set('2025-06-15T23:59:59.000Z')
  const late = await q.spend('sessions', 'w')
  set('2025-06-16T00:00:01.000Z')
  const today = await q.spend('sessions', 'w')
  await late?.refund()
  t.equal(await store.get('sessions:2025-06-15:w'), 0)
  t.equal(await store.get('sessions:2025-06-16:w'), 1, 'today\'s spend stands')
  t.equal(today?.state.remaining, 1)
})

test('a spent tokens quota refuses messages without spending one', async (t) => {
  const { now, set } = clock('2025-06-15T23:00:00.000Z')
  const store = new MemoryQuotaStore({ now })
  const { quotas: q, seen } = quotas({ sessions: 5, messages: 10, tokens: 100 }, store, { now })
  t.same(await q.addTokens('v', 60), { kind: 'tokens', limit: 100, remaining: 40, resetSeconds: 3600 })
  t.same((await q.spend('messages', 'v'))?.state, { kind: 'messages', limit: 10, remaining: 9, resetSeconds: 3600 }, 'tokens left: the message goes')
  t.same(await q.addTokens('v', 50), { kind: 'tokens', limit: 100, remaining: 0, resetSeconds: 3600 }, 'a whole answer may go past the limit')

  const error = await refusal(t, q.spend('messages', 'v'))
  t.equal(error.code, 'QUOTA_EXCEEDED')
  t.same(error.headers, { 'retry-after': '3600', 'x-quota-limit': '100', 'x-quota-remaining': '0', 'x-quota-reset': '3600' }, 'the tokens state')
  t.same(seen.exceeded, ['tokens'])
  t.equal(await store.get('messages:2025-06-15:v'), 1, 'no message spent')
  t.ok(await q.spend('sessions', 'v'), 'sessions are not counted in tokens')

  set('2025-06-16T00:00:00.000Z')
  t.ok(await q.spend('messages', 'v'), 'a new day, new tokens')
})

test('with only a tokens quota, a message gets the tokens state and a refund that does nothing', async (t) => {
  const { now } = clock('2025-06-15T12:00:00.000Z')
  const { store, calls } = recording(now)
  const { quotas: q } = quotas({ tokens: 10 }, store, { now })
  const spent = await q.spend('messages', 'v')
  t.same(spent?.state, { kind: 'tokens', limit: 10, remaining: 10, resetSeconds: 43_200 })
  await spent?.refund()
  t.same(calls, [{ op: 'get', key: 'tokens:2025-06-15:v' }])
  await q.addTokens('v', 10)
  await refusal(t, q.spend('messages', 'v'))
})

test('a malformed token count counts as none', async (t) => {
  const { now } = clock('2025-06-15T12:00:00.000Z')
  const { quotas: q } = quotas({ tokens: 10 }, new MemoryQuotaStore({ now }), { now })
  for (const tokens of [-5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.equal((await q.addTokens('v', tokens))?.remaining, 10, String(tokens))
  }
  t.equal((await q.addTokens('v', 3))?.remaining, 7)
})

test('100 concurrent spends against a limit of 10 let exactly 10 through (memory)', async (t) => {
  const { now } = clock('2025-06-15T12:00:00.000Z')
  const store = new MemoryQuotaStore({ now })
  const { quotas: q } = quotas({ messages: 10 }, store, { now })
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => q.spend('messages', 'v')))
  t.equal(results.filter((result) => result.status === 'fulfilled').length, 10)
  t.ok(results.every((result) => result.status === 'fulfilled' || (result.reason as ProblemError).code === 'QUOTA_EXCEEDED'))
  t.equal(await store.get('messages:2025-06-15:v'), 10)
})

test('100 concurrent spends on two replicas sharing Redis let exactly 10 through', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const a = quotas({ sessions: 10 }, new RedisQuotaStore(redis)).quotas
  const b = quotas({ sessions: 10 }, new RedisQuotaStore(await connectRedis(t, server.url))).quotas
  const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).spend('sessions', 'v')))
  t.equal(results.filter((result) => result.status === 'fulfilled').length, 10)
  t.ok(results.every((result) => result.status === 'fulfilled' || (result.reason as ProblemError).code === 'QUOTA_EXCEEDED'))
  const [key] = await redis.keys(`${QUOTA_KEY_PREFIX}sessions:*:v`)
  t.equal(await redis.get(key ?? 'missing'), '10', 'refusals undone')
  t.ok(await redis.pttl(key ?? 'missing') > 0, 'the day\'s counter expires')
})

const failing: QuotaStore = {
  add: async () => { throw new Error('store down') },
  get: async () => { throw new Error('store down') }
}

test('a failing store under open: served without a quota, the failure reported', async (t) => {
  const { quotas: q, seen } = quotas({ sessions: 1, messages: 1, tokens: 1 }, failing, { onStoreError: 'open' })
  t.equal(await q.spend('sessions', 'v'), undefined)
  t.equal(await q.spend('messages', 'v'), undefined)
  t.equal(await q.addTokens('v', 5), undefined)
  t.same(seen.failures.map((error) => error.message), ['store down', 'store down', 'store down'])
  t.same(seen.exceeded, [])
})

test('a failing store under closed: 503 RATE_LIMIT_UNAVAILABLE with retry-after 5; tokens never throw', async (t) => {
  const { quotas: q, seen } = quotas({ sessions: 1, messages: 1, tokens: 1 }, failing, { onStoreError: 'closed' })
  for (const kind of ['sessions', 'messages'] as const) {
    const error = await refusal(t, q.spend(kind, 'v'))
    t.equal(error.code, 'RATE_LIMIT_UNAVAILABLE', kind)
    t.equal(error.status, 503)
    t.same(error.headers, { 'retry-after': '5' })
  }
  t.equal(STORE_RETRY_AFTER_SECONDS, 5)
  t.equal(await q.addTokens('v', 5), undefined, 'an answer already given is not refused')
  t.equal(seen.failures.length, 3)

  const other = quotas({ sessions: 1 }, failing, { onStoreError: 'closed', storeRetryAfterSeconds: 9 }).quotas
  t.same((await refusal(t, other.spend('sessions', 'v'))).headers, { 'retry-after': '9' })
})

test('failures in an undo or a refund are reported, never thrown', async (t) => {
  const { now } = clock('2025-06-15T12:00:00.000Z')
  const memory = new MemoryQuotaStore({ now })
  let refunds = true
  const store: QuotaStore = {
    add: async (key, amount, expiresAt) => {
      if (amount < 0 && refunds) throw 'no refunds' // eslint-disable-line no-throw-literal -- a rejection that is not an Error
      return await memory.add(key, amount, expiresAt)
    },
    get: async (key) => await memory.get(key)
  }
  const { quotas: q, seen } = quotas({ sessions: 1 }, store, { now, onStoreError: 'closed' })
  const spent = await q.spend('sessions', 'v')
  t.equal((await refusal(t, q.spend('sessions', 'v'))).code, 'QUOTA_EXCEEDED', 'still refused when the undo fails')
  await spent?.refund()
  t.equal(seen.failures.length, 2)
  t.ok(seen.failures.every((error) => error instanceof Error && error.message === 'no refunds'), 'wrapped as Errors')
  refunds = false
  await spent?.refund()
  t.equal(await memory.get('sessions:2025-06-15:v'), 2, 'a failed refund is not retried by a second call')
})

test('Redis stopped: open serves and reports, closed refuses with 503', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const open = quotas({ sessions: 5 }, new RedisQuotaStore(redis), { onStoreError: 'open' })
  const closed = quotas({ sessions: 5 }, new RedisQuotaStore(redis), { onStoreError: 'closed' })
  t.ok(await open.quotas.spend('sessions', 'v'), 'counted while Redis is up')
  await server.stop()
  await until(() => redis.status !== 'ready', 'connection lost')
  const started = Date.now()
  t.equal(await open.quotas.spend('sessions', 'v'), undefined)
  t.equal(open.seen.failures.length, 1)
  t.equal((await refusal(t, closed.quotas.spend('sessions', 'v'))).code, 'RATE_LIMIT_UNAVAILABLE')
  t.equal(closed.seen.failures.length, 1)
  t.equal(await closed.quotas.addTokens('v', 5), undefined)
  t.ok(Date.now() - started < 1500, 'no waiting for Redis')
})

test('limits must be positive integers', async (t) => {
  for (const limit of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => quotas({ messages: limit }, untouchable), RangeError, String(limit))
  }
})
