// ALTCHA end to end with real proof of work: challenges made by the checker, solved by
// altcha-lib's own solver (what the widget runs) and sent back as the widget does,
// base64 of JSON. Tampering, expiry, replays (in memory and across two replicas on a
// real Redis) and a Redis that is gone.
import { Buffer } from 'node:buffer'
import { createHmac } from 'node:crypto'
import { createChallenge, solveChallenge } from 'altcha-lib'
import type { Solution } from 'altcha-lib'
import { deriveKey } from 'altcha-lib/algorithms/sha'
import { test } from 'tap'
import { AltchaChecker, DEFAULT_MAX_NUMBER, DEFAULT_TTL_SECONDS } from '../../../src/bot-check/altcha.ts'
import type { AltchaChallenge, AltchaOptions } from '../../../src/bot-check/altcha.ts'
import { MemoryReplayStore, REPLAY_KEY_PREFIX, RedisReplayStore } from '../../../src/bot-check/replay-store.ts'
import type { ReplayStore } from '../../../src/bot-check/replay-store.ts'
import { MAX_TOKEN_LENGTH } from '../../../src/bot-check/verdict.ts'
import { connectRedis, startRedis } from '../../helpers/redis-server.ts'
import { until } from '../../helpers/waiting.ts'

const HMAC_KEY = 'an-hmac-key-of-exactly-32-bytes!'
const VISITOR = { remoteIp: '203.0.113.7' }
const INVALID = { ok: false, reason: 'invalid' }

/** Counts what reaches the replay store: refusals before it must not. */
function countingStore (inner: ReplayStore = new MemoryReplayStore()) {
  const calls: Array<[string, number]> = []
  const store: ReplayStore = { remember: async (id, expiresAtMs) => { calls.push([id, expiresAtMs]); return await inner.remember(id, expiresAtMs) } }
  return { store, calls }
}

function checker (options: Partial<AltchaOptions> = {}): AltchaChecker {
  return new AltchaChecker({ hmacKey: HMAC_KEY, maxNumber: 50, ttlSeconds: 300, replays: new MemoryReplayStore(), ...options })
}

const encode = (payload: unknown): string => Buffer.from(JSON.stringify(payload)).toString('base64')

/** What the widget does: fetch the challenge as JSON, solve it, send base64 of {challenge, solution}. */
async function solved (from: AltchaChecker) {
  const challenge = JSON.parse(JSON.stringify(await from.challenge())) as AltchaChallenge
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 10_000 })
  if (solution === null) throw new Error('the challenge was not solved')
  return { challenge, solution, token: encode({ challenge, solution }) }
}

test('a challenge solved by altcha-lib passes once; the same challenge again is replayed', async (t) => {
  const { store, calls } = countingStore()
  const altcha = checker({ replays: store })
  const { challenge, solution, token } = await solved(altcha)
  t.match(challenge, { parameters: { algorithm: 'SHA-256', cost: 1, keyLength: 32 }, signature: /^[0-9a-f]{64}$/ })
  t.match(challenge.parameters.keyPrefix, /^[0-9a-f]{32}$/, 'deterministic: the prefix names one counter')
  t.ok(Math.abs(challenge.parameters.expiresAt! - (Date.now() / 1000 + 300)) <= 2, 'expires ttlSeconds from now')

  t.same(await altcha.verify(token, VISITOR), { ok: true })
  t.same(calls, [[challenge.signature, challenge.parameters.expiresAt! * 1000]], 'remembered by its signature until it expires')
  t.same(await altcha.verify(token, VISITOR), { ok: false, reason: 'replayed' })
  const again: Solution = { ...solution, time: (solution.time ?? 0) + 1 }
  t.same(await altcha.verify(encode({ challenge, solution: again }), VISITOR), { ok: false, reason: 'replayed' }, 'another payload for the same challenge')
  t.same(await altcha.verify((await solved(altcha)).token, VISITOR), { ok: true }, 'a new challenge passes')
})

test('the counter to find is drawn from 0…maxNumber', async (t) => {
  const altcha = checker({ maxNumber: 20 })
  const counters = new Set<number>()
  for (let i = 0; i < 40; i++) {
    const { solution, token } = await solved(altcha)
    t.ok(solution.counter >= 0 && solution.counter <= 20, `counter ${solution.counter}`)
    counters.add(solution.counter)
    t.same(await altcha.verify(token, VISITOR), { ok: true })
  }
  t.ok(counters.size >= 5, 'drawn at random')
  t.same([DEFAULT_MAX_NUMBER, DEFAULT_TTL_SECONDS], [100_000, 300])
})

