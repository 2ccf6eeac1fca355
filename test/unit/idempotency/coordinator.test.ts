// The coordinator's semantics over the in-memory store: replay without a call, the 422
// for a key reused for another chatbot, one call shared by concurrent duplicates, what
// is (not) kept, scopes, clients leaving, another replica's call (two coordinators on
// one store), and a failing store that never fails a request.
import { test } from 'tap'
import { ProblemError } from '../../../src/http/errors.ts'
import { Idempotency, REPLAYED_HEADER } from '../../../src/idempotency/coordinator.ts'
import type { IdempotencyOptions } from '../../../src/idempotency/coordinator.ts'
import { MemoryStore } from '../../../src/idempotency/memory-store.ts'
import type { IdempotencyStore } from '../../../src/idempotency/types.ts'
import type { CancelListener, CancelSignal } from '../../../src/lib/cancel.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'
import { instantCalls, manualCalls, request, settle } from '../../helpers/idempotency-calls.ts'

function coordinator (options: Partial<IdempotencyOptions> = {}) {
  const seen = { replays: 0, storeErrors: [] as unknown[] }
  const store = options.store ?? new MemoryStore({ maxKeys: 100 })
  const idempotency = new Idempotency({
    store,
    ttlMs: 60_000,
    pendingTtlMs: 5_000,
    pollIntervalMs: 10,
    onReplay: () => { seen.replays++ },
    onStoreError: (error) => { seen.storeErrors.push(error) },
    ...options
  })
  return { idempotency, store, seen }
}

/** A store that is `memory`, but for the methods given. */
function over (memory: MemoryStore, overrides: Partial<IdempotencyStore>): IdempotencyStore {
  return {
    begin: (id, fingerprint, ttlMs) => memory.begin(id, fingerprint, ttlMs),
    get: (id) => memory.get(id),
    complete: (id, fingerprint, answer, ttlMs) => memory.complete(id, fingerprint, answer, ttlMs),
    abandon: (id) => memory.abandon(id),
    ...overrides
  }
}

async function caught (promise: Promise<unknown>): Promise<ProblemError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof ProblemError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

test('the same key and chatbot replays the first answer without calling again', async (t) => {
  const { idempotency, seen } = coordinator()
  const calls = instantCalls('123456789012345678901')
  t.same(await idempotency.run(request(calls.call)), { body: '123456789012345678901', replayed: false })
  t.same(await idempotency.run(request(calls.call)), { body: '123456789012345678901', replayed: true })
  t.equal(calls.count(), 1)
  t.equal(seen.replays, 1)
  t.same(await idempotency.run(request(calls.call, { key: 'key-2' })), { body: '123456789012345678901', replayed: false }, 'another key calls')
  t.equal(calls.count(), 2)
})

test('a 4xx-class answer is kept and replayed as a fresh error marked replayed', async (t) => {
  const { idempotency, seen } = coordinator()
  const original = new UpstreamError('CHATBOT_NOT_FOUND', { httpStatus: 200 }, 'Chatbot not found.')
  let count = 0
  const call = async (): Promise<string> => { count++; throw original }
  t.equal(await caught(idempotency.run(request(call))), original, 'the first request gets the original error')
  const replay = await caught(idempotency.run(request(call)))
  t.not(replay, original)
  t.match(replay, { code: 'CHATBOT_NOT_FOUND', status: 404, detail: 'Chatbot not found.' })
  t.same(replay.headers, { [REPLAYED_HEADER]: 'true' })
  t.equal(count, 1)
  t.equal(seen.replays, 1)
})

test('5xx-class and unexpected failures are not kept: the client may retry', async (t) => {
  const { idempotency, store } = coordinator()
  const failures: unknown[] = [
    new UpstreamError('UPSTREAM_RATE_LIMITED', { retryAfter: 7 }),
    new UpstreamError('UPSTREAM_TIMEOUT'),
    new ProblemError('INTERNAL_ERROR'),
    new TypeError('a bug')
  ]
  for (const failure of failures) {
    let count = 0
    const call = async (): Promise<string> => { count++; throw failure }
    const key = `k-${String(failure)}`
    await t.rejects(idempotency.run(request(call, { key })), failure as Error)
    await t.rejects(idempotency.run(request(call, { key })), failure as Error, 'called again, its own error')
    t.equal(count, 2, `${String(failure)} not kept`)
    t.equal(await store.get(`token%3Aweb:${key}`), undefined, 'no marker left')
  }
})

