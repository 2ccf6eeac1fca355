// No outcome a caller can cause with its own input may change what other callers get.
// Failures are blamed by evidence: on the upstream, on the key (only for a chatbot the key
// was seen to work for), or on the chatbot the caller chose alone, which its own breaker
// short-circuits. Each attack of the security review is a test named after it.
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import { postSession, setup, TEST_KEY } from '../helpers/setup.ts'
import { manualClock } from '../helpers/waiting.ts'

const NEXT_KEY = 'next-key-for-attribution-0123'
// Production's defaults, not the suite's: the circuit opens after 5, one address may send 30.
const DEFAULTS = { CIRCUIT_FAILURE_THRESHOLD: '5', RATE_LIMIT_MAX: '30' }

/** POST /sessions from one client address (the attacker and the others are different callers). */
const post = (app: FastifyInstance, serialNumber: string, remoteAddress = '198.51.100.7') => app.inject({
  method: 'POST', url: '/sessions', remoteAddress, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ serialNumber })
})
const ATTACKER = '203.0.113.66'

/** Upstream requests made for one chatbot id. */
const callsFor = (upstream: { requests: Array<{ body: string }> }, serialNumber: string): number =>
  upstream.requests.filter((r) => (JSON.parse(r.body) as { serialNumber: string }).serialNumber === serialNumber).length

for (const next of [undefined, NEXT_KEY]) {
  test(`attack: 25 anonymous requests for a chatbot the upstream answers 403 cannot open the circuit for everyone (${next === undefined ? 'one key' : 'with a next key'})`, async (t) => {
    const { app, upstream, metrics } = await setup(t, { ...DEFAULTS, HOTTASK_API_KEY_NEXT: next }, { simulator: { key: [TEST_KEY, ...(next === undefined ? [] : [next])] } })
    t.equal((await postSession(app, { serialNumber: 'known-good' })).statusCode, 201, 'the key is proven')
    const served: number[] = []
    for (let i = 0; i < 25; i++) {
      const attack = await post(app, 'sim-code-403', ATTACKER)
      t.equal(attack.json().code, 'UPSTREAM_AUTH_FAILED', `attack ${i + 1}`)
      served.push((await post(app, 'known-good')).statusCode)
      served.push((await post(app, `new-bot-${i}`, `198.51.100.${i + 10}`)).statusCode)
    }
    t.same(new Set(served), new Set([201]), 'known-good and new chatbots were served every time')
    t.equal(callsFor(upstream, 'sim-code-403'), 3, 'one upstream call per attacker request until the chatbot\'s breaker opened, none after')
    t.notOk(upstream.requests.some((r) => r.headers.authorization === NEXT_KEY), 'the next key was never tried')
    t.match(await metrics.render(), /hottask_proxy_circuit_state\{state="closed"\} 1/)
  })
}

/** The key-refusal counter, which pages on-call (the series HottaskProxyUpstreamAuthFailing watches). */
const keyRefusals = async (metrics: { render: () => Promise<string> }): Promise<number> =>
  Number(/^hottask_proxy_upstream_key_refusals_total (\d+)$/m.exec(await metrics.render())?.[1])

test('attack: an anonymous request for a foreign chatbot does not count as a key refusal; a revoked proven key does', async (t) => {
  const { app, upstream, metrics } = await setup(t, DEFAULTS)
  t.equal((await postSession(app, { serialNumber: 'known-good' })).statusCode, 201, 'the key is proven')
  t.equal((await post(app, 'sim-code-403', ATTACKER)).json().code, 'UPSTREAM_AUTH_FAILED')
  t.match(await metrics.render(), /hottask_proxy_upstream_attempts_total\{outcome="UPSTREAM_AUTH_FAILED"\} 1/, 'the attempt is counted by outcome')
  t.equal(await keyRefusals(metrics), 0, 'but it is no evidence against the key')
  upstream.acceptKeys(['some-other-key-000000'])
  t.equal((await postSession(app, { serialNumber: 'known-good' })).json().code, 'UPSTREAM_AUTH_FAILED')
  t.equal(await keyRefusals(metrics), 1, 'the key that served known-good is refused for it')
})

test('attack: rotating hostile chatbot ids costs one upstream call each and never opens the circuit', async (t) => {
  const { app, upstream } = await setup(t, { ...DEFAULTS, HOTTASK_API_KEY_NEXT: NEXT_KEY }, { simulator: { key: [TEST_KEY, NEXT_KEY] } })
  t.equal((await postSession(app, { serialNumber: 'known-good' })).statusCode, 201)
  for (let i = 0; i < 14; i++) {
    t.equal((await post(app, `sim-http-403-a${i}`, ATTACKER)).json().code, 'UPSTREAM_AUTH_FAILED')
    t.equal((await post(app, 'sim-code-404', ATTACKER)).json().code, 'CHATBOT_NOT_FOUND')
  }
  t.equal((await postSession(app, { serialNumber: 'known-good' })).statusCode, 201)
  t.equal(upstream.count(), 1 + 14 + 3 + 1, 'one call per hostile id; the 404 chatbot short-circuited after three')
})

