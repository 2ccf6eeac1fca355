// The request hook through a tiny Fastify app: route patterns (never URLs), not_found for
// the router's misses, the reply's status and duration; and no /metrics on the app.
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { test } from 'tap'
import type { Test } from 'tap'
import { createMetrics } from '../../../../src/telemetry/metrics.ts'
import type { Metrics } from '../../../../src/telemetry/metrics.ts'
import { registerMetrics } from '../../../../src/plugins/app/metrics.ts'

async function tinyApp (t: Test): Promise<{ app: FastifyInstance, metrics: Metrics }> {
  const metrics = createMetrics()
  const app = Fastify()
  registerMetrics(app, metrics)
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.post('/sessions/:id', async (_request, reply) => reply.code(201).send({ ok: true }))
  await app.register(async (child) => {
    child.get('/slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      return 'done'
    })
  }, { prefix: '/child' })
  app.get('/boom', async () => { throw new Error('boom') })
  t.teardown(() => app.close())
  return { app, metrics }
}

const line = (route: string, method: string, status: number, value: number): string =>
  `hottask_proxy_http_requests_total{route="${route}",method="${method}",status_code="${status}"} ${value}\n`

test('every response is recorded by route pattern, method and status', async (t) => {
  const { app, metrics } = await tinyApp(t)
  await app.inject({ url: '/healthz' })
  await app.inject({ url: '/healthz?probe=1' })
  await app.inject({ method: 'POST', url: '/sessions/abc' })
  await app.inject({ method: 'POST', url: '/sessions/def' })
  await app.inject({ url: '/child/slow' })
  await app.inject({ url: '/boom' })
  for (let i = 0; i < 20; i++) await app.inject({ url: `/nowhere/${i}` })
  const text = await metrics.render()
  t.match(text, line('/healthz', 'GET', 200, 2))
  t.match(text, line('/sessions/:id', 'POST', 201, 2), 'the pattern, not the URL')
  t.match(text, line('/child/slow', 'GET', 200, 1), 'prefixed routes of child plugins')
  t.match(text, line('/boom', 'GET', 500, 1), 'errors are recorded with their status')
  t.match(text, line('not_found', 'GET', 404, 20), 'misses share one label')
  t.notMatch(text, '/nowhere')
  t.notMatch(text, 'sessions/abc')
})

test('the duration comes from the reply, in seconds', async (t) => {
  const { app, metrics } = await tinyApp(t)
  await app.inject({ url: '/child/slow' })
  const text = await metrics.render()
  const labels = 'route="/child/slow",method="GET",status_code="200"'
  const sum = Number(new RegExp(`hottask_proxy_http_request_duration_seconds_sum\\{${labels}\\} (\\S+)`).exec(text)?.[1])
  t.ok(sum >= 0.025 && sum < 1, `${sum}s for a 30 ms handler`)
  t.match(text, `hottask_proxy_http_request_duration_seconds_bucket{le="0.025",${labels}} 0\n`)
  t.match(text, `hottask_proxy_http_request_duration_seconds_bucket{le="+Inf",${labels}} 1\n`)
})

test('the app serves no /metrics: the exposition lives on its own port', async (t) => {
  const { app, metrics } = await tinyApp(t)
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404)
  t.match(await metrics.render(), line('not_found', 'GET', 404, 1))
})
