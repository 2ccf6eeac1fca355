// The origin guard alone: which requests of the browser lane it refuses.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { test } from 'tap'
import { originGuard } from '../../../src/guards/origin.ts'
import type { ProblemError } from '../../../src/http/errors.ts'

/** The guard's verdict for these headers: undefined (served) or the refusal's code. */
function verdict (origins: string[], headers: Record<string, string>): string | undefined {
  let result: Error | undefined
  originGuard(origins)({ headers } as unknown as FastifyRequest, {} as FastifyReply, (error?: Error) => { result = error })
  return (result as ProblemError | undefined)?.code
}

test('a listed origin is served; any other is ORIGIN_NOT_ALLOWED', async (t) => {
  const listed = ['https://shop.example', 'null']
  t.equal(verdict(listed, { origin: 'https://shop.example' }), undefined)
  t.equal(verdict(listed, { origin: 'null' }), undefined, '`null` when listed')
  t.equal(verdict(listed, { origin: 'https://evil.example' }), 'ORIGIN_NOT_ALLOWED')
  t.equal(verdict(listed, { origin: 'https://shop.example.evil' }), 'ORIGIN_NOT_ALLOWED', 'exact match only')
  t.equal(verdict([], { origin: 'https://shop.example' }), 'ORIGIN_NOT_ALLOWED', 'nothing listed: every browser origin is refused')
})

test('`*` serves every origin', async (t) => {
  t.equal(verdict(['*'], { origin: 'https://anywhere.example' }), undefined)
  t.equal(verdict(['*'], { origin: 'null' }), undefined)
})

test('without Origin: the service lane, unless Fetch Metadata says cross-site', async (t) => {
  t.equal(verdict(['https://shop.example'], {}), undefined)
  for (const site of ['same-origin', 'same-site', 'none']) t.equal(verdict([], { 'sec-fetch-site': site }), undefined, site)
  t.equal(verdict(['https://shop.example'], { 'sec-fetch-site': 'cross-site' }), 'ORIGIN_NOT_ALLOWED')
  t.equal(verdict(['*'], { 'sec-fetch-site': 'cross-site' }), undefined, 'with `*`, a cross-site request is allowed too')
})

test('a request whose client token was wrong is left to the 401, whatever its origin', async (t) => {
  let result: Error | undefined = new Error('not called')
  const request = { headers: { origin: 'https://evil.example' }, invalidClientToken: true }
  originGuard(['https://shop.example'])(request as unknown as FastifyRequest, {} as FastifyReply, (error?: Error) => { result = error })
  t.equal(result, undefined)
})