test('the key reused for another chatbot is 422, also while the first still runs', async (t) => {
  const { idempotency } = coordinator()
  const calls = manualCalls()
  const first = idempotency.run(request(calls.call))
  await calls.nth(0)
  const whileRunning = await caught(idempotency.run(request(calls.call, { fingerprint: 'other' })))
  t.equal(whileRunning.code, 'IDEMPOTENCY_KEY_REUSED')
  t.equal(whileRunning.status, 422)
  t.equal(whileRunning.headers, undefined, 'not a replay')
  calls.list[0]?.resolve('1')
  t.same(await first, { body: '1', replayed: false }, 'the first is unaffected')
  t.equal((await caught(idempotency.run(request(calls.call, { fingerprint: 'other' })))).code, 'IDEMPOTENCY_KEY_REUSED')
  t.equal(calls.list.length, 1)
})

test('concurrent duplicates share the one call in flight and get its answer marked replayed', async (t) => {
  const { idempotency, seen } = coordinator()
  const calls = manualCalls()
  const runs = [1, 2, 3].map(() => idempotency.run(request(calls.call)))
  ;(await calls.nth(0)).resolve('99')
  t.same(await Promise.all(runs), [
    { body: '99', replayed: false },
    { body: '99', replayed: true },
    { body: '99', replayed: true }
  ])
  t.equal(calls.list.length, 1)
  t.equal(seen.replays, 2)
})

test('waiters get a 5xx answer too, marked replayed; it is not kept for later', async (t) => {
  const { idempotency } = coordinator()
  const calls = manualCalls()
  const leader = idempotency.run(request(calls.call))
  const waiter = idempotency.run(request(calls.call))
  const failure = new UpstreamError('UPSTREAM_RATE_LIMITED', { retryAfter: 9 })
  ;(await calls.nth(0)).reject(failure)
  t.equal(await caught(leader), failure)
  const shared = await caught(waiter)
  t.equal(shared.code, 'UPSTREAM_RATE_LIMITED')
  t.same(shared.headers, { 'retry-after': '9', [REPLAYED_HEADER]: 'true' })
  const retry = idempotency.run(request(calls.call))
  ;(await calls.nth(1)).resolve('5')
  t.same(await retry, { body: '5', replayed: false }, 'a later request calls again')
})

test('an unexpected error reaches every participant as it is', async (t) => {
  const { idempotency } = coordinator()
  const calls = manualCalls()
  const runs = [idempotency.run(request(calls.call)), idempotency.run(request(calls.call))]
  const bug = new TypeError('bug')
  ;(await calls.nth(0)).reject(bug)
  for (const run of runs) await t.rejects(run, bug)
})

test('scopes are isolated: two clients with the same key never share', async (t) => {
  const { idempotency } = coordinator()
  const calls = instantCalls()
  t.same(await idempotency.run(request(calls.call, { scope: 'token:web' })), { body: '42', replayed: false })
  t.same(await idempotency.run(request(calls.call, { scope: 'ip:10.0.0.1' })), { body: '42', replayed: false })
  t.same(await idempotency.run(request(calls.call, { scope: 'ip:10.0.0.2', fingerprint: 'other' })), { body: '42', replayed: false }, 'no 422 across scopes')
  t.equal(calls.count(), 3)
})

test('the leader leaving does not abort the call its waiters share', async (t) => {
  const { idempotency } = coordinator()
  const calls = manualCalls()
  const leaderClient = new AbortController()
  const leader = idempotency.run(request(calls.call, { clientSignal: leaderClient.signal }))
  const waiter = idempotency.run(request(calls.call))
  const shared = await calls.nth(0)
  leaderClient.abort()
  await settle()
  t.notOk(shared.signal.aborted)
  shared.resolve('7')
  t.same(await waiter, { body: '7', replayed: true })
  t.same(await leader, { body: '7', replayed: false })
})

test('the call is aborted once every participant has left, and nothing is kept', async (t) => {
  const { idempotency, store } = coordinator()
  const calls = manualCalls()
  const clients = [new AbortController(), new AbortController()]
  const runs = clients.map((client) => idempotency.run(request(calls.call, { clientSignal: client.signal })))
  const shared = await calls.nth(0)
  shared.signal.addEventListener('abort', () => shared.reject(shared.signal.reason))
  const gone = new Error('client gone')
  clients[1]?.abort()
  await settle()
  t.notOk(shared.signal.aborted, 'one is still there')
  clients[0]?.abort(gone)
  t.ok(shared.signal.aborted)
  t.equal(shared.signal.reason, gone, 'the last client\'s reason')
  for (const run of runs) await t.rejects(run, gone)
  t.equal(await store.get('token%3Aweb:key-1'), undefined)
})

test('a request whose client has already left calls with an aborted signal', async (t) => {
  const { idempotency } = coordinator()
  const client = new AbortController()
  client.abort()
  let signal: CancelSignal | undefined
  const call = async (given: CancelSignal): Promise<string> => { signal = given; throw given.reason }
  await t.rejects(idempotency.run(request(call, { clientSignal: client.signal })))
  t.equal(signal?.aborted, true)
})

