// Visitor tokens alone: what jose is asked to accept (algorithms by key source, issuer,
// audience, exp and sub, 30 s of leeway, the lifetime ceiling) and the identity they give.
import { generateKeyPairSync } from 'node:crypto'
import { jwtVerify, SignJWT, UnsecuredJWT } from 'jose'
import { test } from 'tap'
import type { VisitorTokenConfig } from '../../../src/config/config.ts'
import { algorithmsFor, CLOCK_LEEWAY_S, hasJwtShape, visitorIdOf, VisitorTokens } from '../../../src/tokens/visitor-tokens.ts'

const SECRET = 'visitor-jwt-secret-0123456789abcdef!'
const ISSUER = 'https://shop.example'
const AUDIENCE = 'hottask-proxy'
const NOW = Date.UTC(2026, 11, 5, 12, 0, 0)
const NOW_S = NOW / 1000

const config = (keys: VisitorTokenConfig['keys'], maxTtlSeconds = 3600): VisitorTokenConfig =>
  ({ keys, issuer: ISSUER, audience: AUDIENCE, maxTtlSeconds, required: false })

interface Claims { sub?: string, iss?: string, aud?: string, iat?: number, exp?: number, nbf?: number }

async function sign (claims: Claims, key: Parameters<SignJWT['sign']>[0] = new TextEncoder().encode(SECRET), alg = 'HS256'): Promise<string> {
  const { sub, iss, aud, iat, exp, nbf } = { sub: 'user-42', iss: ISSUER, aud: AUDIENCE, iat: NOW_S, exp: NOW_S + 600, ...claims }
  const jwt = new SignJWT({}).setProtectedHeader({ alg })
  if (sub !== undefined) jwt.setSubject(sub)
  if (iss !== undefined) jwt.setIssuer(iss)
  if (aud !== undefined) jwt.setAudience(aud)
  if (iat !== undefined) jwt.setIssuedAt(iat)
  if (exp !== undefined) jwt.setExpirationTime(exp)
  if (nbf !== undefined) jwt.setNotBefore(nbf)
  return await jwt.sign(key)
}

const hs = new VisitorTokens(config({ kind: 'secret', secret: SECRET }), { now: () => NOW })

test('a valid HS256 token gives the subject\'s identity: a digest, not the subject', async (t) => {
  const verdict = await hs.verify(await sign({}))
  t.same(verdict, { valid: true, visitorId: visitorIdOf(ISSUER, 'user-42') })
  t.match(visitorIdOf(ISSUER, 'user-42'), /^[A-Za-z0-9_-]{22}$/)
  t.not(visitorIdOf(ISSUER, 'user-42'), visitorIdOf('https://other.example', 'user-42'), 'the issuer is part of the identity')
  t.not(visitorIdOf(ISSUER, 'user-42'), visitorIdOf(ISSUER, 'user-43'))
  t.not(visitorIdOf('a\u0000b', 'c'), visitorIdOf('a', 'b\u0000c'), 'fields cannot be shifted into each other')
})

test('each refusal has its reason (for the log, never the caller)', async (t) => {
  const cases: Array<[string, Promise<string> | string, string]> = [
    ['another secret', sign({}, new TextEncoder().encode('x'.repeat(40))), 'signature'],
    ['wrong issuer', sign({ iss: 'https://evil.example' }), 'claims'],
    ['wrong audience', sign({ aud: 'someone-else' }), 'claims'],
    ['no sub', sign({ sub: undefined }), 'claims'],
    ['no exp', sign({ exp: undefined }), 'claims'],
    ['expired beyond the leeway', sign({ iat: NOW_S - 700, exp: NOW_S - 31 }), 'expired'],
    ['not yet valid beyond the leeway', sign({ nbf: NOW_S + 31 }), 'not_yet_valid'],
    ['alg none', new UnsecuredJWT({ sub: 'user-42', iss: ISSUER, aud: AUDIENCE, exp: NOW_S + 60 }).encode(), 'algorithm'],
    ['not a JWT', 'abc.def', 'malformed'],
    ['too long', `${'a'.repeat(8000)}.${'b'.repeat(100)}.${'c'.repeat(100)}`, 'malformed']
  ]
  for (const [name, token, reason] of cases) t.same(await hs.verify(await token), { valid: false, reason }, name)
})

