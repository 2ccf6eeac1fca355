import { test } from 'tap'
import type { ProblemError } from '../../../src/http/errors.ts'
import { CircuitBreaker, verdictOf } from '../../../src/upstream/circuit-breaker.ts'
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

test('circuit verdicts', async (t) => {
  for (const code of ['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR', 'UPSTREAM_BAD_RESPONSE', 'UPSTREAM_AUTH_FAILED'] as const) {
    t.equal(verdictOf(code), 'failure', code)
  }
  for (const code of ['success', 'UPSTREAM_REJECTED', 'CHATBOT_NOT_FOUND', 'UPSTREAM_RATE_LIMITED'] as const) {
    t.equal(verdictOf(code), 'healthy', code)
  }
  t.equal(verdictOf('client_gone'), 'abandoned')
})
