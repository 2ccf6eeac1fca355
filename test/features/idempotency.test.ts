// Idempotency-Key on POST /sessions against the simulated upstream: one click, one
// session — replays, conflicts, concurrent duplicates, per-client scope, and replicas
// sharing answers through a real Redis.
import { test } from 'tap'
import { startRedis } from '../helpers/redis-server.ts'
import { postSession, setup } from '../helpers/setup.ts'
import { manualClock } from '../helpers/waiting.ts'

// Anonymous keys must be random-looking (at least 16 characters): every key here gets a random tail.
const key = (value: string) => ({ 'idempotency-key': `${value}-5f0c2a9e7d41b836` })

test('the same key replays the first answer without a new upstream call', async (t) => {
  const { app, upstream } = await setup(t)
  const first = await postSession(app, { serialNumber: 'abc' }, key('click-1'))
  t.equal(first.statusCode, 201)
  t.notOk(first.headers['idempotent-replayed'])
  const again = await postSession(app, { serialNumber: 'abc' }, key('click-1'))
  t.equal(again.statusCode, 201)
  t.equal(again.body, first.body)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.not(again.headers['x-request-id'], first.headers['x-request-id'])
  t.equal(upstream.count(), 1)
  t.equal((await postSession(app, { serialNumber: 'abc' }, key('click-2'))).json().sessionId, first.json().sessionId + 1, 'another key, another session')
})

test('a stored 4xx is replayed with the new request id; 5xx answers are not stored', async (t) => {
  const { app, upstream } = await setup(t)
  const first = await postSession(app, { serialNumber: 'sim-code-404' }, key('k404'))
  const again = await postSession(app, { serialNumber: 'sim-code-404' }, key('k404'))
  t.equal(again.statusCode, 404)
  t.equal(again.json().code, 'CHATBOT_NOT_FOUND')
  t.equal(again.json().requestId, again.headers['x-request-id'], 're-rendered with the new id')
  t.not(again.json().requestId, first.json().requestId)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(upstream.count(), 1)

  t.equal((await postSession(app, { serialNumber: 'sim-flaky-1-http-500-x' }, key('k500'))).statusCode, 502)
  const retried = await postSession(app, { serialNumber: 'sim-flaky-1-http-500-x' }, key('k500'))
  t.equal(retried.statusCode, 201, 'the client may retry a 5xx')
  t.notOk(retried.headers['idempotent-replayed'])
  t.equal(upstream.count(), 3)
})

test('the same key for another chatbot: 422 IDEMPOTENCY_KEY_REUSED, also while the first runs', async (t) => {
  const { app, upstream } = await setup(t)
  const running = postSession(app, { serialNumber: 'sim-slow-300' }, key('k'))
  await upstream.received(1)
  const during = await postSession(app, { serialNumber: 'other' }, key('k'))
  t.equal(during.statusCode, 422)
  t.equal(during.json().code, 'IDEMPOTENCY_KEY_REUSED')
  t.equal((await running).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'other' }, key('k'))).statusCode, 422)
  t.equal(upstream.count(), 1)
})

test('concurrent duplicates wait for the first call and share its answer', async (t) => {
  const { app, upstream } = await setup(t)
  const answers = await Promise.all(Array.from({ length: 5 }, () => postSession(app, { serialNumber: 'sim-slow-200' }, key('double-click'))))
  t.same(new Set(answers.map((res) => res.body)).size, 1)
  t.equal(answers.filter((res) => res.headers['idempotent-replayed'] === 'true').length, 4)
  t.equal(upstream.count(), 1)
})

