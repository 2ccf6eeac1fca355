// Daily quotas per visitor over real sockets: counted per identity over a UTC day (the
// clock is moved by hand across midnight), shared by two replicas through real Redis,
// refunded when the upstream refuses a session or nothing reached it, and told in the
// X-Quota-* headers of answers and refusals alike.
import { test } from 'tap'
import { SignJWT } from 'jose'
import { request } from 'undici'
import { startRedis } from '../helpers/redis-server.ts'
import { setup } from '../helpers/setup.ts'
import { listen } from '../helpers/sockets.ts'
import type { Call } from '../helpers/sockets.ts'

const SHOP = 'https://shop.example'
const HS_SECRET = 'visitor-jwt-secret-0123456789abcdef!'
const VISITORS = { VISITOR_JWT_SECRET: HS_SECRET, VISITOR_JWT_ISSUER: SHOP, VISITOR_JWT_AUDIENCE: 'proxy', CORS_ORIGINS: SHOP }
// 23:59:00 UTC: a minute before the day ends.
const LATE = Date.UTC(2026, 11, 5, 23, 59, 0)

function clock (start = LATE) {
  let now = start
  return { now: () => now, advance: (ms: number) => { now += ms } }
}

const visitor = async (sub: string, now: number) => await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuer(SHOP).setAudience('proxy')
  .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(now / 1000) + 600).sign(new TextEncoder().encode(HS_SECRET))

const session = (call: Call, token: string, serialNumber = 'abc') =>
  call('POST', '/sessions', { headers: { origin: SHOP, authorization: `Bearer ${token}` }, body: { serialNumber } })

const quota = (headers: Record<string, unknown>) => [headers['x-quota-limit'], headers['x-quota-remaining'], headers['x-quota-reset']]

test('QUOTA_SESSIONS_PER_DAY: each visitor\'s sessions are counted until the UTC day ends; the refusal says when to retry', async (t) => {
  const time = clock()
  const { app, upstream, metrics } = await setup(t, { ...VISITORS, QUOTA_SESSIONS_PER_DAY: '2' }, { deps: { now: time.now } })
  const call = await listen(app)
  const alice = await visitor('alice', time.now())
  const first = await session(call, alice)
  t.equal(first.status, 201)
  t.same(quota(first.headers), ['2', '1', '60'])
  t.same(quota((await session(call, alice)).headers), ['2', '0', '60'])
  const refused = await session(call, alice)
  t.equal(refused.status, 429)
  t.equal(refused.json().code, 'QUOTA_EXCEEDED')
  t.equal(refused.headers['retry-after'], '60', 'until the next UTC day')
  t.same(quota(refused.headers), ['2', '0', '60'])
  t.equal(refused.headers['access-control-expose-headers']?.toString().includes('X-Quota-Remaining'), true, 'the widget may read them')
  t.equal((await session(call, await visitor('bob', time.now()))).status, 201, 'another visitor has a quota of their own')
  t.equal(upstream.count(), 3)
  t.match(await metrics.render(), /hottask_proxy_quota_refusals_total\{quota="sessions"\} 1/)

  time.advance(60_000)
  const tomorrow = await session(call, await visitor('alice', time.now()))
  t.equal(tomorrow.status, 201, 'a new UTC day, a new quota')
  t.same(quota(tomorrow.headers), ['2', '1', '86400'])
})

test('a session the upstream refuses does not spend the quota', async (t) => {
  const time = clock()
  const { app } = await setup(t, { ...VISITORS, QUOTA_SESSIONS_PER_DAY: '1' }, { deps: { now: time.now } })
  const call = await listen(app)
  const alice = await visitor('alice', time.now())
  t.equal((await session(call, alice, 'sim-code-404')).json().code, 'CHATBOT_NOT_FOUND')
  t.equal((await session(call, alice, 'sim-code-500')).status, 502)
  t.equal((await session(call, alice)).status, 201, 'the quota is still whole')
  t.equal((await session(call, alice)).status, 429)
})

test('QUOTA_MESSAGES_PER_DAY: refusals before the upstream do not spend it; without a visitor token the address is the identity', async (t) => {
  const time = clock(Date.UTC(2026, 11, 5, 12))
  const { app, upstream } = await setup(t, { CORS_ORIGINS: SHOP, QUOTA_MESSAGES_PER_DAY: '2' }, { deps: { now: time.now } })
  const call = await listen(app)
  const created = (await call('POST', '/sessions', { headers: { origin: SHOP }, body: { serialNumber: 'abc' } })).json() as { sessionId: number, sessionToken: string }
  const send = (content: unknown) => call('POST', `/sessions/${created.sessionId}/messages`, { headers: { origin: SHOP, 'session-token': created.sessionToken }, body: { content } })
  t.equal((await send('   ')).json().code, 'VALIDATION_FAILED')
  t.equal((await send(42)).json().code, 'VALIDATION_FAILED')
  const first = await send('hi')
  t.equal(first.status, 200)
  t.same(quota(first.headers), ['2', '1', String(12 * 3600)])
  t.equal((await send('sim:code-404')).json().code, 'SESSION_NOT_FOUND', 'a message the upstream refused was sent: it counts')
  const refused = await send('hi')
  t.equal(refused.json().code, 'QUOTA_EXCEEDED')
  t.equal(upstream.count(), 3, 'the session and two messages; the refused ones never went upstream')
})