test('a duplicate arriving while an abandoned call winds down starts afresh', async (t) => {
  const { idempotency } = coordinator()
  const calls = manualCalls()
  const client = new AbortController()
  const abandoned = idempotency.run(request(calls.call, { clientSignal: client.signal }))
  const first = await calls.nth(0)
  client.abort()
  const retry = idempotency.run(request(calls.call))
  await settle()
  t.equal(calls.list.length, 1, 'waits for the abandoned call to settle')
  first.reject(first.signal.reason)
  await t.rejects(abandoned)
  ;(await calls.nth(1)).resolve('8')
  t.same(await retry, { body: '8', replayed: false })
})

test('another replica\'s call: waited for, then replayed; a 422 while it runs', async (t) => {
  const store = new MemoryStore({ maxKeys: 100 })
  const a = coordinator({ store })
  const b = coordinator({ store })
  const calls = manualCalls()
  const onA = a.idempotency.run(request(calls.call))
  await calls.nth(0)
  const onB = b.idempotency.run(request(calls.call))
  t.equal((await caught(b.idempotency.run(request(calls.call, { fingerprint: 'other' })))).code, 'IDEMPOTENCY_KEY_REUSED')
  await new Promise((resolve) => setTimeout(resolve, 50))
  calls.list[0]?.resolve('11')
  t.same(await onA, { body: '11', replayed: false })
  t.same(await onB, { body: '11', replayed: true })
  t.equal(calls.list.length, 1)
  t.equal(b.seen.replays, 1)
})

test('another replica\'s call that keeps nothing: the waiter calls itself', async (t) => {
  const store = new MemoryStore({ maxKeys: 100 })
  const a = coordinator({ store })
  const b = coordinator({ store })
  const calls = manualCalls()
  const onA = a.idempotency.run(request(calls.call))
  const first = await calls.nth(0)
  const onB = b.idempotency.run(request(calls.call))
  await new Promise((resolve) => setTimeout(resolve, 30))
  first.reject(new UpstreamError('UPSTREAM_UNAVAILABLE'))
  await t.rejects(onA, { code: 'UPSTREAM_UNAVAILABLE' })
  ;(await calls.nth(1)).resolve('12')
  t.same(await onB, { body: '12', replayed: false })
})

test('waiting on another replica ends at the waiter\'s deadline with a 504, not at the next poll', async (t) => {
  const store = new MemoryStore({ maxKeys: 100 })
  // A poll interval far beyond the deadline: the last wait is only what is left of it.
  const { idempotency } = coordinator({ store, pollIntervalMs: 60_000 })
  await store.begin('token%3Aweb:key-1', 'abc', 60_000) // a replica that died mid-call
  const calls = instantCalls()
  const started = Date.now()
  const error = await caught(idempotency.run(request(calls.call, { deadlineAt: Date.now() + 100 })))
  t.match(error, { code: 'UPSTREAM_TIMEOUT', status: 504, detail: 'The first request with this Idempotency-Key did not finish in time; retry later.' })
  t.ok(Date.now() - started < 1000)
  t.equal(calls.count(), 0)
})

test('a failing store never fails a request: served without the key, error reported', async (t) => {
  const broken = new Error('store down')
  const store: IdempotencyStore = {
    begin: async () => { throw broken },
    get: async () => { throw new Error('never asked') },
    complete: async () => { throw new Error('nothing claimed, nothing to complete') },
    abandon: async () => { throw new Error('nothing claimed, nothing to abandon') }
  }
  const { idempotency, seen } = coordinator({ store })
  const calls = instantCalls()
  t.same(await idempotency.run(request(calls.call)), { body: '42', replayed: false })
  t.same(await idempotency.run(request(calls.call)), { body: '42', replayed: false })
  t.equal(calls.count(), 2)
  t.same(seen.storeErrors, [broken, broken])
})

test('a store that fails after the claim: the answer is still given, the error reported', async (t) => {
  const memory = new MemoryStore({ maxKeys: 10 })
  const broken = new Error('lost')
  const store = over(memory, {
    get: async () => { throw broken },
    complete: async () => { throw broken },
    abandon: async () => { throw broken }
  })
  const { idempotency, seen } = coordinator({ store })
  t.same(await idempotency.run(request(instantCalls().call)), { body: '42', replayed: false })
  t.same(seen.storeErrors, [broken])
  // The marker stays pending; a waiter whose polling fails is served directly.
  const b = coordinator({ store })
  t.same(await b.idempotency.run(request(instantCalls('43').call)), { body: '43', replayed: false })
  t.same(b.seen.storeErrors, [broken])
})

