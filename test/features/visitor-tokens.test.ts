// Visitor tokens over real sockets: the site's backend signs, the proxy verifies against a
// real JWKS served on loopback (rotated, and unreachable), and the visitor's identity keys the
// rate limit and binds the session. Every refusal is a 401 or 503 that reaches no upstream.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose'
import type { JWK } from 'jose'
import { test } from 'tap'
import type { Test } from 'tap'
import { setup } from '../helpers/setup.ts'
import { listen } from '../helpers/sockets.ts'
import { visitorIdOf } from '../../src/tokens/visitor-tokens.ts'

const ISSUER = 'https://shop.example'
const AUDIENCE = 'hottask-proxy'
const SHOP = 'https://shop.example'
const HS_SECRET = 'visitor-jwt-secret-0123456789abcdef!'
const BILLING = 'billing-token-0123456789abcdef'
const COOLDOWN_MS = 60_000

/** A movable clock: real time plus whatever a test adds. */
function clock () {
  let offset = 0
  return { now: () => Date.now() + offset, advance: (ms: number) => { offset += ms } }
}

interface JwksHost { url: string, fetches: () => number, serve: (keys: JWK[] | number) => void }

async function jwksHost (t: Test): Promise<JwksHost> {
  let answer: JWK[] | number = []
  let fetches = 0
  const server = createServer((_request, response) => {
    fetches++
    if (typeof answer === 'number') response.writeHead(answer).end()
    else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: answer }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, fetches: () => fetches, serve: (next) => { answer = next } }
}

async function keyPair (kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid, alg: 'ES256' }
  const sign = async (claims: { sub?: string, iss?: string, aud?: string, exp?: number, nbf?: number }, now = Date.now()) => {
    const s = Math.floor(now / 1000)
    const jwt = new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setIssuedAt(s).setExpirationTime(claims.exp ?? s + 300)
      .setIssuer(claims.iss ?? ISSUER).setAudience(claims.aud ?? AUDIENCE).setSubject(claims.sub ?? 'user-1')
    if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf)
    return await jwt.sign(privateKey)
  }
  return { jwk, sign }
}

const hs = async (sub: string, secret = HS_SECRET) => await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuedAt()
  .setExpirationTime('5m').setIssuer(ISSUER).setAudience(AUDIENCE).setSubject(sub).sign(new TextEncoder().encode(secret))

const VISITORS = { VISITOR_JWT_SECRET: HS_SECRET, VISITOR_JWT_ISSUER: ISSUER, VISITOR_JWT_AUDIENCE: AUDIENCE, CORS_ORIGINS: SHOP, CLIENT_TOKENS: `billing:${BILLING}` }
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, origin: SHOP })

test('a visitor token creates a session bound to that visitor; its messages need the same visitor', async (t) => {
  const { app, upstream, logs } = await setup(t, VISITORS)
  const call = await listen(app)
  const alice = await hs('alice@shop.example')
  const created = await call('POST', '/sessions', { headers: bearer(alice), body: { serialNumber: 'abc' } })
  t.equal(created.status, 201)
  const { sessionId, sessionToken } = created.json() as { sessionId: number, sessionToken: string }
  const message = (headers: Record<string, string>) => call('POST', `/sessions/${sessionId}/messages`, { headers: { ...headers, 'session-token': sessionToken }, body: { content: 'hi' } })
  t.equal((await message(bearer(alice))).status, 200, 'the same visitor')
  const other = await message(bearer(await hs('bob@shop.example')))
  t.equal(other.status, 401)
  t.equal(other.json().code, 'INVALID_SESSION_TOKEN', 'another visitor cannot use the session')
  t.equal((await message({ origin: SHOP })).json().code, 'INVALID_SESSION_TOKEN', 'nor a caller without a visitor token')
  const line = logs.entries.find((e) => e.msg === 'request completed' && e.visitor !== undefined)
  t.equal(line?.visitor, visitorIdOf(ISSUER, 'alice@shop.example'), 'the completion line names the visitor by digest')
  t.notOk(logs.text.includes('alice@shop.example'), 'never by subject')
  t.notOk(logs.text.includes(alice), 'and never holds the token')
  t.equal(upstream.count(), 2)
})