test('keys are scoped per client, and an invalid key is a validation failure', async (t) => {
  const { app, upstream } = await setup(t)
  const from = (remoteAddress: string) => app.inject({ method: 'POST', url: '/sessions', remoteAddress, headers: { 'content-type': 'application/json', ...key('shared') }, payload: '{"serialNumber":"abc"}' })
  const a = await from('10.0.0.1')
  const b = await from('10.0.0.2')
  t.not(a.body, b.body, 'two clients never share an answer')
  t.equal(upstream.count(), 2)
  for (const bad of ['', 'has space', 'x'.repeat(129), 'caf\u00e9']) {
    const res = await postSession(app, { serialNumber: 'abc' }, { 'idempotency-key': bad })
    t.equal(res.statusCode, 400, JSON.stringify(bad))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
})

test('two token clients behind one address never share a key\'s answer; the same client does', async (t) => {
  const { app, upstream } = await setup(t, { CLIENT_TOKENS: 'alpha:alpha-token-0123456789,beta:beta-token-0123456789' })
  const as = (token: string) => postSession(app, { serialNumber: 'abc' }, { authorization: `Bearer ${token}`, ...key('same-key') })
  const alpha = await as('alpha-token-0123456789')
  const beta = await as('beta-token-0123456789')
  t.equal(alpha.statusCode, 201)
  t.not(alpha.json().sessionId, beta.json().sessionId, 'each client got its own session')
  t.notOk(beta.headers['idempotent-replayed'])
  const alphaAgain = await as('alpha-token-0123456789')
  t.equal(alphaAgain.json().sessionId, alpha.json().sessionId)
  t.equal(alphaAgain.headers['idempotent-replayed'], 'true')
  t.equal(upstream.count(), 2)
})

test('IDEMPOTENCY_TTL_MS: an answer is replayed until the window ends, then the key is new again', async (t) => {
  const clock = manualClock()
  const { app, upstream } = await setup(t, { IDEMPOTENCY_TTL_MS: '60000' }, { deps: { now: clock.now } })
  const first = await postSession(app, { serialNumber: 'abc' }, key('ttl'))
  clock.advance(59_999)
  const replayed = await postSession(app, { serialNumber: 'abc' }, key('ttl'))
  t.equal(replayed.json().sessionId, first.json().sessionId)
  t.equal(replayed.headers['idempotent-replayed'], 'true')
  clock.advance(1)
  const fresh = await postSession(app, { serialNumber: 'abc' }, key('ttl'))
  t.not(fresh.json().sessionId, first.json().sessionId, 'expired: a new session')
  t.notOk(fresh.headers['idempotent-replayed'])
  t.equal(upstream.count(), 2)
})

test('IDEMPOTENCY_MAX_KEYS: beyond it the least recently used key is forgotten', async (t) => {
  const { app, upstream } = await setup(t, { IDEMPOTENCY_MAX_KEYS: '2' })
  const session = async (k: string) => (await postSession(app, { serialNumber: 'abc' }, key(k))).json().sessionId as number
  const a = await session('a')
  const b = await session('b')
  t.equal(await session('a'), a, 'a is used again, so b is now the oldest')
  await session('c')
  t.equal(upstream.count(), 3)
  t.equal(await session('a'), a, 'a is still kept')
  t.not(await session('b'), b, 'b was forgotten: a new session')
  t.equal(upstream.count(), 4)
})

test('attack: two visitors behind one address who pick the same key never share an answer', async (t) => {
  const { app, upstream } = await setup(t, { CORS_ORIGINS: 'https://shop.example,https://blog.example' })
  const visitor = (origin: string, userAgent: string) => app.inject({
    method: 'POST',
    url: '/sessions',
    remoteAddress: '203.0.113.9',
    headers: { 'content-type': 'application/json', origin, 'user-agent': userAgent, 'idempotency-key': '00000000-0000-4000-8000-000000000000' },
    payload: '{"serialNumber":"abc"}'
  })
  const first = await visitor('https://shop.example', 'Browser A')
  const otherAgent = await visitor('https://shop.example', 'Browser B')
  const otherSite = await visitor('https://blog.example', 'Browser A')
  t.equal(first.statusCode, 201)
  t.not(first.json().sessionId, otherAgent.json().sessionId, 'another User-Agent: another caller')
  t.not(first.json().sessionId, otherSite.json().sessionId, 'another Origin: another caller')
  t.equal((await visitor('https://shop.example', 'Browser A')).headers['idempotent-replayed'], 'true', 'the same caller replays')
  t.equal(upstream.count(), 3)
})

test('an anonymous Idempotency-Key shorter than 16 characters is refused as VALIDATION_FAILED', async (t) => {
  const { app, upstream } = await setup(t, { CLIENT_TOKENS: 'svc:svc-token-0123456789' })
  const short = await postSession(app, { serialNumber: 'abc' }, { 'idempotency-key': '123456789012345' })
  t.equal(short.statusCode, 400)
  t.equal(short.json().code, 'VALIDATION_FAILED')
  t.match(short.json().detail, /at least 16 characters/)
  t.equal((await postSession(app, { serialNumber: 'abc' }, { 'idempotency-key': '1234567890123456' })).statusCode, 201, '16 is enough')
  t.equal((await postSession(app, { serialNumber: 'abc' }, { authorization: 'Bearer svc-token-0123456789', 'idempotency-key': 'k1' })).statusCode, 201, 'a token client may use a short key')
  t.equal(upstream.count(), 2)
})

test('a replay still counts against the rate limit', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '2' })
  t.equal((await postSession(app, { serialNumber: 'abc' }, key('r'))).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'abc' }, key('r'))).statusCode, 201)
  t.equal((await postSession(app, { serialNumber: 'abc' }, key('r'))).statusCode, 429)
})

test('replicas share answers through Redis; Redis down means served as without a key', async (t) => {
  const redis = await startRedis(t)
  const a = await setup(t, { REDIS_URL: redis.url })
  const b = await setup(t, { REDIS_URL: redis.url })
  const deadline = Date.now() + 5000
  const redisUp = async (app: typeof a.app): Promise<boolean> => (await app.inject({ url: '/readyz' })).json().checks.redis === 'ok'
  while (!(await redisUp(a.app)) || !(await redisUp(b.app))) {
    if (Date.now() > deadline) throw new Error('replicas not ready')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const concurrent = await Promise.all([
    postSession(a.app, { serialNumber: 'sim-slow-300' }, key('multi')),
    postSession(b.app, { serialNumber: 'sim-slow-300' }, key('multi'))
  ])
  t.equal(concurrent[0].body, concurrent[1].body, 'the second replica waited and replayed')
  t.equal(a.upstream.count() + b.upstream.count(), 1)
  const later = await postSession(b.app, { serialNumber: 'sim-slow-300' }, key('multi'))
  t.equal(later.body, concurrent[0].body)
  t.equal(later.headers['idempotent-replayed'], 'true')
  t.equal((await postSession(b.app, { serialNumber: 'abc' }, key('multi'))).statusCode, 422, 'conflicts across replicas')

  await redis.stop()
  const res = await postSession(a.app, { serialNumber: 'abc' }, key('while-down'))
  t.equal(res.statusCode, 201, 'served without the store')
  t.ok(a.logs.entries.some((e) => e.msg === 'idempotency store failed'))
})
