// The exposition is the contract with dashboards and alerts: names, types and labels are
// asserted as text, and no input can grow a label beyond its fixed set.
import { test } from 'tap'
import { ATTEMPT_OUTCOMES, BOT_CHECK_OUTCOMES, VISITOR_TOKEN_OUTCOMES } from '../../../src/telemetry/events.ts'
import type { CircuitState } from '../../../src/telemetry/events.ts'
import { createMetrics, OTHER } from '../../../src/telemetry/metrics.ts'
import type { Metrics } from '../../../src/telemetry/metrics.ts'
import { fingerprint } from '../../../src/lib/secrets.ts'
import { Readiness } from '../../../src/http/readiness.ts'

interface Sample { name: string, labels: Record<string, string>, value: number }

/** The samples of a text exposition (label values here never hold quotes or commas). */
async function samples (metrics: Metrics): Promise<Sample[]> {
  return (await metrics.render()).split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample: ${line}`)
    const labels = Object.fromEntries((match[2] ?? '').split(',').filter(Boolean).map((pair) => {
      const [key, value] = pair.split('=')
      return [key!, JSON.parse(value!) as string]
    }))
    return { name: match[1]!, labels, value: Number(match[3]) }
  })
}

async function types (metrics: Metrics): Promise<Map<string, string>> {
  const lines = (await metrics.render()).split('\n').filter((line) => line.startsWith('# TYPE '))
  return new Map(lines.map((line) => line.split(' ').slice(2) as [string, string]))
}

const valuesOf = (all: Sample[], name: string, label: string): Set<string> =>
  new Set(all.filter((s) => s.name === name).map((s) => s.labels[label]!))

const valueOf = (all: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

test('every metric is named, typed and prefixed as Prometheus expects', async (t) => {
  const found = await types(createMetrics())
  const expected = {
    hottask_proxy_http_requests_total: 'counter',
    hottask_proxy_http_request_duration_seconds: 'histogram',
    hottask_proxy_upstream_attempts_total: 'counter',
    hottask_proxy_upstream_attempt_duration_seconds: 'histogram',
    hottask_proxy_upstream_retries_total: 'counter',
    hottask_proxy_upstream_key_refusals_total: 'counter',
    hottask_proxy_circuit_state: 'gauge',
    hottask_proxy_rate_limited_total: 'counter',
    hottask_proxy_origin_refused_total: 'counter',
    hottask_proxy_idempotent_replays_total: 'counter',
    hottask_proxy_store_errors_total: 'counter',
    hottask_proxy_overload_refusals_total: 'counter',
    hottask_proxy_upstream_concurrency: 'gauge',
    hottask_proxy_upstream_queue_length: 'gauge',
    hottask_proxy_api_key_info: 'gauge',
    hottask_proxy_readiness_check: 'gauge',
    // The process restarting: its alert watches this change.
    hottask_proxy_process_start_time_seconds: 'gauge',
    // Process metrics, from prom-client's defaults.
    hottask_proxy_process_cpu_seconds_total: 'counter',
    hottask_proxy_process_resident_memory_bytes: 'gauge',
    hottask_proxy_nodejs_eventloop_lag_p99_seconds: 'gauge',
    hottask_proxy_nodejs_heap_size_used_bytes: 'gauge'
  }
  for (const [name, type] of Object.entries(expected)) t.equal(found.get(name), type, name)
  for (const name of found.keys()) t.match(name, /^hottask_proxy_/, `${name} is prefixed`)
})

test('each metrics object owns its registry', async (t) => {
  const a = createMetrics()
  const b = createMetrics()
  a.recordRateLimited()
  t.equal(valueOf(await samples(a), 'hottask_proxy_rate_limited_total'), 1)
  t.equal(valueOf(await samples(b), 'hottask_proxy_rate_limited_total'), 0)
  t.not(a.registry, b.registry)
  t.equal(a.contentType, 'text/plain; version=0.0.4; charset=utf-8', 'the Prometheus text format')
})

test('fixed label sets start at zero so every series exists from the first scrape', async (t) => {
  const all = await samples(createMetrics())
  t.same(valuesOf(all, 'hottask_proxy_upstream_retries_total', 'reason'), new Set(['not_sent', 'retry_after', 'next_key']))
  t.same(valuesOf(all, 'hottask_proxy_store_errors_total', 'store'), new Set(['rate_limit', 'idempotency', 'quota', 'bot_check']))
  t.same(valuesOf(all, 'hottask_proxy_visitor_tokens_total', 'outcome'), new Set(VISITOR_TOKEN_OUTCOMES))
  t.same(valuesOf(all, 'hottask_proxy_bot_checks_total', 'outcome'), new Set(BOT_CHECK_OUTCOMES))
  t.same(valuesOf(all, 'hottask_proxy_quota_refusals_total', 'quota'), new Set(['sessions', 'messages', 'tokens']))
  t.same(valuesOf(all, 'hottask_proxy_overload_refusals_total', 'reason'), new Set(['queue_full', 'queue_timeout', 'event_loop', 'heap']))
  t.same(valuesOf(all, 'hottask_proxy_upstream_attempts_total', 'outcome'), new Set(ATTEMPT_OUTCOMES))
  t.ok(ATTEMPT_OUTCOMES.includes('UPSTREAM_TIMEOUT') && ATTEMPT_OUTCOMES.includes('CHATBOT_NOT_FOUND'))
  t.notOk(ATTEMPT_OUTCOMES.includes('UPSTREAM_CIRCUIT_OPEN'), 'a refusal by the circuit is not an attempt')
  t.equal(valueOf(all, 'hottask_proxy_upstream_concurrency'), 0, 'no limiter tracked yet: 0')
  t.equal(all.filter((s) => s.name === 'hottask_proxy_api_key_info').length, 0, 'no key until one is set')
})

test('requests are counted and timed by route, method and status', async (t) => {
  const metrics = createMetrics()
  metrics.allowRoute('/sessions')
  metrics.recordRequest('/sessions', 'POST', 201, 250)
  metrics.recordRequest('/sessions', 'POST', 201, 90)
  metrics.recordRequest(undefined, 'GET', 404, 1)
  const all = await samples(metrics)
  const created = { route: '/sessions', method: 'POST', status_code: '201' }
  t.equal(valueOf(all, 'hottask_proxy_http_requests_total', created), 2)
  t.equal(valueOf(all, 'hottask_proxy_http_request_duration_seconds_count', created), 2)
  t.ok(Math.abs(valueOf(all, 'hottask_proxy_http_request_duration_seconds_sum', created)! - 0.34) < 1e-9, 'milliseconds in, seconds out')
  t.equal(valueOf(all, 'hottask_proxy_http_request_duration_seconds_bucket', { ...created, le: '0.1' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_http_request_duration_seconds_bucket', { ...created, le: '0.3' }), 2)
  t.equal(valueOf(all, 'hottask_proxy_http_requests_total', { route: 'not_found', method: 'GET', status_code: '404' }), 1)
})

test('upstream attempts, retries, refusals, replays and store errors', async (t) => {
  const metrics = createMetrics()
  metrics.recordUpstreamAttempt('success', 180)
  metrics.recordUpstreamAttempt('UPSTREAM_UNAVAILABLE', 3)
  metrics.recordUpstreamAttempt('client_gone', 40)
  metrics.recordRetry('not_sent')
  metrics.recordRetry('next_key')
  metrics.recordRateLimited()
  metrics.recordOriginRefused()
  metrics.recordIdempotentReplay()
  metrics.recordStoreError('idempotency')
  metrics.recordOverload('queue_full')
  const before = valueOf(await samples(metrics), 'hottask_proxy_upstream_key_refusals_total')
  metrics.recordKeyRefused()
  const all = await samples(metrics)
  t.equal(before, 0, 'the key-refusal counter exists from the start, so its alert sees rate() from the first scrape')
  t.equal(valueOf(all, 'hottask_proxy_upstream_key_refusals_total'), 1)
  t.equal(valueOf(all, 'hottask_proxy_upstream_attempts_total', { outcome: 'success' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_upstream_attempts_total', { outcome: 'UPSTREAM_UNAVAILABLE' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_upstream_attempts_total', { outcome: 'client_gone' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_upstream_attempt_duration_seconds_sum', { outcome: 'success' }), 0.18)
  t.equal(valueOf(all, 'hottask_proxy_upstream_attempt_duration_seconds_bucket', { outcome: 'success', le: '0.2' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_upstream_attempt_duration_seconds_bucket', { outcome: 'success', le: '0.15' }), 0)
  t.equal(valueOf(all, 'hottask_proxy_upstream_retries_total', { reason: 'not_sent' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_upstream_retries_total', { reason: 'retry_after' }), 0)
  t.equal(valueOf(all, 'hottask_proxy_upstream_retries_total', { reason: 'next_key' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_rate_limited_total'), 1)
  t.equal(valueOf(all, 'hottask_proxy_origin_refused_total'), 1)
  t.equal(valueOf(all, 'hottask_proxy_idempotent_replays_total'), 1)
  t.equal(valueOf(all, 'hottask_proxy_store_errors_total', { store: 'idempotency' }), 1)
  t.equal(valueOf(all, 'hottask_proxy_store_errors_total', { store: 'rate_limit' }), 0)
  t.equal(valueOf(all, 'hottask_proxy_overload_refusals_total', { reason: 'queue_full' }), 1)
})

test('regression: a tracked circuit is read at scrape time, so an open circuit past its cooldown reads half_open without traffic', async (t) => {
  const metrics = createMetrics()
  let state: CircuitState = 'open'
  metrics.setCircuitState('open')
  metrics.trackCircuit({ effectiveState: () => state })
  const states = async (): Promise<Record<string, number>> => Object.fromEntries((await samples(metrics))
    .filter((s) => s.name === 'hottask_proxy_circuit_state').map((s) => [s.labels.state!, s.value]))
  t.same(await states(), { closed: 0, half_open: 0, open: 1 })
  state = 'half_open'
  t.same(await states(), { closed: 0, half_open: 1, open: 0 }, 'no event came; the scrape read it')
})

test('the circuit state is one-hot', async (t) => {
  const metrics = createMetrics()
  const states = async (): Promise<Record<string, number>> => Object.fromEntries((await samples(metrics))
    .filter((s) => s.name === 'hottask_proxy_circuit_state').map((s) => [s.labels.state!, s.value]))
  t.same(await states(), { closed: 1, half_open: 0, open: 0 })
  metrics.setCircuitState('open')
  t.same(await states(), { closed: 0, half_open: 0, open: 1 })
  metrics.setCircuitState('half_open')
  t.same(await states(), { closed: 0, half_open: 1, open: 0 })
})

test('concurrency and queue length are read from the limiter at scrape time', async (t) => {
  const metrics = createMetrics()
  const limiter = { active: 3, queued: 0 }
  metrics.trackUpstreamLoad(limiter)
  t.equal(valueOf(await samples(metrics), 'hottask_proxy_upstream_concurrency'), 3)
  limiter.active = 256
  limiter.queued = 17
  const all = await samples(metrics)
  t.equal(valueOf(all, 'hottask_proxy_upstream_concurrency'), 256)
  t.equal(valueOf(all, 'hottask_proxy_upstream_queue_length'), 17)
})

test('each readiness check is a gauge read at scrape time: 1 passing, 0 failing', async (t) => {
  const metrics = createMetrics()
  const readiness = new Readiness()
  metrics.trackReadiness(readiness)
  let redisUp = true
  readiness.addCheck('redis', () => redisUp)
  const checks = async (): Promise<Record<string, number>> => Object.fromEntries((await samples(metrics))
    .filter((s) => s.name === 'hottask_proxy_readiness_check').map((s) => [s.labels.check!, s.value]))
  t.same(await checks(), { shutdown: 1, redis: 1 })
  redisUp = false
  t.same(await checks(), { shutdown: 1, redis: 0 }, 'Redis down')
  readiness.drain()
  t.same(await checks(), { shutdown: 0, redis: 0 }, 'draining')
})

test('only the checks an instance runs get a readiness series', async (t) => {
  const untracked = createMetrics()
  t.notOk((await samples(untracked)).some((s) => s.name === 'hottask_proxy_readiness_check'), 'no source, no series')
  const metrics = createMetrics()
  metrics.trackReadiness(new Readiness())
  t.same((await samples(metrics)).filter((s) => s.name === 'hottask_proxy_readiness_check').map((s) => s.labels), [{ check: 'shutdown' }], 'no redis series without Redis')
})

test('the API key is named by fingerprint only, and replaced on rotation', async (t) => {
  const metrics = createMetrics()
  const first = 'first-key-S3cr3t-0123456789abcdef'
  const second = 'second-key-S3cr3t-0123456789abcdef'
  metrics.setApiKey(first)
  metrics.setApiKey(second)
  const text = await metrics.render()
  t.match(text, `hottask_proxy_api_key_info{fingerprint="${fingerprint(second)}"} 1\n`)
  t.notMatch(text, fingerprint(first), 'the old key is gone')
  t.notMatch(text, first)
  t.notMatch(text, second, 'never the key itself')
})

test('label values stay within their fixed sets whatever is fed in', async (t) => {
  const metrics = createMetrics()
  metrics.allowRoute('/sessions')
  metrics.allowRoute('/healthz')
  const loose = metrics as unknown as Record<string, (...args: unknown[]) => void>
  for (let i = 0; i < 1000; i++) {
    metrics.recordRequest(`/sessions/${i}`, `VERB${i}`, 1000 + i, 1)
    metrics.recordRequest('/sessions', 'POST', 200 + (i % 400), 1)
    loose.recordUpstreamAttempt!(`serial-${i}`, 1)
    loose.recordRetry!(`reason-${i}`)
    loose.recordStoreError!(`store-${i}`)
    loose.recordOverload!(`why-${i}`)
    loose.recordVisitorToken!(`reason-${i}`)
    loose.recordBotCheck!(`outcome-${i}`)
    loose.recordQuotaRefused!(`quota-${i}`)
  }
  metrics.recordVisitorToken('valid')
  metrics.recordVisitorToken('valid')
  const all = await samples(metrics)
  t.same(valuesOf(all, 'hottask_proxy_http_requests_total', 'route'), new Set(['/sessions', OTHER]))
  t.same(valuesOf(all, 'hottask_proxy_http_requests_total', 'method'), new Set(['POST', OTHER]))
  t.ok(valuesOf(all, 'hottask_proxy_http_requests_total', 'status_code').size < 70, 'only standard status codes, else other')
  t.equal(valueOf(all, 'hottask_proxy_http_requests_total', { route: OTHER, method: OTHER, status_code: OTHER }), 1000)
  t.same(valuesOf(all, 'hottask_proxy_upstream_attempts_total', 'outcome'), new Set([...ATTEMPT_OUTCOMES, OTHER]))
  t.equal(valueOf(all, 'hottask_proxy_upstream_attempts_total', { outcome: OTHER }), 1000)
  t.same(valuesOf(all, 'hottask_proxy_upstream_attempt_duration_seconds_count', 'outcome'), new Set([OTHER]))
  t.same(valuesOf(all, 'hottask_proxy_upstream_retries_total', 'reason'), new Set(['not_sent', 'retry_after', 'next_key', OTHER]))
  t.same(valuesOf(all, 'hottask_proxy_store_errors_total', 'store'), new Set(['rate_limit', 'idempotency', 'quota', 'bot_check', OTHER]))
  t.same(valuesOf(all, 'hottask_proxy_visitor_tokens_total', 'outcome'), new Set([...VISITOR_TOKEN_OUTCOMES, OTHER]))
  t.equal(valueOf(all, 'hottask_proxy_visitor_tokens_total', { outcome: 'valid' }), 2, 'the bound valid series counts')
  t.equal(valueOf(all, 'hottask_proxy_visitor_tokens_total', { outcome: OTHER }), 1000)
  t.same(valuesOf(all, 'hottask_proxy_bot_checks_total', 'outcome'), new Set([...BOT_CHECK_OUTCOMES, OTHER]))
  t.same(valuesOf(all, 'hottask_proxy_quota_refusals_total', 'quota'), new Set(['sessions', 'messages', 'tokens', OTHER]))
  t.same(valuesOf(all, 'hottask_proxy_overload_refusals_total', 'reason'), new Set(['queue_full', 'queue_timeout', 'event_loop', 'heap', OTHER]))
})

test('route labels are capped even if an app registers routes without end', async (t) => {
  const metrics = createMetrics()
  for (let i = 0; i < 1000; i++) {
    metrics.allowRoute(`/r${i}`)
    metrics.recordRequest(`/r${i}`, 'GET', 200, 1)
  }
  const routes = valuesOf(await samples(metrics), 'hottask_proxy_http_requests_total', 'route')
  t.equal(routes.size, 65, '64 routes and other')
  t.ok(routes.has(OTHER))
})
