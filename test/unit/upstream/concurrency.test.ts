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
