import { test } from 'tap'
import { ProblemError } from '../../src/errors.ts'
import { CircuitBreaker, verdictOf } from '../../src/upstream/circuit-breaker.ts'
import type { CircuitState } from '../../src/upstream/circuit-breaker.ts'
import { ConcurrencyLimiter } from '../../src/upstream/concurrency.ts'
import { RetryBudget } from '../../src/upstream/retry-budget.ts'

test('retry budget: a percentage of requests over the window, with a floor', async (t) => {
  let now = 0
  const budget = new RetryBudget({ percent: 20, minPerWindow: 3, now: () => now })
  for (let i = 0; i < 3; i++) t.ok(budget.tryRetry(), `floor retry ${i + 1}`)
  t.notOk(budget.tryRetry(), 'floor spent')
  for (let i = 0; i < 50; i++) budget.recordRequest()
  for (let i = 0; i < 7; i++) t.ok(budget.tryRetry(), `20% of 50 = 10 in all (${i + 4})`)
  t.notOk(budget.tryRetry())
  now += 10_001
  t.ok(budget.tryRetry(), 'a new window')
  now += 5_000
  t.ok(budget.tryRetry())
})

test('circuit: opens after consecutive failures, one probe when half-open', async (t) => {
  let now = 0
  const changes: Array<[CircuitState, CircuitState]> = []
  const circuit = new CircuitBreaker({ threshold: 3, cooldownMs: 1000, now: () => now, onChange: (s, p) => changes.push([s, p]) })
  for (let i = 0; i < 2; i++) circuit.record('failure', circuit.admit())
  circuit.record('healthy', circuit.admit())
  for (let i = 0; i < 2; i++) circuit.record('failure', circuit.admit())
  t.equal(circuit.state, 'closed', 'a healthy attempt resets the streak')
  circuit.record('failure', circuit.admit())
  t.equal(circuit.state, 'open')
  const refused = t.throws(() => circuit.admit()) as ProblemError
  t.equal(refused.code, 'UPSTREAM_CIRCUIT_OPEN')
  t.equal(refused.headers?.['retry-after'], '1')
  now += 1000
  const probe = circuit.admit()
  t.equal(probe, true)
  t.equal(circuit.state, 'half_open')
  t.throws(() => circuit.admit(), 'only one probe')
  circuit.record('failure', probe)
  t.equal(circuit.state, 'open', 'a failed probe re-opens')
  now += 1000
  const second = circuit.admit()
  circuit.record('abandoned', second)
  t.equal(circuit.state, 'half_open', 'an abandoned probe decides nothing')
  circuit.record('healthy', circuit.admit())
  t.equal(circuit.state, 'closed')
  t.same(changes.map(([s]) => s), ['open', 'half_open', 'open', 'half_open', 'closed'])
})

test('circuit verdicts', async (t) => {
  for (const code of ['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR', 'UPSTREAM_BAD_RESPONSE', 'UPSTREAM_AUTH_FAILED'] as const) {
    t.equal(verdictOf(code), 'failure', code)
  }
  for (const code of ['success', 'UPSTREAM_REJECTED', 'CHATBOT_NOT_FOUND', 'UPSTREAM_RATE_LIMITED'] as const) {
    t.equal(verdictOf(code), 'healthy', code)
  }
  t.equal(verdictOf('client_gone'), 'abandoned')
})

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
