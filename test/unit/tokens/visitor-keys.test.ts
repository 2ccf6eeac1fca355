// The remote key set of visitor tokens against a real JWKS server on loopback: fetched at
// start, refetched for an unknown kid at most once per cooldown (no fetch storm from forged
// kids), kept through the host's outages, never fetched through a redirect, and "never
// fetched" told apart from "unknown kid". The clock is moved by hand.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose'
import type { JWK } from 'jose'
import { Agent } from 'undici'
import { test } from 'tap'
import { until } from '../../helpers/waiting.ts'
import { JWKS_MAX_AGE_MS, MAX_JWKS_BYTES, VisitorKeySet } from '../../../src/tokens/visitor-keys.ts'
import { VisitorTokens } from '../../../src/tokens/visitor-tokens.ts'
import type { Test } from 'tap'

const ISSUER = 'https://shop.example'
const AUDIENCE = 'hottask-proxy'
const COOLDOWN_MS = 30_000

interface Jwks {
  url: string
  fetches: () => number
  /** What the next requests get: a key set, a status, a redirect, raw bytes, or nothing at all. */
  serve: (answer: { keys: JWK[] } | { status: number } | { redirect: string } | { raw: string } | 'hang') => void
}

async function jwksServer (t: Test): Promise<Jwks> {
  let answer: Parameters<Jwks['serve']>[0] = { keys: [] }
  let fetches = 0
  const server = createServer((request, response) => {
    fetches++
    if (answer === 'hang') return
    if ('status' in answer) response.writeHead(answer.status).end('{}')
    else if ('redirect' in answer) response.writeHead(302, { location: answer.redirect }).end()
    else if ('raw' in answer) response.writeHead(200, { 'content-type': 'application/json' }).end(answer.raw)
    else response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(answer))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/jwks.json`, fetches: () => fetches, serve: (next) => { answer = next } }
}

async function signer (kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid, alg: 'ES256', use: 'sig' }
  const sign = async (now: number, sub = 'user-1') => await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid })
    .setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(now / 1000) + 300).sign(privateKey)
  return { jwk, sign }
}

function clock () {
  let now = Date.UTC(2026, 11, 5, 12)
  return { now: () => now, advance: (ms: number) => { now += ms } }
}

/** A host serving one key, visitor tokens on a clock moved by hand, and one token verified (so the set was fetched). */
async function fetchedOnce (t: Test) {
  const jwks = await jwksServer(t)
  const key = await signer('k1')
  jwks.serve({ keys: [key.jwk] })
  const time = clock()
  const visitors = tokens(jwks.url, time.now)
  t.teardown(() => visitors.close())
  t.equal((await visitors.verify(await key.sign(time.now()))).valid, true)
  return { jwks, key, time, visitors }
}

function tokens (url: string, now: () => number) {
  const visitors = new VisitorTokens({ keys: { kind: 'jwks', url, cooldownMs: COOLDOWN_MS }, issuer: ISSUER, audience: AUDIENCE, maxTtlSeconds: 3600, required: false }, { now })
  return visitors
}

test('the set is fetched at start; a token signed by one of its keys is valid', async (t) => {
  const jwks = await jwksServer(t)
  const first = await signer('k1')
  jwks.serve({ keys: [first.jwk] })
  const time = clock()
  const set = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS, now: time.now })
  t.teardown(() => set.close())
  t.equal(await set.start(), true)
  t.ok(set.ready)
  const visitors = tokens(jwks.url, time.now)
  t.teardown(() => visitors.close())
  t.equal((await visitors.verify(await first.sign(time.now()))).valid, true)
})

test('rotation: a new kid is fetched once the cooldown has passed; unknown kids within it cause no fetch', async (t) => {
  const jwks = await jwksServer(t)
  const first = await signer('k1')
  const second = await signer('k2')
  jwks.serve({ keys: [first.jwk] })
  const time = clock()
  const visitors = tokens(jwks.url, time.now)
  t.teardown(() => visitors.close())
  t.equal((await visitors.verify(await first.sign(time.now()))).valid, true)
  t.equal(jwks.fetches(), 1)

  jwks.serve({ keys: [first.jwk, second.jwk] })
  // Within the cooldown of the first fetch, an unknown kid is refused without a fetch.
  t.same(await visitors.verify(await second.sign(time.now())), { valid: false, reason: 'unknown_kid' })
  t.equal(jwks.fetches(), 1, 'no fetch within the cooldown')

  time.advance(COOLDOWN_MS)
  t.equal((await visitors.verify(await second.sign(time.now()))).valid, true, 'the rotated key is fetched and accepted')
  t.equal(jwks.fetches(), 2)
})

test('attack: a flood of tokens with forged kids makes at most one fetch per cooldown', async (t) => {
  const jwks = await jwksServer(t)
  const known = await signer('k1')
  jwks.serve({ keys: [known.jwk] })
  const time = clock()
  const visitors = tokens(jwks.url, time.now)
  t.teardown(() => visitors.close())
  await visitors.verify(await known.sign(time.now()))
  time.advance(COOLDOWN_MS)
  const forged = await Promise.all(Array.from({ length: 20 }, async (_, i) => await (await signer(`forged-${i}`)).sign(time.now())))
  const verdicts = await Promise.all(forged.map(async (token) => await visitors.verify(token)))
  t.ok(verdicts.every((verdict) => !verdict.valid && verdict.reason === 'unknown_kid'))
  t.equal(jwks.fetches(), 2, 'twenty forged kids after the cooldown: one fetch between them')
  for (const token of forged) await visitors.verify(token)
  t.equal(jwks.fetches(), 2, 'and none more within the next cooldown')
})

test('never fetched: tokens are unjudgeable (keys_unavailable), a retry runs in the background, and the start did not fail', async (t) => {
  const jwks = await jwksServer(t)
  const key = await signer('k1')
  jwks.serve({ status: 503 })
  const time = clock()
  const errors: string[] = []
  const set = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS, now: time.now, onFetchError: (cause) => errors.push(cause) })
  t.teardown(() => set.close())
  t.equal(await set.start(), false, 'the start resolves; it never throws')
  t.same(errors, ['status_503'])
  const visitors = tokens(jwks.url, time.now)
  t.teardown(() => visitors.close())
  t.same(await visitors.verify(await key.sign(time.now())), { valid: false, reason: 'keys_unavailable' })
  const fetches = jwks.fetches()
  t.same(await visitors.verify(await key.sign(time.now())), { valid: false, reason: 'keys_unavailable' })
  t.equal(jwks.fetches(), fetches, 'a second token right after a failed fetch does not fetch again')

  jwks.serve({ keys: [key.jwk] })
  // The background retry (500 ms after the failure) fetches the set by itself.
  for (let i = 0; i < 50 && !set.ready; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(set.ready, 'fetched by the background retry')
  time.advance(1000)
  t.equal((await visitors.verify(await key.sign(time.now()))).valid, true, 'once the host answers, tokens verify')
})

test('a set once fetched is kept through the host\'s outage, and refreshed in the background when old', async (t) => {
  const { jwks, key, time, visitors } = await fetchedOnce(t)
  jwks.serve({ status: 500 })
  time.advance(JWKS_MAX_AGE_MS)
  t.equal((await visitors.verify(await key.sign(time.now()))).valid, true, 'the old set still verifies while the refresh fails')
  await until(() => jwks.fetches() >= 2, 'fetch 2')
  t.equal(jwks.fetches(), 2, 'a refresh was tried')
})

test('a redirect is not followed, and an oversized or malformed set is refused', async (t) => {
  const jwks = await jwksServer(t)
  const key = await signer('k1')
  const good = await jwksServer(t)
  good.serve({ keys: [key.jwk] })
  for (const [answer, cause] of [
    [{ redirect: good.url }, 'status_302'],
    [{ raw: JSON.stringify({ keys: [key.jwk], pad: 'x'.repeat(MAX_JWKS_BYTES) }) }, 'too_large'],
    [{ raw: '{"keys":"nope"}' }, 'invalid'],
    [{ raw: 'not json' }, 'invalid']
  ] as const) {
    jwks.serve(answer)
    const errors: string[] = []
    const set = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS, onFetchError: (c) => errors.push(c) })
    t.equal(await set.start(), false, cause)
    set.close()
    t.same(errors, [cause])
  }
  t.equal(good.fetches(), 0, 'the redirect target was never asked')
})

test('attack: while the host fails, an old set is refreshed at most once per cooldown, whatever the traffic', async (t) => {
  const { jwks, key, time, visitors } = await fetchedOnce(t)
  jwks.serve({ status: 500 })
  time.advance(JWKS_MAX_AGE_MS)
  for (let i = 0; i < 20; i++) {
    t.equal((await visitors.verify(await key.sign(time.now(), `user-${i}`))).valid, true)
    await new Promise((resolve) => setImmediate(resolve))
  }
  // Let the one background refresh finish before counting.
  await until(() => jwks.fetches() >= 2, 'fetch 2')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(jwks.fetches(), 2, 'one refresh for twenty tokens')
  time.advance(COOLDOWN_MS)
  await visitors.verify(await key.sign(time.now(), 'user-late'))
  await until(() => jwks.fetches() >= 3, 'fetch 3')
  t.equal(jwks.fetches(), 3, 'and the next one a cooldown later')
})

test('a set of exactly the size cap is read; one byte more is too large', async (t) => {
  const key = await signer('k1')
  const set = JSON.stringify({ keys: [key.jwk] })
  const fill = (size: number): string => set.slice(0, -1) + ' '.repeat(size - set.length) + '}'
  const jwks = await jwksServer(t)
  for (const [size, started, errors] of [[MAX_JWKS_BYTES, true, []], [MAX_JWKS_BYTES + 1, false, ['too_large']]] as const) {
    jwks.serve({ raw: fill(size) })
    const seen: string[] = []
    const keys = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS, onFetchError: (cause) => seen.push(cause) })
    t.equal(await keys.start(), started, `${size} bytes`)
    keys.close()
    t.same(seen, errors)
  }
})

test('the set is asked for with GET; ready says whether one arrived; close stops the retries', async (t) => {
  const methods: string[] = []
  const server = createServer((request, response) => { methods.push(request.method!); response.writeHead(503).end() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const set = new VisitorKeySet({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, cooldownMs: COOLDOWN_MS })
  t.equal(set.ready, false)
  t.equal(await set.start(), false)
  t.same(methods, ['GET'])
  set.close()
  // The first retry would come 500 ms after the failure.
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.same(methods, ['GET'], 'no retry after close')
  t.equal(set.ready, false)
})

test('the set is asked for as a JWK set, and a refused answer is drained so that its one connection serves the next fetch', async (t) => {
  const accepts: Array<string | undefined> = []
  const server = createServer((request, response) => {
    accepts.push(request.headers.accept)
    // More than the body stream buffers (so, left unread, it would hold the connection), less
    // than the 128 KiB that dump() reads before it gives the connection up.
    response.writeHead(503).end('x'.repeat(120 * 1024))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  // One connection per host: an answer left unread would block the next fetch until its timeout.
  const dispatcher = new Agent({ connections: 1 })
  t.teardown(async () => { server.closeAllConnections(); server.close(); await dispatcher.close() })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
  for (const attempt of [1, 2]) {
    const errors: string[] = []
    const set = new VisitorKeySet({ url, cooldownMs: COOLDOWN_MS, dispatcher, onFetchError: (cause) => errors.push(cause) })
    t.equal(await set.start(), false, `attempt ${attempt}`)
    set.close()
    t.same(errors, ['status_503'], 'answered, not timed out')
  }
  t.same(accepts, ['application/jwk-set+json, application/json', 'application/jwk-set+json, application/json'])
})

test('a fetch that outlasts its timeout, or a host that refuses the connection, is a failed fetch with its cause', async (t) => {
  const jwks = await jwksServer(t)
  jwks.serve('hang')
  const errors: string[] = []
  const hanging = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS, timeoutMs: 50, onFetchError: (cause) => errors.push(cause) })
  t.equal(await hanging.start(), false)
  hanging.close()
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise((resolve) => closed.close(resolve))
  const refused = new VisitorKeySet({ url: `http://127.0.0.1:${port}/jwks.json`, cooldownMs: COOLDOWN_MS, onFetchError: (cause) => errors.push(cause) })
  t.equal(await refused.start(), false)
  refused.close()
  t.same(errors, ['timeout', 'ECONNREFUSED'])
})