test('REQUIRE_VISITOR_TOKEN: a browser request with neither token is 401 VISITOR_TOKEN_REQUIRED; a service without Origin and a client token pass', async (t) => {
  const { app, upstream } = await setup(t, { ...VISITORS, REQUIRE_VISITOR_TOKEN: 'true' })
  const call = await listen(app)
  const refused = await call('POST', '/sessions', { headers: { origin: SHOP }, body: { serialNumber: 'abc' } })
  t.equal(refused.status, 401)
  t.equal(refused.json().code, 'VISITOR_TOKEN_REQUIRED')
  t.equal(refused.headers['www-authenticate'], 'Bearer')
  t.equal(upstream.count(), 0)
  t.equal((await call('POST', '/sessions', { headers: { origin: SHOP, authorization: `Bearer ${BILLING}` }, body: { serialNumber: 'abc' } })).status, 201, 'a client token')
  t.equal((await call('POST', '/sessions', { headers: bearer(await hs('alice')), body: { serialNumber: 'abc' } })).status, 201, 'a visitor token')
  t.equal((await call('POST', '/sessions', { body: { serialNumber: 'abc' } })).status, 201, 'no Origin: not the browser lane')
  const message = await call('POST', '/sessions/100001/messages', { headers: { origin: SHOP, 'session-token': 'v1.x.y' }, body: { content: 'hi' } })
  t.equal(message.json().code, 'VISITOR_TOKEN_REQUIRED', 'messages too')
})

test('every invalid visitor token is 401 INVALID_VISITOR_TOKEN with the same detail; the log says why, never the token', async (t) => {
  const jwks = await jwksHost(t)
  const key = await keyPair('k1')
  const stranger = await keyPair('k1')
  jwks.serve([key.jwk])
  const { app, upstream, logs, metrics } = await setup(t, {
    VISITOR_JWKS_URL: jwks.url, VISITOR_JWT_ISSUER: ISSUER, VISITOR_JWT_AUDIENCE: AUDIENCE, CORS_ORIGINS: SHOP, VISITOR_JWKS_COOLDOWN_MS: String(COOLDOWN_MS)
  })
  const call = await listen(app)
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, string, string]> = [
    ['bad signature', await stranger.sign({}), 'signature'],
    ['wrong issuer', await key.sign({ iss: 'https://evil.example' }), 'claims'],
    ['wrong audience', await key.sign({ aud: 'other' }), 'claims'],
    ['expired', await key.sign({ exp: now - 60 }), 'expired'],
    ['not yet valid', await key.sign({ nbf: now + 120 }), 'not_yet_valid'],
    ['unknown kid', await (await keyPair('k9')).sign({}), 'unknown_kid'],
    ['alg none', new UnsecuredJWT({ sub: 'x', iss: ISSUER, aud: AUDIENCE, exp: now + 60 }).encode(), 'algorithm'],
    ['HS256 signed with the public key', await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setSubject('x').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1m').sign(new TextEncoder().encode(JSON.stringify(key.jwk))), 'algorithm']
  ]
  const details = new Set<string>()
  for (const [name, token, reason] of cases) {
    const res = await call('POST', '/sessions', { headers: bearer(token), body: { serialNumber: 'abc' } })
    t.equal(res.status, 401, name)
    t.equal(res.json().code, 'INVALID_VISITOR_TOKEN', name)
    t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', name)
    details.add(res.json().detail as string)
    t.ok(logs.entries.some((e) => e.msg === 'visitor token refused' && e.reason === reason), `${name}: logged as ${reason}`)
    t.notOk(logs.text.includes(token), `${name}: the token is never logged`)
  }
  t.equal(details.size, 1, 'the detail never says which check failed')
  t.equal(upstream.count(), 0)
  t.equal(jwks.fetches(), 1, 'the unknown kid within the cooldown fetched nothing')
  t.match(await metrics.render(), /hottask_proxy_visitor_tokens_total\{outcome="expired"\} 1/)
})