test('a chatbot\'s breaker answers with the upstream\'s refusal for its cooldown, then asks again', async (t) => {
  const clock = manualClock()
  const { app, upstream } = await setup(t, { ...DEFAULTS, CHATBOT_CIRCUIT_FAILURE_THRESHOLD: '2', CHATBOT_CIRCUIT_COOLDOWN_MS: '60000' }, { deps: { now: clock.now } })
  const first = await postSession(app, { serialNumber: 'sim-code-404' })
  await postSession(app, { serialNumber: 'sim-code-404' })
  const shortCircuited = await postSession(app, { serialNumber: 'sim-code-404' })
  t.equal(upstream.count(), 2)
  t.equal(shortCircuited.statusCode, 404)
  t.equal(shortCircuited.json().code, 'CHATBOT_NOT_FOUND')
  t.equal(shortCircuited.json().detail, first.json().detail, 'the refusal the upstream gave')
  clock.advance(59_999)
  await postSession(app, { serialNumber: 'sim-code-404' })
  t.equal(upstream.count(), 2, 'still open 1 ms before the cooldown ends')
  clock.advance(1)
  await postSession(app, { serialNumber: 'sim-code-404' })
  t.equal(upstream.count(), 3, 'then the upstream is asked again')
})

test('a key that really is revoked still opens the circuit (known-good chatbots get 401)', async (t) => {
  const { app, upstream } = await setup(t, DEFAULTS)
  t.equal((await postSession(app, { serialNumber: 'known-good' })).statusCode, 201)
  upstream.acceptKeys(['some-other-key-000000'])
  for (let i = 0; i < 5; i++) t.equal((await postSession(app, { serialNumber: 'known-good' })).json().code, 'UPSTREAM_AUTH_FAILED')
  const refused = await postSession(app, { serialNumber: 'known-good' })
  t.equal(refused.json().code, 'UPSTREAM_CIRCUIT_OPEN', 'five auth failures for a chatbot the key served: the key is at fault')
  t.equal(upstream.count(), 6)
})

test('a key that really is revoked fails over to the next key, which becomes current', async (t) => {
  const { app, upstream, logs } = await setup(t, { ...DEFAULTS, HOTTASK_API_KEY_NEXT: NEXT_KEY }, { simulator: { key: [TEST_KEY, NEXT_KEY] } })
  t.equal((await postSession(app, { serialNumber: 'known-good' })).statusCode, 201)
  upstream.acceptKeys([NEXT_KEY])
  t.equal((await postSession(app, { serialNumber: 'known-good' })).statusCode, 201, 'refused, then the next key worked')
  t.equal((await postSession(app, { serialNumber: 'another-bot' })).statusCode, 201)
  t.same(upstream.requests.slice(1).map((r) => r.headers.authorization), [TEST_KEY, NEXT_KEY, NEXT_KEY])
  t.ok(logs.entries.some((e) => e.msg === 'API key refused upstream; the next key worked and is now current'))
})

test('started with a revoked current key and a working next key: switches on the first request', async (t) => {
  const { app, upstream } = await setup(t, { ...DEFAULTS, HOTTASK_API_KEY_NEXT: NEXT_KEY }, { simulator: { key: [NEXT_KEY] } })
  t.equal((await postSession(app, { serialNumber: 'any-bot' })).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'other-bot' })).statusCode, 201)
  t.same(upstream.requests.map((r) => r.headers.authorization), [TEST_KEY, NEXT_KEY, NEXT_KEY])
})

test('a key that never worked opens only per-chatbot breakers: readiness stays up and the auth failures are counted', async (t) => {
  const { app, upstream, metrics } = await setup(t, DEFAULTS, { simulator: { key: ['the-upstream-wants-another-key'] } })
  for (let i = 0; i < 12; i++) t.equal((await postSession(app, { serialNumber: `bot-${i % 4}` })).json().code, 'UPSTREAM_AUTH_FAILED')
  t.equal(upstream.count(), 12, 'no global circuit: every chatbot asked until its own breaker opened')
  t.equal((await postSession(app, { serialNumber: 'bot-0' })).json().code, 'UPSTREAM_AUTH_FAILED')
  t.equal(upstream.count(), 12, 'bot-0 is short-circuited now')
  t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  t.match(await metrics.render(), /hottask_proxy_upstream_attempts_total\{outcome="UPSTREAM_AUTH_FAILED"\} 12/)
})

test('with ALLOWED_SERIAL_NUMBERS a key that never worked is at fault: the circuit opens', async (t) => {
  const { app } = await setup(t, { ...DEFAULTS, ALLOWED_SERIAL_NUMBERS: 'ours-1,ours-2' }, { simulator: { key: ['the-upstream-wants-another-key'] } })
  for (let i = 0; i < 5; i++) t.equal((await postSession(app, { serialNumber: `ours-${1 + (i % 2)}` })).json().code, 'UPSTREAM_AUTH_FAILED')
  t.equal((await postSession(app, { serialNumber: 'ours-1' })).json().code, 'UPSTREAM_CIRCUIT_OPEN')
})

test('400/404-class answers are neutral for the circuit: they neither open it nor hide an outage', async (t) => {
  const { app } = await setup(t, { ...DEFAULTS, CIRCUIT_FAILURE_THRESHOLD: '2' })
  for (const serialNumber of ['sim-http-500', 'sim-code-404-x1', 'sim-code-400-x2', 'sim-http-500']) await postSession(app, { serialNumber })
  t.equal((await postSession(app, { serialNumber: 'abc' })).json().code, 'UPSTREAM_CIRCUIT_OPEN', 'the 4xx answers between two 5xx did not reset the streak')
})