/** A set whose start failed (the host answers 503), with its background retry stopped, on a clock moved by hand. */
async function neverFetched (t: Test) {
  const jwks = await jwksServer(t)
  const key = await signer('k1')
  jwks.serve({ status: 503 })
  const time = clock()
  const set = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS, now: time.now })
  t.teardown(() => set.close())
  t.equal(await set.start(), false)
  // Only the lookups fetch from here on: the retry that the failure scheduled is cancelled.
  set.close()
  jwks.serve({ keys: [key.jwk] })
  const verify = async () => await jwtVerify(await key.sign(time.now()), set.lookup, { issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(time.now()) })
  return { jwks, key, time, set, verify }
}

test('never fetched: a lookup tries the host again once the retry interval (doubled by the failure) has passed on the clock, not before', async (t) => {
  const { jwks, time, set, verify } = await neverFetched(t)
  // The failure at start scheduled a retry in 500 ms and doubled the interval to 1000 ms.
  time.advance(999)
  await t.rejects(verify(), { code: 'VISITOR_KEYS_UNAVAILABLE', message: 'no visitor key set yet' })
  t.equal(jwks.fetches(), 1, 'no fetch within the interval')
  time.advance(1)
  t.match(await verify(), { payload: { sub: 'user-1' } }, 'fetched at exactly the interval, and the token verifies')
  t.equal(jwks.fetches(), 2)
  t.ok(set.ready)
})

