// The client-token guard alone: matching in constant time, and what each header means.
import type { FastifyReply, FastifyRequest } from 'fastify'
import pino from 'pino'
import { test } from 'tap'
import { clientTokenGuard, refuseInvalidToken, tokenMatcher } from '../../../src/guards/client-token.ts'
import type { ProblemError } from '../../../src/http/errors.ts'

const TOKENS = [{ name: 'billing', token: 'billing-token-0123456789' }, { name: 'search', token: 'search-token-9876543210' }]

/**
 * Runs the guard, then (as the route does once the rate limit has counted the request)
 * refuseInvalidToken, on a request with these headers: the refusal (code and challenge)
 * or the client it named.
 */
function run (headers: Record<string, string>, required = false) {
  const request = { headers, clientName: null as string | null, invalidClientToken: false, log: pino({ level: 'silent' }) }
  let refusal: ProblemError | undefined
  const guard = clientTokenGuard(TOKENS, required)!
  guard.call(undefined as never, request as unknown as FastifyRequest, {} as FastifyReply, (error?: Error) => { refusal = error as ProblemError | undefined })
  const deferred = refusal === undefined && request.invalidClientToken
  if (refusal === undefined) refuseInvalidToken(request as unknown as FastifyRequest, {} as FastifyReply, undefined, (error?: Error) => { refusal = error as ProblemError | undefined })
  const logged = (request.log.bindings() as { client?: string }).client ?? null
  return { code: refusal?.code, challenge: refusal?.headers?.['www-authenticate'], client: request.clientName, deferred, logged }
}

test('the matcher names the client of a known token, and nothing else', async (t) => {
  const match = tokenMatcher(TOKENS)
  t.equal(match('billing-token-0123456789'), 'billing')
  t.equal(match('search-token-9876543210'), 'search')
  t.equal(match('billing-token-012345678'), undefined, 'a prefix')
  t.equal(match('billing-token-01234567890'), undefined, 'a longer value')
  t.equal(match(''), undefined)
})

test('without configured tokens there is no guard at all', async (t) => {
  t.equal(clientTokenGuard([], false), undefined)
  t.equal(clientTokenGuard([], true), undefined)
})

test('Bearer with a known token names the client; the scheme is case-insensitive', async (t) => {
  t.same(run({ authorization: 'Bearer billing-token-0123456789' }), { code: undefined, challenge: undefined, client: 'billing', deferred: false, logged: 'billing' })
  t.same(run({ authorization: 'bearer  search-token-9876543210 ' }), { code: undefined, challenge: undefined, client: 'search', deferred: false, logged: 'search' })
})

test('an unknown token, another scheme or a bare token is INVALID_CLIENT_TOKEN with an invalid_token challenge, once the rate limit has counted it', async (t) => {
  for (const authorization of ['Bearer nope-0000000000000000', 'Basic billing-token-0123456789', 'billing-token-0123456789', 'Bearer ',
    'xBearer billing-token-0123456789', 'Bearerbilling-token-0123456789', 'Bearer billing-token-0123456789 extra', 'Basic Bearer billing-token-0123456789']) {
    t.same(run({ authorization }), { code: 'INVALID_CLIENT_TOKEN', challenge: 'Bearer error="invalid_token"', client: null, deferred: true, logged: null }, authorization)
  }
})

test('no Authorization: anonymous, or CLIENT_TOKEN_REQUIRED with a Bearer challenge when required', async (t) => {
  t.same(run({}), { code: undefined, challenge: undefined, client: null, deferred: false, logged: null })
  t.same(run({}, true), { code: 'CLIENT_TOKEN_REQUIRED', challenge: 'Bearer', client: null, deferred: false, logged: null })
  t.same(run({ authorization: 'Bearer billing-token-0123456789' }, true), { code: undefined, challenge: undefined, client: 'billing', deferred: false, logged: 'billing' })
})
