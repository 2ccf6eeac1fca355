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

test('served waiters are dropped as the queue drains, so memory stays bounded', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5000)
  const never = new AbortController().signal
  let release = limiter.acquire(never) as () => void
  const order: number[] = []
  const waiters = Array.from({ length: 3000 }, (_, i) => Promise.resolve(limiter.acquire(never)).then((next) => { order.push(i); return next }))
  t.equal(limiter.retained, 3000)
  for (let i = 0; i < 2500; i++) {
    release()
    release = await waiters[i]!
  }
  t.same(order, Array.from({ length: 2500 }, (_, i) => i), 'served in arrival order throughout')
  t.equal(limiter.queued, 500)
  t.ok(limiter.retained < 2000, `${limiter.retained} waiters retained for 500 queued`)
  for (let i = 2500; i < 3000; i++) {
    release()
    release = await waiters[i]!
  }
  release()
  t.equal(limiter.active, 0)
})
