import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import type { Test } from 'tap'
import { overloadOf, registerLoadShedding, sampleIntervalMs } from '../../../../src/plugins/app/load-shedding.ts'
import type { SheddingOptions } from '../../../../src/plugins/app/load-shedding.ts'
import { until } from '../../../helpers/waiting.ts'

test('health is read as often as the delay limit, from 100 ms to 1 s', async (t) => {
  t.same([0, 20, 100, 250, 1000, 5000].map(sampleIntervalMs), [100, 100, 100, 250, 1000, 1000])
})

test('a reading is overloaded only beyond a limit that is set', async (t) => {
  const limits = { maxEventLoopDelayMs: 50, maxHeapUsedBytes: 1000 }
  t.equal(overloadOf({ eventLoopDelayMs: 50, heapUsedBytes: 1000 }, limits), undefined, 'at the limits')
  t.equal(overloadOf({ eventLoopDelayMs: 51, heapUsedBytes: 0 }, limits), 'event_loop')
  t.equal(overloadOf({ eventLoopDelayMs: 0, heapUsedBytes: 1001 }, limits), 'heap')
  t.equal(overloadOf({ eventLoopDelayMs: 51, heapUsedBytes: 1001 }, limits), 'event_loop', 'the loop is named first')
  t.equal(overloadOf({ eventLoopDelayMs: Infinity, heapUsedBytes: 1e12 }, { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 0 }), undefined, '0 disables both')
})

interface Sources { delayMs: number, heapUsedBytes: number }

async function appWith (t: Test, options: Partial<SheddingOptions>, sources: Sources): Promise<{ app: FastifyInstance, shed: string[] }> {
  const shed: string[] = []
  const app = Fastify()
  registerLoadShedding(app, {
    maxEventLoopDelayMs: 100,
    maxHeapUsedBytes: 0,
    onShed: (reason) => shed.push(reason),
    health: { intervalMs: 5, readDelayMs: () => sources.delayMs, readHeapUsedBytes: () => sources.heapUsedBytes },
    ...options
  })
  app.get('/work', async () => 'done')
  app.get('/healthz', { config: { shed: false } }, async () => 'ok')
  await app.ready()
  t.teardown(() => app.close())
  return { app, shed }
}

test('over a limit, requests are 503 with the reason counted; exempt routes answer; back under, served again', async (t) => {
  const sources = { delayMs: 0, heapUsedBytes: 0 }
  const { app, shed } = await appWith(t, {}, sources)
  t.equal((await app.inject({ url: '/work' })).statusCode, 200)
  sources.delayMs = 500
  await until(async () => (await app.inject({ url: '/work' })).statusCode === 503, 'requests are shed')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'config.shed false is never shed')
  t.ok(shed.length >= 1 && shed.every((reason) => reason === 'event_loop'))
  sources.delayMs = 0
  await until(async () => (await app.inject({ url: '/work' })).statusCode === 200, 'served again')
})

test('a request no route matches is shed too', async (t) => {
  const sources = { delayMs: 500, heapUsedBytes: 0 }
  const { app } = await appWith(t, {}, sources)
  await until(async () => (await app.inject({ url: '/work' })).statusCode === 503, 'requests are shed')
  t.equal((await app.inject({ url: '/nowhere' })).statusCode, 503)
})

test('the heap limit sheds as heap', async (t) => {
  const sources = { delayMs: 0, heapUsedBytes: 10_000 }
  const { app, shed } = await appWith(t, { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 5_000 }, sources)
  await until(async () => (await app.inject({ url: '/work' })).statusCode === 503, 'requests are shed')
  t.same(new Set(shed), new Set(['heap']))
})

test('nothing is shed in the first two samples after ready: start-up is not traffic', async (t) => {
  const sources = { delayMs: 10_000, heapUsedBytes: 0 }
  const { app, shed } = await appWith(t, { health: { intervalMs: 60_000, readDelayMs: () => sources.delayMs, readHeapUsedBytes: () => 0 } }, sources)
  t.equal((await app.inject({ url: '/work' })).statusCode, 200)
  t.same(shed, [])
})

test('with both limits 0 no health is read at all', async (t) => {
  let reads = 0
  const app = Fastify()
  registerLoadShedding(app, {
    maxEventLoopDelayMs: 0,
    maxHeapUsedBytes: 0,
    onShed: () => {},
    health: { intervalMs: 1, readDelayMs: () => ++reads, readHeapUsedBytes: () => ++reads }
  })
  app.get('/work', async () => 'done')
  await app.ready()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal((await app.inject({ url: '/work' })).statusCode, 200)
  await app.close()
  t.equal(reads, 0)
})

test('closing the app stops the readings', async (t) => {
  let reads = 0
  const app = Fastify()
  registerLoadShedding(app, { maxEventLoopDelayMs: 100, maxHeapUsedBytes: 0, onShed: () => {}, health: { intervalMs: 2, readDelayMs: () => ++reads, readHeapUsedBytes: () => 0 } })
  await app.ready()
  await until(() => reads > 0, 'a reading')
  await app.close()
  const after = reads
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(reads, after)
})
