// The forwarded-address check alone: a forwarded value that is no IP is dropped, once reported.
import type { FastifyRequest } from 'fastify'
import { isIP } from 'node:net'
import { test } from 'tap'
import { forwardedAddressCheck } from '../../../src/http/forwarded-address.ts'

/** A request whose ip is read from its (raw) headers on every access, as Fastify's is with TRUST_PROXY. */
function requestWith (xff: string | undefined) {
  const headers: Record<string, string> = xff === undefined ? {} : { 'x-forwarded-for': xff }
  return {
    headers,
    raw: { headers },
    get ip (): string { return headers['x-forwarded-for'] ?? '10.0.0.9' }
  } as unknown as FastifyRequest
}

test('a forwarded IP address is kept, and no header is nothing to check', async (t) => {
  const reports: FastifyRequest[] = []
  const check = forwardedAddressCheck((request) => reports.push(request))
  for (const value of ['192.0.2.1', '2001:db8::1', undefined]) {
    const request = requestWith(value)
    check(request)
    t.equal(request.headers['x-forwarded-for'], value)
  }
  t.equal(reports.length, 0)
})

test('a forwarded value that is no IP is dropped, so the socket address is used; reported once', async (t) => {
  const reports: FastifyRequest[] = []
  const check = forwardedAddressCheck((request) => reports.push(request))
  const first = requestWith('foo bar')
  check(first)
  t.equal(first.headers['x-forwarded-for'], undefined)
  t.equal(first.ip, '10.0.0.9')
  t.ok(isIP(first.ip))
  const second = requestWith('not-an-ip')
  check(second)
  t.equal(second.ip, '10.0.0.9')
  t.same(reports, [first], 'only the first is reported')
})