test('tampered payloads are invalid and never reach the replay store', async (t) => {
  const { store, calls } = countingStore()
  const altcha = checker({ replays: store })
  const { challenge, solution } = await solved(altcha)
  const other = await solved(altcha)
  const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1)
  const foreign = await solved(checker({ hmacKey: 'another-hmac-key-of-32-bytes-too' }))
  const cases: Array<[string, unknown]> = [
    ['signature changed', { challenge: { ...challenge, signature: flip(challenge.signature) }, solution }],
    ['signature in capitals', { challenge: { ...challenge, signature: challenge.signature.toUpperCase() }, solution }],
    ['no signature', { challenge: { parameters: challenge.parameters }, solution }],
    ['expiry pushed back', { challenge: { ...challenge, parameters: { ...challenge.parameters, expiresAt: challenge.parameters.expiresAt! + 3600 } }, solution }],
    ['easier prefix', { challenge: { ...challenge, parameters: { ...challenge.parameters, keyPrefix: '00' } }, solution }],
    ['another counter', { challenge, solution: { ...solution, counter: solution.counter + 1 } }],
    ['another key', { challenge, solution: { ...solution, derivedKey: flip(solution.derivedKey) } }],
    ['the solution of another challenge', { challenge, solution: other.solution }],
    ['signed with another key', { challenge: foreign.challenge, solution: foreign.solution }]
  ]
  for (const [name, payload] of cases) t.same(await altcha.verify(encode(payload), VISITOR), INVALID, name)
  t.same(calls, [])
  t.same(await altcha.verify(encode({ challenge, solution }), VISITOR), { ok: true }, 'the untouched payload still passes')
})

test('garbage and oversized tokens are invalid, an empty one missing, none reaching the store', async (t) => {
  const { store, calls } = countingStore()
  const altcha = checker({ replays: store })
  const { challenge, solution } = await solved(altcha)
  const garbage = [
    '!!! not base64 !!!',
    Buffer.from('not json').toString('base64'),
    encode(null),
    encode([challenge, solution]),
    encode({ challenge }),
    encode({ challenge: null, solution }),
    encode({ challenge: { parameters: 'x', signature: challenge.signature }, solution }),
    encode({ challenge: { parameters: challenge.parameters, signature: 7 }, solution }),
    encode({ challenge, solution: 'x' }),
    encode({ challenge, solution: { ...solution, counter: String(solution.counter) } }),
    encode({ challenge, solution: { ...solution, derivedKey: null } }),
    encode({ challenge: { parameters: {}, signature: 'ab' }, solution: { counter: 1, derivedKey: '00' } })
  ]
  for (const token of garbage) t.same(await altcha.verify(token, VISITOR), INVALID, token.slice(0, 40))
  const padded = encode({ challenge, solution: { ...solution, padding: 'x'.repeat(MAX_TOKEN_LENGTH) } })
  t.ok(padded.length > MAX_TOKEN_LENGTH)
  t.same(await altcha.verify(padded, VISITOR), INVALID, 'a correct solution in an oversized token')
  t.same(await altcha.verify('', VISITOR), { ok: false, reason: 'missing' })
  t.same(calls, [])
  t.same(await altcha.verify(encode({ challenge, solution }), VISITOR), { ok: true }, 'the solution was not spent by the refusals')
})

test('an expired challenge is refused, by our clock and by the library\'s', async (t) => {
  let time = Date.now()
  const { store, calls } = countingStore()
  const altcha = checker({ replays: store, now: () => time, ttlSeconds: 60 })
  const late = await solved(altcha)
  const inTime = await solved(altcha)
  time += 58_000
  t.same(await altcha.verify(inTime.token, VISITOR), { ok: true }, 'within ttlSeconds')
  time += 3_000
  t.same(await altcha.verify(late.token, VISITOR), { ok: false, reason: 'expired' }, 'after ttlSeconds')
  t.equal(calls.length, 1, 'only the one in time was remembered')

  // Made by a replica whose clock is an hour behind: the real clock says it has expired.
  const behind = checker({ now: () => Date.now() - 3_600_000 })
  t.same(await behind.verify((await solved(behind)).token, VISITOR), { ok: false, reason: 'expired' })
})

