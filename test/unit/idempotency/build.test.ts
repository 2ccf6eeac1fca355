// The wiring: which store, the configured windows, and a failing store counted and logged.
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import pino from 'pino'
import { test } from 'tap'
import { buildIdempotency } from '../../../src/idempotency/build.ts'
import { createMetrics } from '../../../src/telemetry/metrics.ts'
import { metricValue } from '../../helpers/waiting.ts'
import { testConfig } from '../../helpers/setup.ts'

const request = (key: string) => ({
  scope: 'client:web', key, fingerprint: 'chatbot:abc', clientSignal: new AbortController().signal, deadlineAt: Infinity, call: async () => '7'
})

test('with Redis: the pending marker lives the upstream deadline plus 5 s, an answer IDEMPOTENCY_TTL_MS', async (t) => {
  const ttls: number[] = []
  const redis = {
    set: async (_key: string, _value: string, _px: string, ttl: number) => { ttls.push(ttl); return null },
    get: async () => null,
    del: async () => 1
  } as unknown as Redis
  const idempotency = buildIdempotency(testConfig({ UPSTREAM_TIMEOUT_MS: '2000', IDEMPOTENCY_TTL_MS: '30000' }), redis, createMetrics(), pino({ level: 'silent' }))
  t.same(await idempotency.run(request('k')), { body: '7', replayed: false })
  t.same(ttls, [7000, 30000])
})

test('a failing store is counted in the metrics and logged with its message, and the request is served', async (t) => {
  const redis = { set: async () => { throw new Error('connection lost') }, get: async () => null, del: async () => 1 } as unknown as Redis
  const metrics = createMetrics()
  const lines: string[] = []
  const log = pino({ level: 'warn' }, { write: (line: string) => { lines.push(line) } }) as unknown as FastifyBaseLogger
  const idempotency = buildIdempotency(testConfig(), redis, metrics, log)
  t.same(await idempotency.run(request('k')), { body: '7', replayed: false })
  t.equal(await metricValue(metrics, 'hottask_proxy_store_errors_total{store="idempotency"}'), 1)
  t.match(JSON.parse(lines[0]!), { level: 40, err: 'connection lost', msg: 'idempotency store failed' })
})

test('without Redis: an in-memory store, on the clock given', async (t) => {
  let now = 1_000_000
  const idempotency = buildIdempotency(testConfig({ IDEMPOTENCY_TTL_MS: '1000' }), undefined, createMetrics(), pino({ level: 'silent' }), () => now)
  let calls = 0
  const counted = { ...request('k'), call: async () => { calls++; return '7' } }
  await idempotency.run(counted)
  t.same(await idempotency.run(counted), { body: '7', replayed: true })
  now += 1000
  t.same(await idempotency.run(counted), { body: '7', replayed: false }, 'the answer expired with IDEMPOTENCY_TTL_MS')
  t.equal(calls, 2)
})
