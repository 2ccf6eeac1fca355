import { test } from 'tap'
import type { ProblemError } from '../../../src/http/errors.ts'
import { ConcurrencyLimiter } from '../../../src/upstream/concurrency.ts'

test('concurrency: slots, a bounded queue, waiters leaving on abort', async (t) => {
  const limiter = new ConcurrencyLimiter(2, 2)
  const never = new AbortController().signal
  const a = await limiter.acquire(never)
  await limiter.acquire(never)
  t.equal(limiter.active, 2)
  const leaving = new AbortController()
  const order: string[] = []
  const first = Promise.resolve(limiter.acquire(never)).then((release) => { order.push('first'); return release })
  const gone = Promise.resolve(limiter.acquire(leaving.signal)).catch((error: unknown) => { order.push('gone'); return error })
  t.equal(limiter.queued, 2)
  const full = t.throws(() => limiter.acquire(never)) as ProblemError
  t.equal(full.code, 'OVERLOADED')
  t.equal(full.headers?.['retry-after'], '1')
  leaving.abort(new Error('client left'))
  t.match(await gone, { message: 'client left' })
  t.equal(limiter.queued, 1)
  a()
  const releaseFirst = await first
  t.same(order, ['gone', 'first'])
  t.equal(limiter.active, 2)
  releaseFirst()
  t.equal(limiter.active, 1)
})

test('waiters leave from the front, the middle or the back, and the rest are served in arrival order', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 10)
  const never = new AbortController().signal
  let release = limiter.acquire(never) as () => void
  const leaving = Array.from({ length: 6 }, () => new AbortController())
  const served: number[] = []
  const left: number[] = []
  const waiters = leaving.map((controller, i) => Promise.resolve(limiter.acquire(controller.signal))
    .then((next) => { served.push(i); return next }, () => { left.push(i); return undefined }))
  for (const i of [0, 3, 5]) leaving[i]!.abort(new Error('left'))
  await Promise.all([waiters[0], waiters[3], waiters[5]])
  t.same(left, [0, 3, 5])
  t.equal(limiter.queued, 3)
  for (const i of [1, 2, 4]) {
    release()
    release = (await waiters[i])!
  }
  t.same(served, [1, 2, 4])
  t.equal(limiter.queued, 0)
  const late = Promise.resolve(limiter.acquire(never))
  t.equal(limiter.queued, 1, 'a waiter after the queue emptied is queued again')
  release()
  release = await late
  release()
  t.equal(limiter.active, 0)
  t.same([...left, ...served].sort(), [0, 1, 2, 3, 4, 5])
})

test('a served waiter no longer listens to its signal', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 1)
  const release = limiter.acquire(new AbortController().signal) as () => void
  const controller = new AbortController()
  const waiting = Promise.resolve(limiter.acquire(controller.signal))
  release()
  const next = await waiting
  controller.abort(new Error('too late'))
  t.equal(limiter.queued, 0, 'an abort after being served changes no count')
  t.equal(limiter.active, 1)
  next()
  t.equal(limiter.active, 0)
})
