import { test } from 'tap'
import { Readiness } from '../../../src/http/readiness.ts'
import { setup } from '../../helpers/setup.ts'

test('healthz is always ok; readyz follows readiness', async (t) => {
  const readiness = new Readiness()
  const { app } = await setup(t, {}, { deps: { readiness } })
  const health = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  t.equal(health.headers['cache-control'], 'no-store')

  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: { shutdown: 'ok' } })

  let redisUp = false
  readiness.addCheck('redis', () => redisUp)
  const down = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(down.statusCode, 503)
  t.same(down.json().checks, { shutdown: 'ok', redis: 'failing' })
  redisUp = true

  readiness.drain()
  const draining = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(draining.statusCode, 503)
  t.same(draining.json(), { status: 'not ready', checks: { shutdown: 'failing', redis: 'ok' } })
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'still alive while draining')
})

test('HEAD works on health routes', async (t) => {
  const { app } = await setup(t)
  t.equal((await app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200)
})