/** A client signal that counts the listeners it holds. */
function countedSignal () {
  const controller = new AbortController()
  const held = new Set<CancelListener>()
  const signal: CancelSignal = {
    get aborted () { return controller.signal.aborted },
    get reason () { return controller.signal.reason as unknown },
    addEventListener: (type, listener) => { held.add(listener); controller.signal.addEventListener(type, listener) },
    removeEventListener: (type, listener) => { held.delete(listener); controller.signal.removeEventListener(type, listener) }
  }
  return { signal, held: () => held.size }
}

test('a settled call leaves no listener on the signals of the clients it served', async (t) => {
  const { idempotency } = coordinator()
  const calls = manualCalls()
  const leader = countedSignal()
  const waiter = countedSignal()
  const runs = [idempotency.run(request(calls.call, { clientSignal: leader.signal })), idempotency.run(request(calls.call, { clientSignal: waiter.signal }))]
  ;(await calls.nth(0)).resolve('3')
  t.equal(leader.held() + waiter.held(), 2, 'both listened while it ran')
  await Promise.all(runs)
  t.same([leader.held(), waiter.held()], [0, 0])
})

test('clients that leave while another replica runs the call get their reason, and nothing calls', async (t) => {
  const store = new MemoryStore({ maxKeys: 100 })
  const { idempotency, seen } = coordinator({ store })
  await store.begin('token%3Aweb:key-1', 'abc', 60_000)
  const calls = instantCalls()
  const client = new AbortController()
  const waiting = idempotency.run(request(calls.call, { clientSignal: client.signal }))
  await settle()
  const gone = new Error('client gone')
  client.abort(gone)
  await t.rejects(waiting, gone)
  t.equal(calls.count(), 0)
  t.same(seen.storeErrors, [], 'leaving is no store failure')
})

test('a deadline reached exactly is reached: no more polling', async (t) => {
  const memory = new MemoryStore({ maxKeys: 100 })
  let polls = 0
  const store = over(memory, { get: async (id) => { polls++; return await memory.get(id) } })
  await memory.begin('token%3Aweb:key-1', 'abc', 60_000)
  const { idempotency } = coordinator({ store, now: () => 1_000 })
  t.equal((await caught(idempotency.run(request(instantCalls().call, { deadlineAt: 1_000 })))).code, 'UPSTREAM_TIMEOUT')
  t.equal(polls, 0)
})

test('a waiter on another replica claims again only once the marker has changed', async (t) => {
  const memory = new MemoryStore({ maxKeys: 100 })
  let claims = 0
  const store = over(memory, { begin: async (id, fingerprint, ttlMs) => { claims++; return await memory.begin(id, fingerprint, ttlMs) } })
  const a = coordinator({ store: memory })
  const b = coordinator({ store })
  const calls = manualCalls()
  const onA = a.idempotency.run(request(calls.call))
  const first = await calls.nth(0)
  const onB = b.idempotency.run(request(calls.call))
  await new Promise((resolve) => setTimeout(resolve, 60)) // several polls of 10 ms
  first.resolve('21')
  await onA
  t.same(await onB, { body: '21', replayed: true })
  t.equal(claims, 2, 'the first claim, and one after the answer was stored')
})

/** A call whose only client has left while it runs. */
async function abandonedCall () {
  const { idempotency } = coordinator()
  const calls = manualCalls()
  const client = new AbortController()
  const abandoned = idempotency.run(request(calls.call, { clientSignal: client.signal }))
  const first = await calls.nth(0)
  client.abort(new Error('gone'))
  return { idempotency, calls, abandoned, first }
}

test('a session created after every client left is kept: a retry replays it', async (t) => {
  const { idempotency, calls, abandoned, first } = await abandonedCall()
  first.resolve('31')
  await abandoned
  t.same(await idempotency.run(request(calls.call)), { body: '31', replayed: true })
  t.equal(calls.list.length, 1)
})

test('a 4xx-class answer of a call every client abandoned is not kept: it says nothing about the request', async (t) => {
  const { idempotency, calls, abandoned, first } = await abandonedCall()
  first.reject(new UpstreamError('CHATBOT_NOT_FOUND', { httpStatus: 200 }))
  await t.rejects(abandoned, { code: 'CHATBOT_NOT_FOUND' })
  const retry = idempotency.run(request(calls.call))
  ;(await calls.nth(1)).resolve('32')
  t.same(await retry, { body: '32', replayed: false })
})

test('a request may give its own pending lifetime: a long call keeps its marker as long as it may run', async (t) => {
  const memory = new MemoryStore({ maxKeys: 100 })
  const ttls: number[] = []
  const store = over(memory, { begin: async (id, fingerprint, ttlMs) => { ttls.push(ttlMs); return await memory.begin(id, fingerprint, ttlMs) } })
  const { idempotency } = coordinator({ store })
  await idempotency.run(request(instantCalls().call))
  await idempotency.run(request(instantCalls().call, { key: 'key-2', pendingTtlMs: 65_000 }))
  t.same(ttls, [5_000, 65_000])
})
