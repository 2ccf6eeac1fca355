// The identity quotas count by: visitor, else client, else address (IPv6 by its /64).
import type { FastifyRequest } from 'fastify'
import { test } from 'tap'
import { identityOf } from '../../../src/guards/identity.ts'

const of = (fields: { visitorId?: string, clientName?: string, ip?: string }) =>
  identityOf({ visitorId: fields.visitorId ?? null, clientName: fields.clientName ?? null, ip: fields.ip ?? '198.51.100.7' } as unknown as FastifyRequest)

test('a visitor first, then a client, then the address', async (t) => {
  t.equal(of({ visitorId: 'v1', clientName: 'billing' }), 'v:v1')
  t.equal(of({ clientName: 'billing' }), 'c:billing')
  t.equal(of({}), 'a:198.51.100.7')
})

test('an IPv6 address counts by its /64, as the rate limit does', async (t) => {
  t.equal(of({ ip: '2001:db8:1:2:aaaa::1' }), of({ ip: '2001:db8:1:2:bbbb::9' }))
  t.not(of({ ip: '2001:db8:1:2::1' }), of({ ip: '2001:db8:1:3::1' }))
})

test('a client named like a visitor id cannot share its counter', async (t) => {
  t.not(of({ clientName: 'x' }), of({ visitorId: 'x' }))
})
