import { test } from 'tap'
import { admitter } from '../../../src/upstream/admission.ts'
import { ConcurrencyLimiter } from '../../../src/upstream/concurrency.ts'
import type { CircuitBreaker } from '../../../src/upstream/circuit-breaker.ts'
import { Cancel } from '../../../src/lib/cancel.ts'
import { ClientGoneError, DeadlineExceeded } from '../../../src/lib/abort-reasons.ts'
import type { OverloadReason } from '../../../src/telemetry/events.ts'

function setup (max: number, queueMax: number) {
  const limiter = new ConcurrencyLimiter(max, queueMax)
  const recorded: Array<[string, boolean]> = []
  const circuit = { record: (verdict: string, probe: boolean) => { recorded.push([verdict, probe]) } } as unknown as CircuitBreaker
  const overloads: OverloadReason[] = []
  const admit = admitter(limiter, circuit, (reason) => overloads.push(reason))
  return { limiter, recorded, overloads, admit }
}

test('a free slot is taken at once, as the release function itself', async (t) => {
  const { admit, limiter, recorded, overloads } = setup(1, 1)
  const slot = admit(new Cancel(), false)
  t.type(slot, 'function')
  t.equal(limiter.active, 1)
  ;(slot as () => void)()
  t.equal(limiter.active, 0)
  t.same(recorded, [])
  t.same(overloads, [])
})

test('a full queue: 503 OVERLOADED with Retry-After, counted as queue_full, the attempt abandoned', async (t) => {
  const { admit, recorded, overloads } = setup(1, 0)
  admit(new Cancel(), false)
  t.throws(() => admit(new Cancel(), true), { name: 'ProblemError', code: 'OVERLOADED', status: 503, headers: { 'retry-after': '1' } })
  t.same(overloads, ['queue_full'])
  t.same(recorded, [['abandoned', true]])
})

test('a deadline that passes in the queue: 503 OVERLOADED, counted as queue_timeout', async (t) => {
  const { admit, recorded, overloads } = setup(1, 1)
  admit(new Cancel(), false)
  const signal = new Cancel()
  const waiting = admit(signal, false) as Promise<() => void>
  signal.abort(new DeadlineExceeded())
  await t.rejects(waiting, { name: 'ProblemError', code: 'OVERLOADED', status: 503 })
  t.same(overloads, ['queue_timeout'])
  t.same(recorded, [['abandoned', false]])
})

test('a client that leaves the queue: ClientGoneError, and no overload counted', async (t) => {
  const { admit, recorded, overloads } = setup(1, 1)
  admit(new Cancel(), false)
  const signal = new Cancel()
  const waiting = admit(signal, true) as Promise<() => void>
  signal.abort(new ClientGoneError())
  await t.rejects(waiting, ClientGoneError)
  t.same(overloads, [])
  t.same(recorded, [['abandoned', true]])
})

test('a queued request is served when a slot frees, and then holds it', async (t) => {
  const { admit, limiter } = setup(1, 1)
  const first = admit(new Cancel(), false) as () => void
  const waiting = admit(new Cancel(), false) as Promise<() => void>
  t.equal(limiter.queued, 1)
  first()
  const release = await waiting
  t.equal(limiter.active, 1)
  t.equal(limiter.queued, 0)
  release()
  t.equal(limiter.active, 0)
})
