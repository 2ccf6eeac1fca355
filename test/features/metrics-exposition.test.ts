// The exposition after real traffic: the promised series, bounded labels, and nothing
// secret or caller-chosen in them; and the public port serves none of it.
import { test } from 'tap'
import { fingerprint } from '../../src/lib/secrets.ts'
import { postSession, setup, TEST_KEY } from '../helpers/setup.ts'

test('the exposition after traffic', async (t) => {
  const token = 'metrics-client-token-0123456789'
  const { app, metrics } = await setup(t, { CLIENT_TOKENS: `svc:${token}`, CORS_ORIGINS: 'https://shop.example', RATE_LIMIT_MAX: '3' })
  await postSession(app, { serialNumber: 'secret-chatbot-id-1' }, { authorization: `Bearer ${token}` })
  await postSession(app, { serialNumber: 'sim-code-404' })
  await postSession(app, { serialNumber: 'abc' }, { 'idempotency-key': 'm1-5f0c2a9e7d41b836' })
  await postSession(app, { serialNumber: 'abc' }, { 'idempotency-key': 'm1-5f0c2a9e7d41b836' })
  await postSession(app, { serialNumber: 'abc' }, { origin: 'https://evil.example' })
  await postSession(app, { serialNumber: 'abc' })
  await app.inject({ url: '/no/such/path/42' })
  const publicPort = await app.inject({ url: '/metrics' })
  t.equal(publicPort.statusCode, 404, 'attack: the public port serves no metrics (key fingerprint, versions, traffic)')
  t.equal(publicPort.json().code, 'NOT_FOUND')
  const body = await metrics.render()
  for (const series of [
    /hottask_proxy_http_requests_total\{route="\/sessions",method="POST",status_code="201"\} 3/,
    /hottask_proxy_http_request_duration_seconds_bucket\{le="0.1",route="\/sessions"/,
    /hottask_proxy_http_requests_total\{route="not_found",method="GET",status_code="404"\} 2/,
    /hottask_proxy_upstream_attempts_total\{outcome="success"\} 2/,
    /hottask_proxy_upstream_attempts_total\{outcome="CHATBOT_NOT_FOUND"\} 1/,
    /hottask_proxy_upstream_attempt_duration_seconds_count\{outcome="success"\} 2/,
    /hottask_proxy_idempotent_replays_total 1/,
    /hottask_proxy_origin_refused_total 1/,
    /hottask_proxy_rate_limited_total [1-9]/,
    /hottask_proxy_circuit_state\{state="closed"\} 1/,
    /hottask_proxy_upstream_concurrency 0/,
    new RegExp(`hottask_proxy_api_key_info\\{fingerprint="${fingerprint(TEST_KEY)}"\\} 1`),
    /hottask_proxy_process_resident_memory_bytes/
  ]) t.match(body, series)
  for (const secret of [TEST_KEY, token, 'secret-chatbot-id-1', '/no/such/path', 'evil.example', 'm1"']) {
    t.notOk(body.includes(secret), `no ${secret} in the metrics`)
  }
})