test('never fetched: a lookup whose own fetch fails says the keys are unavailable', async (t) => {
  const { jwks, time, verify } = await neverFetched(t)
  jwks.serve({ status: 500 })
  time.advance(1000)
  await t.rejects(verify(), { code: 'VISITOR_KEYS_UNAVAILABLE', message: 'no visitor key set yet' })
  t.equal(jwks.fetches(), 2, 'it did try')
})

test('a set closed while its first fetch is in flight schedules no retry when that fetch fails', async (t) => {
  const jwks = await jwksServer(t)
  jwks.serve({ status: 503 })
  const set = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS })
  const started = set.start()
  set.close()
  t.equal(await started, false)
  // The first retry would come 500 ms after the failure.
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.equal(jwks.fetches(), 1, 'no retry after close')
})

test('a background retry that finds the set already fetched by a lookup does not fetch again', async (t) => {
  const jwks = await jwksServer(t)
  const key = await signer('k1')
  jwks.serve({ status: 503 })
  const time = clock()
  const set = new VisitorKeySet({ url: jwks.url, cooldownMs: COOLDOWN_MS, now: time.now })
  t.teardown(() => set.close())
  t.equal(await set.start(), false, 'failed: a retry is due in 500 ms')
  jwks.serve({ keys: [key.jwk] })
  time.advance(1000)
  await jwtVerify(await key.sign(time.now()), set.lookup, { issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(time.now()) })
  t.equal(jwks.fetches(), 2, 'the lookup fetched the set')
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.equal(jwks.fetches(), 2, 'the retry that came due found it and did not fetch')
})