test('QUOTA_TOKENS_PER_DAY sums the totalTokens of whole answers and refuses the next message once spent', async (t) => {
  const time = clock(Date.UTC(2026, 11, 5, 12))
  const { app } = await setup(t, { ...VISITORS, QUOTA_TOKENS_PER_DAY: '20' }, { deps: { now: time.now } })
  const call = await listen(app)
  const alice = await visitor('alice', time.now())
  const created = (await session(call, alice)).json() as { sessionId: number, sessionToken: string }
  const send = () => call('POST', `/sessions/${created.sessionId}/messages`, { headers: { origin: SHOP, authorization: `Bearer ${alice}`, 'session-token': created.sessionToken }, body: { content: 'hi' } })
  // The simulator counts content length + 7 tokens: 9 for "hi".
  const first = await send()
  t.equal(first.json().totalTokens, 9)
  t.same(quota(first.headers).slice(0, 2), ['20', '11'])
  t.same(quota((await send()).headers).slice(0, 2), ['20', '2'])
  t.same(quota((await send()).headers).slice(0, 2), ['20', '0'], 'the answer that crosses the line is still given')
  const refused = await send()
  t.equal(refused.status, 429)
  t.equal(refused.json().code, 'QUOTA_EXCEEDED')
})

test('two replicas sharing Redis count one quota; a failing store follows RATE_LIMIT_ON_STORE_ERROR', async (t) => {
  const redis = await startRedis(t)
  const time = clock(Date.UTC(2026, 11, 5, 12))
  const env = { ...VISITORS, REDIS_URL: redis.url, SESSION_TOKEN_SECRET: 'session-token-secret-0123456789abcdef', QUOTA_SESSIONS_PER_DAY: '3', RATE_LIMIT_ON_STORE_ERROR: 'closed' }
  const a = await setup(t, env, { deps: { now: time.now } })
  const b = await setup(t, env, { deps: { now: time.now } })
  const callA = await listen(a.app)
  const callB = await listen(b.app)
  for (let i = 0; i < 100 && ((await callA('GET', '/readyz')).status !== 200 || (await callB('GET', '/readyz')).status !== 200); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const alice = await visitor('alice', time.now())
  const statuses = []
  for (const call of [callA, callB, callA, callB]) statuses.push((await session(call, alice)).status)
  t.same(statuses, [201, 201, 201, 429])
  await redis.stop()
  const down = await session(callA, await visitor('bob', time.now()))
  t.equal(down.status, 503)
  t.equal(down.json().code, 'RATE_LIMIT_UNAVAILABLE')
})

test('a message shed before it reaches the upstream (OVERLOADED) gives its quota back', async (t) => {
  const time = clock(Date.UTC(2026, 11, 5, 12))
  const { app, upstream } = await setup(t, { CORS_ORIGINS: SHOP, QUOTA_MESSAGES_PER_DAY: '2', MESSAGE_MAX_CONCURRENCY: '1', MESSAGE_QUEUE_MAX: '0' }, { deps: { now: time.now } })
  const call = await listen(app)
  const created = (await call('POST', '/sessions', { headers: { origin: SHOP }, body: { serialNumber: 'abc' } })).json() as { sessionId: number, sessionToken: string }
  const send = (content: string) => call('POST', `/sessions/${created.sessionId}/messages`, { headers: { origin: SHOP, 'session-token': created.sessionToken }, body: { content } })
  const slow = send('sim:slow-400')
  await upstream.received(2)
  const shed = await send('hi')
  t.equal(shed.json().code, 'OVERLOADED')
  t.equal((await slow).status, 200)
  const last = await send('hi')
  t.equal(last.status, 200, 'the shed message spent nothing: the second of two is still allowed')
  t.same(quota(last.headers).slice(0, 2), ['2', '0'])
})

test('attack: hanging up after a message was sent does not give its quota back', async (t) => {
  const time = clock(Date.UTC(2026, 11, 5, 12))
  const { app, upstream } = await setup(t, { CORS_ORIGINS: SHOP, QUOTA_MESSAGES_PER_DAY: '2' }, { deps: { now: time.now } })
  const call = await listen(app)
  const created = (await call('POST', '/sessions', { headers: { origin: SHOP }, body: { serialNumber: 'abc' } })).json() as { sessionId: number, sessionToken: string }
  const address = app.server.address() as { port: number }
  const controller = new AbortController()
  const hungUp = request(`http://127.0.0.1:${address.port}/sessions/${created.sessionId}/messages`, {
    method: 'POST',
    headers: { origin: SHOP, 'session-token': created.sessionToken, 'content-type': 'application/json' },
    body: JSON.stringify({ content: 'sim:slow-300' }),
    signal: controller.signal
  }).catch(() => 'aborted')
  await upstream.received(2)
  controller.abort()
  t.equal(await hungUp, 'aborted')
  const send = () => call('POST', `/sessions/${created.sessionId}/messages`, { headers: { origin: SHOP, 'session-token': created.sessionToken }, body: { content: 'hi' } })
  t.same(quota((await send()).headers).slice(0, 2), ['2', '0'], 'the message that was sent counted')
  t.equal((await send()).json().code, 'QUOTA_EXCEEDED')
})

test('a session whose upstream call timed out after it was sent spends the quota (the session may exist)', async (t) => {
  const time = clock()
  const { app } = await setup(t, { ...VISITORS, QUOTA_SESSIONS_PER_DAY: '1', UPSTREAM_TIMEOUT_MS: '200' }, { deps: { now: time.now } })
  const call = await listen(app)
  const alice = await visitor('alice', time.now())
  t.equal((await session(call, alice, 'sim-hang')).json().code, 'UPSTREAM_TIMEOUT')
  t.equal((await session(call, alice)).json().code, 'QUOTA_EXCEEDED')
})
