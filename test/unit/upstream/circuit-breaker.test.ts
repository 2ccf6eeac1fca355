import { test } from 'tap'
import type { ProblemError } from '../../../src/http/errors.ts'
import { blameOf, CircuitBreaker, verdictOf } from '../../../src/upstream/circuit-breaker.ts'
import type { CircuitState } from '../../../src/telemetry/events.ts'

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

test('the effective state: open within the cooldown, half_open after it, without moving the breaker', async (t) => {
  let now = 0
  const changes: CircuitState[] = []
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 1000, now: () => now, onChange: (s) => changes.push(s) })
  t.equal(circuit.effectiveState(), 'closed')
  circuit.record('failure', circuit.admit())
  t.equal(circuit.effectiveState(), 'open')
  now += 999
  t.equal(circuit.effectiveState(), 'open', '1 ms before the cooldown ends')
  now += 1
  t.equal(circuit.effectiveState(), 'half_open', 'the next request would be the probe')
  t.equal(circuit.state, 'open', 'reading it moved nothing')
  t.same(changes, ['open'], 'and told no one')
  const probe = circuit.admit()
  t.equal(probe, true, 'the request that comes is the probe, as before')
  circuit.record('failure', probe)
  t.equal(circuit.effectiveState(), 'open', 'a failed probe re-opens for a new cooldown')
  now += 1000
  circuit.record('healthy', circuit.admit())
  t.equal(circuit.effectiveState(), 'closed')
})

test('blame: the upstream for transport failures and 5xx classes; the key or only the chatbot for auth failures; the chatbot for 4xx; nothing for rate limiting', async (t) => {
  for (const code of ['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR', 'UPSTREAM_BAD_RESPONSE'] as const) {
    t.equal(blameOf(code, false), 'upstream', code)
    t.equal(blameOf(code, true), 'upstream', code)
  }
  t.equal(blameOf('UPSTREAM_AUTH_FAILED', true), 'key', 'the key is known to work for this chatbot')
  t.equal(blameOf('UPSTREAM_AUTH_FAILED', false), 'chatbot', 'a chatbot the key was never seen to work for')
  for (const code of ['UPSTREAM_REJECTED', 'CHATBOT_NOT_FOUND'] as const) {
    t.equal(blameOf(code, true), 'chatbot', code)
    t.equal(blameOf(code, false), 'chatbot', code)
  }
  t.equal(blameOf('UPSTREAM_RATE_LIMITED', false), 'alive')
})

test('verdicts: upstream and key faults count; a chatbot\'s own failure is neutral, except that any answer to a probe shows the upstream alive', async (t) => {
  t.equal(verdictOf('upstream', false), 'failure')
  t.equal(verdictOf('upstream', true), 'failure')
  t.equal(verdictOf('key', false), 'failure')
  t.equal(verdictOf('chatbot', false), 'neutral')
  t.equal(verdictOf('chatbot', true), 'healthy')
  t.equal(verdictOf('alive', false), 'healthy')
})

test('a neutral verdict neither counts nor resets the streak, and frees the probe', async (t) => {
  let now = 0
  const circuit = new CircuitBreaker({ threshold: 2, cooldownMs: 1000, now: () => now })
  circuit.record('failure', circuit.admit())
  circuit.record('neutral', circuit.admit())
  t.equal(circuit.state, 'closed')
  circuit.record('failure', circuit.admit())
  t.equal(circuit.state, 'open', 'the neutral answer did not reset the streak')
  now += 1000
  const probe = circuit.admit()
  circuit.record('neutral', probe)
  t.equal(circuit.state, 'half_open', 'decides nothing')
  t.equal(circuit.admit(), true, 'the probe slot is free again')
})

test('an open circuit\'s Retry-After is the cooldown left, in whole seconds rounded up, and at least 1', async (t) => {
  let now = 0
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 30_000, now: () => now })
  circuit.record('failure', circuit.admit())
  const retryAfter = (): string | undefined => (t.throws(() => circuit.admit()) as ProblemError).headers?.['retry-after']
  t.equal(retryAfter(), '30', 'just opened')
  now = 10_500
  t.equal(retryAfter(), '20', '19.5 s left')
  now = 29_999
  t.equal(retryAfter(), '1', '1 ms left')
  now = 30_000
  const probe = circuit.admit()
  t.equal(retryAfter(), '1', 'half-open, its probe in flight: try again in a second')
  circuit.record('abandoned', probe)
})

test('attempts admitted before the circuit opened: their late verdicts', async (t) => {
  let now = 0
  const changes: CircuitState[] = []
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 1000, now: () => now, onChange: (state) => changes.push(state) })
  const early = [circuit.admit(), circuit.admit(), circuit.admit(), circuit.admit()]
  t.same(early, [false, false, false, false], 'admitted while closed: no probes')
  circuit.record('failure', circuit.admit())
  t.equal(circuit.state, 'open')

  now = 500
  circuit.record('healthy', early[0]!)
  t.equal(circuit.state, 'open', 'a late success does not close an open circuit: only a probe may')
  circuit.record('failure', early[1]!)
  now = 1000
  t.equal(circuit.effectiveState(), 'half_open', 'a late failure does not restart the cooldown')

  const probe = circuit.admit()
  circuit.record('abandoned', early[2]!)
  t.throws(() => circuit.admit(), { code: 'UPSTREAM_CIRCUIT_OPEN' }, 'a late attempt that ends does not free the probe\'s place')
  circuit.record('failure', early[2]!)
  t.equal(circuit.state, 'half_open', 'nor does a late failure re-open it: the probe decides')
  circuit.record('healthy', early[3]!)
  t.equal(circuit.state, 'closed', 'a late success while half-open shows the upstream alive')
  circuit.record('healthy', probe)
  t.same(changes, ['open', 'half_open', 'closed'], 'the probe\'s success after that changes nothing, and tells no one')
})

test('a wall clock stepped back does not shut a half-open circuit, nor lengthen its Retry-After', async (t) => {
  let now = 10_000
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 1000, now: () => now })
  circuit.record('failure', circuit.admit())
  now = 11_000
  circuit.record('abandoned', circuit.admit())
  now = 10_500
  t.equal(circuit.admit(), true, 'the next request is the probe')
  now = 5_000
  const refused = t.throws(() => circuit.admit()) as ProblemError
  t.equal(refused.headers?.['retry-after'], '1', 'others wait a second for the probe, not for a cooldown counted from the past')
})