test('challenges signed with our key but not made by the checker are invalid, not errors', async (t) => {
  const { store, calls } = countingStore()
  const altcha = checker({ replays: store })
  // Made with the key by other code: it never expires, so it could never be forgotten.
  const timeless = await createChallenge({ algorithm: 'SHA-256', cost: 1, counter: 3, deriveKey, hmacSignatureSecret: HMAC_KEY })
  const solution = await solveChallenge({ challenge: timeless, deriveKey })
  t.same(await altcha.verify(encode({ challenge: timeless, solution }), VISITOR), INVALID, 'no expiry')
  // Signed parameters the library cannot read (it throws): refused, never a rejection.
  const { challenge: ours, solution: oursSolved } = await solved(altcha)
  const sign = (parameters: object) => ({ parameters, signature: createHmac('sha256', HMAC_KEY).update(JSON.stringify(parameters)).digest('hex') })
  for (const change of [{ nonce: 'not hex' }, { algorithm: 'MD5' }]) {
    const parameters = { ...ours.parameters, ...change }
    t.same(await altcha.verify(encode({ challenge: sign(parameters), solution: oursSolved }), VISITOR), INVALID, JSON.stringify(change))
  }
  t.same(await altcha.verify(encode({ challenge: sign(ours.parameters), solution: oursSolved }), VISITOR), { ok: true }, 'signed the same way, untouched: ours')
  t.equal(calls.length, 1)
})

test('a replay store that fails makes the check unavailable, never a pass', async (t) => {
  const broken: ReplayStore = { remember: async () => { throw new Error('connection is closed') } }
  const altcha = checker({ replays: broken })
  t.same(await altcha.verify((await solved(altcha)).token, VISITOR), { ok: false, reason: 'unavailable', cause: 'store' })
})

test('two replicas on one Redis: a solution spent on one is refused by the other', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const a = checker({ replays: new RedisReplayStore(redis) })
  const b = checker({ replays: new RedisReplayStore(await connectRedis(t, server.url)) })
  const { challenge, token } = await solved(a)
  t.same(await a.verify(token, VISITOR), { ok: true })
  t.same(await b.verify(token, VISITOR), { ok: false, reason: 'replayed' }, 'the other replica refuses it')
  t.same(await a.verify(token, VISITOR), { ok: false, reason: 'replayed' })
  const key = REPLAY_KEY_PREFIX + challenge.signature
  t.equal(await redis.get(key), '1')
  t.equal(await redis.pexpiretime(key), challenge.parameters.expiresAt! * 1000, 'kept until the challenge expires')

  const both = await solved(b)
  const verdicts = await Promise.all([a.verify(both.token, VISITOR), b.verify(both.token, VISITOR)])
  t.same(verdicts.filter((verdict) => verdict.ok).length, 1, 'sent to both at once: one passes')
})

test('Redis stopped: the check is unavailable, at once', async (t) => {
  const server = await startRedis(t)
  const redis = await connectRedis(t, server.url)
  const altcha = checker({ replays: new RedisReplayStore(redis) })
  t.same(await altcha.verify((await solved(altcha)).token, VISITOR), { ok: true })
  const { token } = await solved(altcha)
  await server.stop()
  await until(() => redis.status !== 'ready', 'connection lost')
  const started = Date.now()
  t.same(await altcha.verify(token, VISITOR), { ok: false, reason: 'unavailable', cause: 'store' })
  t.ok(Date.now() - started < 1000, 'no waiting for Redis')
})

test('the options are checked once, and errors never quote the key', async (t) => {
  const short = 'k'.repeat(31)
  t.throws(() => checker({ hmacKey: short }), { message: 'the ALTCHA HMAC key must be at least 32 bytes' })
  t.doesNotThrow(() => checker({ hmacKey: 'é'.repeat(16) }), '32 bytes, 16 characters')
  for (const maxNumber of [0, 1.5, 2 ** 32]) t.throws(() => checker({ maxNumber }), { message: /maxNumber/ }, String(maxNumber))
  for (const ttlSeconds of [0, 0.5]) t.throws(() => checker({ ttlSeconds }), { message: /ttlSeconds/ }, String(ttlSeconds))
})

test('the bounds of the options are inclusive: one number, one second and the largest counter are valid', async (t) => {
  t.doesNotThrow(() => checker({ maxNumber: 1, ttlSeconds: 1 }))
  t.doesNotThrow(() => checker({ maxNumber: 0xffffffff }))
  t.throws(() => checker({ maxNumber: 0x100000000 }))
})

test('a challenge is expired at its exact expiry, by our clock', async (t) => {
  let now = Date.now()
  const altcha = checker({ now: () => now })
  const { token, challenge } = await solved(altcha)
  now = (challenge.parameters.expiresAt as number) * 1000
  t.same(await altcha.verify(token, VISITOR), { ok: false, reason: 'expired' })
})
