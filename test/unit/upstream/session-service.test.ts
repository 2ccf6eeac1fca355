// The session service with a scripted client: admission, deadlines and key failover,
// where timing must be exact rather than produced by a real upstream.
import pino from 'pino'
import { test } from 'tap'
import { KeyRing } from '../../../src/keys/key-ring.ts'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import { CircuitBreaker } from '../../../src/upstream/circuit-breaker.ts'
import type { UpstreamClient } from '../../../src/upstream/client.ts'
import { ConcurrencyLimiter } from '../../../src/upstream/concurrency.ts'
import { RetryBudget } from '../../../src/upstream/retry-budget.ts'
import { createSessionService } from '../../../src/upstream/session-service.ts'
import type { SessionServiceOptions } from '../../../src/upstream/session-service.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'

const log = pino({ level: 'silent' })

function service (client: UpstreamClient, overrides: Partial<SessionServiceOptions> = {}) {
  const overloads: string[] = []
  const options: SessionServiceOptions = {
    client,
    keys: new KeyRing('key-a-000000000000', 'key-b-000000000000', new SecretScrubber()),
    circuit: new CircuitBreaker({ threshold: 100, cooldownMs: 1000 }),
    limiter: new ConcurrencyLimiter(10, 10),
    budget: new RetryBudget({ percent: 20, minPerWindow: 3 }),
    timeoutMs: 200,
    retries: 2,
    retryBaseMs: 10,
    observer: { attempt () {}, retry () {}, overloaded: (reason) => { overloads.push(reason) } },
    ...overrides
  }
  return { sessions: createSessionService(options), options, overloads }
}

const request = (signal = new AbortController().signal) => ({ serialNumber: 'abc', requestId: 'r', clientSignal: signal, log })

test('a request still queued at its deadline gets OVERLOADED', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5)
  const hold = await limiter.acquire(new AbortController().signal)
  const { sessions, overloads } = service({ attempt: async () => '1', close: async () => {} }, { limiter })
  const started = Date.now()
  await t.rejects(sessions.createSession(request()), { code: 'OVERLOADED' })
  t.ok(Date.now() - started >= 190, 'waited until the deadline')
  t.same(overloads, ['queue_timeout'])
  t.equal(limiter.queued, 0)
  hold()
})

test('a client leaving while queued leaves the queue', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5)
  const hold = await limiter.acquire(new AbortController().signal)
  const { sessions } = service({ attempt: async () => '1', close: async () => {} }, { limiter })
  const client = new AbortController()
  const pending = sessions.createSession(request(client.signal))
  client.abort()
  await t.rejects(pending, { code: 'CLIENT_GONE' })
  t.equal(limiter.queued, 0)
  hold()
})

test('an auth failure is retried once with the next key, which then becomes current', async (t) => {
  const used: string[] = []
  const client: UpstreamClient = {
    attempt: async ({ key }) => {
      used.push(key)
      if (key === 'key-a-000000000000') throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401 })
      return '42'
    },
    close: async () => {}
  }
  const { sessions, options } = service(client, { budget: new RetryBudget({ percent: 0, minPerWindow: 0 }) })
  t.same(await sessions.createSession(request()), { sessionId: '42', attempts: 2 }, 'failover needs no retry budget')
  t.equal(options.keys.current, 'key-b-000000000000')
  t.equal(options.keys.next, undefined)
  t.ok(options.keys.isRefused('key-a-000000000000'))
  await sessions.createSession(request())
  t.same(used, ['key-a-000000000000', 'key-b-000000000000', 'key-b-000000000000'])
})

test('both keys refused: UPSTREAM_AUTH_FAILED after one failover, no more', async (t) => {
  let calls = 0
  const client: UpstreamClient = {
    attempt: async () => { calls++; throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 403 }) },
    close: async () => {}
  }
  const { sessions, options } = service(client)
  await t.rejects(sessions.createSession(request()), { code: 'UPSTREAM_AUTH_FAILED' })
  t.equal(calls, 2)
  t.equal(options.keys.current, 'key-a-000000000000', 'nothing was promoted')
})

test('the circuit opening between attempts ends the retries with the last answer', async (t) => {
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 10000 })
  const client: UpstreamClient = {
    attempt: async () => { throw new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true, cause: 'ECONNREFUSED' }) },
    close: async () => {}
  }
  const { sessions } = service(client, { circuit })
  await t.rejects(sessions.createSession(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(circuit.state, 'open')
})