test('attack: guessing visitor tokens is throttled — an invalid one counts against the address before its 401', async (t) => {
  const { app } = await setup(t, { ...VISITORS, RATE_LIMIT_MAX: '2' })
  const call = await listen(app)
  const forged = await hs('alice', 'x'.repeat(40))
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await call('POST', '/sessions', { headers: bearer(forged), body: { serialNumber: 'abc' } })).status)
  t.same(statuses, [401, 401, 429])
})

test('attack: a pool of visitors behind one address each get their own limit, and one visitor from many cannot escape theirs', async (t) => {
  const { app } = await setup(t, { ...VISITORS, RATE_LIMIT_MAX: '2' })
  const call = await listen(app)
  const post = async (sub: string) => (await call('POST', '/sessions', { headers: bearer(await hs(sub)), body: { serialNumber: 'abc' } })).status
  t.same([await post('alice'), await post('alice'), await post('alice')], [201, 201, 429], 'alice\'s limit')
  t.equal(await post('bob'), 201, 'bob behind the same address is not limited by alice')
})

test('a rotated JWKS: the new kid is fetched once the cooldown has passed', async (t) => {
  const jwks = await jwksHost(t)
  const first = await keyPair('k1')
  const second = await keyPair('k2')
  jwks.serve([first.jwk])
  const time = clock()
  const { app } = await setup(t, {
    VISITOR_JWKS_URL: jwks.url, VISITOR_JWT_ISSUER: ISSUER, VISITOR_JWT_AUDIENCE: AUDIENCE, CORS_ORIGINS: SHOP, VISITOR_JWKS_COOLDOWN_MS: String(COOLDOWN_MS)
  }, { deps: { now: time.now } })
  const call = await listen(app)
  const post = async (token: string) => (await call('POST', '/sessions', { headers: bearer(token), body: { serialNumber: 'abc' } })).status
  t.equal(await post(await first.sign({}, time.now())), 201)
  jwks.serve([first.jwk, second.jwk])
  t.equal(await post(await second.sign({}, time.now())), 401, 'within the cooldown the new kid is unknown')
  time.advance(COOLDOWN_MS)
  t.equal(await post(await second.sign({}, time.now())), 201, 'after it, the set is refetched')
  t.equal(jwks.fetches(), 2)
})

test('a JWKS never fetched: the start succeeds, and tokens get 503 VISITOR_KEYS_UNAVAILABLE with Retry-After until the keys arrive', async (t) => {
  const jwks = await jwksHost(t)
  const key = await keyPair('k1')
  jwks.serve(503)
  const { app, upstream } = await setup(t, { VISITOR_JWKS_URL: jwks.url, VISITOR_JWT_ISSUER: ISSUER, VISITOR_JWT_AUDIENCE: AUDIENCE, CORS_ORIGINS: SHOP })
  const call = await listen(app)
  t.equal((await call('GET', '/readyz')).status, 200, 'the service is up')
  const res = await call('POST', '/sessions', { headers: bearer(await key.sign({})), body: { serialNumber: 'abc' } })
  t.equal(res.status, 503)
  t.equal(res.json().code, 'VISITOR_KEYS_UNAVAILABLE')
  t.equal(res.headers['retry-after'], '5')
  t.equal((await call('POST', '/sessions', { headers: { origin: SHOP }, body: { serialNumber: 'abc' } })).status, 201, 'callers without a token are unaffected')
  jwks.serve([key.jwk])
  let status = 0
  for (let i = 0; i < 50 && status !== 201; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    status = (await call('POST', '/sessions', { headers: bearer(await key.sign({})), body: { serialNumber: 'abc' } })).status
  }
  t.equal(status, 201, 'the set is fetched once the host answers')
  t.equal(upstream.count(), 2)
})

test('a client token still names a service; a non-JWT bearer that is no client token is INVALID_CLIENT_TOKEN', async (t) => {
  const { app } = await setup(t, VISITORS)
  const call = await listen(app)
  t.equal((await call('POST', '/sessions', { headers: { authorization: `Bearer ${BILLING}` }, body: { serialNumber: 'abc' } })).status, 201)
  const res = await call('POST', '/sessions', { headers: { authorization: 'Bearer not-a-jwt-and-no-client' }, body: { serialNumber: 'abc' } })
  t.equal(res.json().code, 'INVALID_CLIENT_TOKEN')
})