test('attack: an iat in the future cannot shorten the lifetime the ceiling sees', async (t) => {
  const short = new VisitorTokens(config({ kind: 'secret', secret: SECRET }, 600), { now: () => NOW })
  t.same(await short.verify(await sign({ iat: NOW_S + 86400 * 365, exp: NOW_S + 86400 * 365 + 60 })), { valid: false, reason: 'not_yet_valid' }, 'issued next year')
  t.same(await short.verify(await sign({ iat: NOW_S + 31, exp: NOW_S + 600 })), { valid: false, reason: 'not_yet_valid' }, 'beyond the leeway')
  t.equal((await short.verify(await sign({ iat: NOW_S + 30, exp: NOW_S + 600 }))).valid, true, 'within the leeway')
  t.same(await short.verify(await sign({ iat: NOW_S + 30, exp: NOW_S + 601 })), { valid: false, reason: 'lifetime' }, 'and then its lifetime counts from now')
})

test('30 s of clock leeway for exp and nbf', async (t) => {
  t.equal((await hs.verify(await sign({ iat: NOW_S - 600, exp: NOW_S - 29 }))).valid, true, 'expired 29 s ago')
  t.equal((await hs.verify(await sign({ nbf: NOW_S + 29 }))).valid, true, 'valid in 29 s')
})

test('a token living longer than VISITOR_JWT_MAX_TTL_S is refused: exp − iat, or exp − now without iat', async (t) => {
  const short = new VisitorTokens(config({ kind: 'secret', secret: SECRET }, 600), { now: () => NOW })
  t.equal((await short.verify(await sign({ iat: NOW_S, exp: NOW_S + 600 }))).valid, true, 'exactly the maximum')
  t.same(await short.verify(await sign({ iat: NOW_S, exp: NOW_S + 601 })), { valid: false, reason: 'lifetime' })
  t.same(await short.verify(await sign({ iat: NOW_S - 500, exp: NOW_S + 200 })), { valid: false, reason: 'lifetime' }, 'its whole life counts, not what is left')
  t.equal((await short.verify(await sign({ iat: undefined, exp: NOW_S + 600 }))).valid, true)
  t.same(await short.verify(await sign({ iat: undefined, exp: NOW_S + 601 })), { valid: false, reason: 'lifetime' })
})

test('attack: algorithm confusion — an HS256 token signed with the public key is refused by a public-key deployment', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const rsa = new VisitorTokens(config({ kind: 'public-key', key: publicKey }), { now: () => NOW })
  t.equal((await rsa.verify(await sign({}, privateKey, 'RS256'))).valid, true, 'its own algorithm works')
  const pemBytes = new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString())
  t.same(await rsa.verify(await sign({}, pemBytes, 'HS256')), { valid: false, reason: 'algorithm' })
  t.same(await hs.verify(await sign({}, privateKey, 'RS256')), { valid: false, reason: 'algorithm' }, 'and a secret deployment takes no RS256')
})

test('the algorithms follow the key source', async (t) => {
  const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).publicKey
  t.same(algorithmsFor({ kind: 'secret', secret: SECRET }), ['HS256'])
  t.same(algorithmsFor({ kind: 'public-key', key: ec('P-256') }), ['ES256'])
  t.same(algorithmsFor({ kind: 'public-key', key: ec('P-384') }), ['ES384'])
  t.same(algorithmsFor({ kind: 'public-key', key: ec('P-521') }), ['ES512'])
  t.same(algorithmsFor({ kind: 'public-key', key: generateKeyPairSync('ed25519').publicKey }), ['EdDSA', 'Ed25519'])
  t.same(algorithmsFor({ kind: 'public-key', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey }), ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'])
  const jwks = algorithmsFor({ kind: 'jwks', url: 'https://x', cooldownMs: 1 })
  t.notOk(jwks.some((alg) => alg.startsWith('HS') || alg === 'none'), 'a key set never verifies HS or none')
})

test('the JWT shape: three base64url parts (the last may be empty: alg none), bounded', async (t) => {
  t.ok(hasJwtShape('a.b.c'))
  t.ok(hasJwtShape('a.b.'), 'an unsigned token is judged, and refused, as a visitor token')
  for (const bad of ['a.b', 'a.b.c.d', '.b.c', 'a..c', 'a+b.c.d', 'a.b.c ', `${'a'.repeat(8190)}.b.c`]) t.notOk(hasJwtShape(bad), bad)
})

/** Visitor tokens on a clock moved by hand, counting jose's verifications. */
function counted () {
  let now = NOW
  let calls = 0
  const tokens = new VisitorTokens(config({ kind: 'secret', secret: SECRET }), {
    now: () => now,
    verifyJwt: (async (...args: Parameters<typeof jwtVerify>) => { calls++; return await jwtVerify(...args) }) as typeof jwtVerify
  })
  return { tokens, calls: () => calls, advance: (ms: number) => { now += ms } }
}

