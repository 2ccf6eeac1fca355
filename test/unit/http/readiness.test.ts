// Readiness: draining and required checks decide it; a check that is not required is
// only reported.
import { test } from 'tap'
import { Readiness } from '../../../src/http/readiness.ts'

test('a required check that fails makes the instance not ready', async (t) => {
  const readiness = new Readiness()
  let up = false
  readiness.addCheck('redis', () => up)
  t.same(readiness.report(), { ready: false, checks: { shutdown: 'ok', redis: 'failing' } }, 'required by default')
  up = true
  t.same(readiness.report(), { ready: true, checks: { shutdown: 'ok', redis: 'ok' } })
})

test('a check that is not required is reported failing, and the instance stays ready', async (t) => {
  const readiness = new Readiness()
  let up = false
  readiness.addCheck('redis', () => up, { required: false })
  t.same(readiness.report(), { ready: true, checks: { shutdown: 'ok', redis: 'failing' } })
  up = true
  t.same(readiness.report(), { ready: true, checks: { shutdown: 'ok', redis: 'ok' } })
  readiness.drain()
  t.same(readiness.report(), { ready: false, checks: { shutdown: 'failing', redis: 'ok' } }, 'draining always ends readiness')
})
