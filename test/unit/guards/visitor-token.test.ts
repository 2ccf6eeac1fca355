// The visitor-token guard alone: what each Authorization header means when visitor tokens
// are configured, which refusals wait for the rate limit, and what is reported.
import type { FastifyReply, FastifyRequest } from 'fastify'
import pino from 'pino'
import { test } from 'tap'
import { ClientTokenSet, refuseInvalidToken } from '../../../src/guards/client-token.ts'
import { KEYS_RETRY_AFTER_SECONDS, visitorTokenGuard } from '../../../src/guards/visitor-token.ts'
import type { ProblemError } from '../../../src/http/errors.ts'
import type { VisitorTokens, VisitorVerdict } from '../../../src/tokens/visitor-tokens.ts'

const CLIENTS = [{ name: 'billing', token: 'billing-token-0123456789' }]
const JWT = 'aaaa.bbbb.cccc'

/** A verifier that answers `verdict` and records what it was asked; `remembered` tokens need no verification. */
function verifier (verdict: VisitorVerdict, remembered: Record<string, string> = {}) {
  const asked: string[] = []
  return {
    asked,
    visitors: { remembered: (token: string) => remembered[token], verify: async (token: string) => { asked.push(token); return verdict } } as unknown as VisitorTokens
  }
}

async function run (headers: Record<string, string>, verdict: VisitorVerdict, options: { requireVisitor?: boolean, requireClient?: boolean, remembered?: Record<string, string> } = {}) {
  const { asked, visitors } = verifier(verdict, options.remembered)
  const reported: VisitorVerdict[] = []
  const guard = visitorTokenGuard({
    clientTokens: new ClientTokenSet(CLIENTS),
    requireClientToken: options.requireClient ?? false,
    visitors,
    requireVisitorToken: options.requireVisitor ?? false,
    onVerdict: (v) => reported.push(v)
  })
  const request = { headers, clientName: null as string | null, visitorId: null as string | null, invalidClientToken: false, invalidVisitorToken: false, log: pino({ level: 'silent' }) }
  const refusal = await new Promise<ProblemError | undefined>((resolve) => {
    guard(request as unknown as FastifyRequest, {} as FastifyReply, (error?: Error) => resolve(error as ProblemError | undefined))
  })
  let deferred: ProblemError | undefined
  refuseInvalidToken(request as unknown as FastifyRequest, {} as FastifyReply, undefined, (error?: Error) => { deferred = error as ProblemError | undefined })
  const bindings = request.log.bindings() as { client?: string, visitor?: string }
  return {
    refusal: refusal?.code,
    refusalHeaders: refusal?.headers,
    deferred: deferred?.code,
    deferredChallenge: deferred?.headers?.['www-authenticate'],
    client: request.clientName,
    visitor: request.visitorId,
    logged: bindings.visitor ?? bindings.client ?? null,
    asked,
    reported
  }
}

const VALID: VisitorVerdict = { valid: true, visitorId: 'v-digest' }
const EXPIRED: VisitorVerdict = { valid: false, reason: 'expired' }

test('a valid visitor token names the visitor (by digest) in the request, which the completion line reads', async (t) => {
  const result = await run({ authorization: `Bearer ${JWT}` }, VALID)
  t.match(result, { refusal: undefined, deferred: undefined, client: null, visitor: 'v-digest', logged: null, asked: [JWT] })
  t.same(result.reported, [VALID])
})

test('a remembered token is taken without verification, and still reported', async (t) => {
  const result = await run({ authorization: `Bearer ${JWT}` }, EXPIRED, { remembered: { [JWT]: 'v-known' } })
  t.match(result, { refusal: undefined, deferred: undefined, visitor: 'v-known', asked: [] })
  t.same(result.reported, [{ valid: true, visitorId: 'v-known' }])
})

test('a configured client token wins and is never sent to the verifier', async (t) => {
  const result = await run({ authorization: 'Bearer billing-token-0123456789' }, VALID)
  t.match(result, { client: 'billing', visitor: null, logged: 'billing', asked: [], reported: [] })
})

test('an invalid visitor token is refused only after the rate limit, with an invalid_token challenge', async (t) => {
  const result = await run({ authorization: `Bearer ${JWT}` }, EXPIRED)
  t.match(result, { refusal: undefined, deferred: 'INVALID_VISITOR_TOKEN', deferredChallenge: 'Bearer error="invalid_token"', visitor: null })
  t.same(result.reported, [EXPIRED], 'the reason is reported for the log and metrics')
})

test('a bearer of no JWT shape that is no client token is INVALID_CLIENT_TOKEN, unverified', async (t) => {
  for (const authorization of ['Bearer not-a-jwt', 'Basic dXNlcjpwYXNz', 'Bearer a.b.c.d']) {
    const result = await run({ authorization }, VALID)
    t.match(result, { deferred: 'INVALID_CLIENT_TOKEN', asked: [], visitor: null }, authorization)
  }
})

test('keys never fetched: 503 VISITOR_KEYS_UNAVAILABLE at once, with Retry-After', async (t) => {
  const result = await run({ authorization: `Bearer ${JWT}` }, { valid: false, reason: 'keys_unavailable' })
  t.equal(result.refusal, 'VISITOR_KEYS_UNAVAILABLE')
  t.same(result.refusalHeaders, { 'retry-after': String(KEYS_RETRY_AFTER_SECONDS) })
  t.equal(KEYS_RETRY_AFTER_SECONDS, 5)
})

test('no Authorization: anonymous; VISITOR_TOKEN_REQUIRED for the browser lane when required; CLIENT_TOKEN_REQUIRED first', async (t) => {
  t.match(await run({}, VALID), { refusal: undefined, deferred: undefined, asked: [] })
  t.match(await run({ origin: 'https://shop.example' }, VALID), { refusal: undefined }, 'not required')
  const required = await run({ origin: 'https://shop.example' }, VALID, { requireVisitor: true })
  t.equal(required.refusal, 'VISITOR_TOKEN_REQUIRED')
  t.same(required.refusalHeaders, { 'www-authenticate': 'Bearer' })
  t.match(await run({}, VALID, { requireVisitor: true }), { refusal: undefined }, 'no Origin: a service, not the browser lane')
  t.equal((await run({ origin: 'https://shop.example' }, VALID, { requireVisitor: true, requireClient: true })).refusal, 'CLIENT_TOKEN_REQUIRED')
})