test('a verified token is verified once, then its verdict is reused for at most VERIFIED_TTL_MS', async (t) => {
  const { tokens, calls, advance } = counted()
  const token = await sign({ exp: NOW_S + 3000 })
  const verdict = await tokens.verify(token)
  t.equal(verdict.valid, true)
  t.same(await tokens.verify(token), verdict)
  t.equal(calls(), 1, 'the second request verified nothing')
  advance(59_999)
  await tokens.verify(token)
  t.equal(calls(), 1, 'still within the minute')
  advance(1)
  t.same(await tokens.verify(token), verdict)
  t.equal(calls(), 2, 'then it is verified again')
})

test('a remembered verdict never outlives the token: at exp plus the leeway it is verified again, and refused', async (t) => {
  const { tokens, calls, advance } = counted()
  const token = await sign({ exp: NOW_S + 10 })
  t.equal((await tokens.verify(token)).valid, true)
  advance((10 + CLOCK_LEEWAY_S) * 1000 - 1)
  t.equal((await tokens.verify(token)).valid, true)
  t.equal(calls(), 1)
  advance(1)
  t.same(await tokens.verify(token), { valid: false, reason: 'expired' })
  t.equal(calls(), 2)
})

test('refused tokens are never remembered, and the memory is bounded (the oldest forgotten first)', async (t) => {
  const { tokens, calls } = counted()
  const forged = await sign({}, new TextEncoder().encode('y'.repeat(40)))
  await tokens.verify(forged)
  await tokens.verify(forged)
  t.equal(calls(), 2, 'a refusal is judged every time')
  const first = await sign({ sub: 'first' })
  await tokens.verify(first)
  // 4096 verdicts are kept: the first is forgotten when the 4097th comes.
  for (let i = 0; i < 4095; i++) await tokens.verify(await sign({ sub: `v${i}` }))
  let before = calls()
  await tokens.verify(first)
  t.equal(calls(), before, 'still remembered with 4096 kept')
  await tokens.verify(await sign({ sub: 'one more' }))
  before = calls()
  await tokens.verify(first)
  t.equal(calls(), before + 1, 'the oldest was forgotten')
})

test('a visitor\'s identity is the same from one version to the next: quotas and session bindings are kept under it', async (t) => {
  t.equal(visitorIdOf(ISSUER, 'user-42'), '_RhzoYhuAnx5cIFHooyQpQ')
})

test('the algorithms of a key set, and of RSA-PSS and unlisted EC curves', async (t) => {
  t.same(algorithmsFor({ kind: 'jwks', url: 'https://x', cooldownMs: 1 }),
    ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'])
  t.same(algorithmsFor({ kind: 'public-key', key: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey }), ['PS256', 'PS384', 'PS512'])
  t.same(algorithmsFor({ kind: 'public-key', key: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey }), ['ES256'])
})

test('a token of exactly 8192 characters has the shape; the bound is inclusive', async (t) => {
  t.ok(hasJwtShape(`${'a'.repeat(8188)}.b.c`))
})

test('more refusals: an empty subject, a malformed iat, a token jose cannot parse', async (t) => {
  t.same(await hs.verify(await sign({ sub: '' })), { valid: false, reason: 'claims' }, 'empty sub')
  const badIat = await new SignJWT({ iat: 'yesterday' } as unknown as Record<string, unknown>).setProtectedHeader({ alg: 'HS256' })
    .setSubject('user-42').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime(NOW_S + 600).sign(new TextEncoder().encode(SECRET))
  t.same(await hs.verify(badIat), { valid: false, reason: 'claims' }, 'an iat that is not a number')
  t.same(await hs.verify('aaaa.bbbb.cccc'), { valid: false, reason: 'malformed' }, 'of the shape, but no JSON header')
})

test('a value without the JWT shape is refused without asking jose', async (t) => {
  const { tokens, calls } = counted()
  t.same(await tokens.verify('abc.def'), { valid: false, reason: 'malformed' })
  t.equal(calls(), 0)
})

test('two tokens verified are both remembered', async (t) => {
  const { tokens, calls } = counted()
  const a = await sign({ sub: 'a' })
  const b = await sign({ sub: 'b' })
  await tokens.verify(a)
  await tokens.verify(b)
  await tokens.verify(a)
  t.equal(calls(), 2, 'the first is still remembered after the second')
})
