// The bot check of POST /sessions over real sockets: ALTCHA challenges solved by real code
// (and a solution replayed against a second replica sharing real Redis), and Turnstile
// against a fake siteverify that says yes, no, slowly and never. No refused request
// reaches the upstream; the check comes after the rate limit and before the body.
import { createServer } from 'node:http'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { solveChallenge } from 'altcha-lib'
import { deriveKey } from 'altcha-lib/algorithms/sha'
import { SignJWT } from 'jose'
import { test } from 'tap'
import type { Test } from 'tap'
import type { AltchaChallenge } from '../../src/bot-check/altcha.ts'
import { startRedis } from '../helpers/redis-server.ts'
import { setup } from '../helpers/setup.ts'
import { listen } from '../helpers/sockets.ts'
import type { Call } from '../helpers/sockets.ts'

const SHOP = 'https://shop.example'
const ALTCHA_KEY = 'altcha-hmac-key-0123456789abcdefghij'
const ALTCHA = { BOT_CHECK: 'altcha', ALTCHA_HMAC_KEY: ALTCHA_KEY, ALTCHA_MAX_NUMBER: '1000', CORS_ORIGINS: SHOP }
const BILLING = 'billing-token-0123456789abcdef'
const HS_SECRET = 'visitor-jwt-secret-0123456789abcdef!'

/** What the widget does: fetch a challenge, solve it, send base64 of {challenge, solution}. */
async function solve (call: Call): Promise<string> {
  const answer = await call('GET', '/bot-check/challenge', { headers: { origin: SHOP } })
  if (answer.status !== 200) throw new Error(`no challenge: ${answer.status}`)
  const challenge = answer.json() as unknown as AltchaChallenge
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 10_000 })
  return Buffer.from(JSON.stringify({ challenge, solution })).toString('base64')
}

const session = (call: Call, headers: Record<string, string>, body: unknown = { serialNumber: 'abc' }) =>
  call('POST', '/sessions', { headers: { origin: SHOP, ...headers }, body })

test('ALTCHA: a solved challenge creates a session once; missing, replayed or forged is 403, and nothing reaches the upstream', async (t) => {
  const { app, upstream, metrics } = await setup(t, ALTCHA)
  const call = await listen(app)
  const challenge = await call('GET', '/bot-check/challenge', { headers: { origin: SHOP } })
  t.equal(challenge.headers['cache-control'], 'no-store')
  t.equal(challenge.headers['access-control-allow-origin'], SHOP)

  const token = await solve(call)
  t.equal((await session(call, { 'bot-check-token': token })).status, 201)
  const replayed = await session(call, { 'bot-check-token': token })
  t.equal(replayed.status, 403)
  t.equal(replayed.json().code, 'BOT_CHECK_FAILED', 'attack: a replayed solution')
  const missing = await session(call, {})
  t.equal(missing.status, 403)
  t.equal(missing.json().code, 'BOT_CHECK_REQUIRED')
  t.equal((await session(call, { 'bot-check-token': 'bm90IGEgc29sdXRpb24=' })).json().code, 'BOT_CHECK_FAILED', 'garbage')
  t.equal(upstream.count(), 1)
  const exposition = await metrics.render()
  t.match(exposition, /hottask_proxy_bot_checks_total\{outcome="passed"\} 1/)
  t.match(exposition, /hottask_proxy_bot_checks_total\{outcome="replayed"\} 1/)
  t.match(exposition, /hottask_proxy_bot_checks_total\{outcome="missing"\} 1/)
})

test('the bot check comes after the rate limit and before the body; client and visitor tokens skip it; messages never need it', async (t) => {
  const { app, upstream } = await setup(t, {
    ...ALTCHA, RATE_LIMIT_MAX: '2', CLIENT_TOKENS: `billing:${BILLING}`, VISITOR_JWT_SECRET: HS_SECRET, VISITOR_JWT_ISSUER: SHOP, VISITOR_JWT_AUDIENCE: 'proxy'
  })
  const call = await listen(app)
  const badBody = await session(call, {}, '{not json')
  t.equal(badBody.json().code, 'BOT_CHECK_REQUIRED', 'a body error never comes first')
  t.equal((await session(call, {})).json().code, 'BOT_CHECK_REQUIRED')
  t.equal((await session(call, {})).status, 429, 'the rate limit counted both, and comes first')
  const client = await session(call, { authorization: `Bearer ${BILLING}` })
  t.equal(client.status, 201, 'a client token skips it')
  const visitor = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuer(SHOP).setAudience('proxy').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(HS_SECRET))
  const created = await session(call, { authorization: `Bearer ${visitor}` })
  t.equal(created.status, 201, 'a visitor token skips it')
  const { sessionId, sessionToken } = created.json() as { sessionId: number, sessionToken: string }
  const message = await call('POST', `/sessions/${sessionId}/messages`, { headers: { origin: SHOP, authorization: `Bearer ${visitor}`, 'session-token': sessionToken }, body: { content: 'hi' } })
  t.equal(message.status, 200, 'a message needs no bot check: its session token covers it')
  t.equal(upstream.count(), 3)
})

test('attack: a solution replayed against another replica sharing Redis is refused', async (t) => {
  const redis = await startRedis(t)
  const env = { ...ALTCHA, REDIS_URL: redis.url }
  const a = await setup(t, env)
  const b = await setup(t, env)
  const callA = await listen(a.app)
  const callB = await listen(b.app)
  const redisUp = async (call: typeof callA): Promise<boolean> => ((await call('GET', '/readyz')).json().checks as Record<string, string>).redis === 'ok'
  for (let i = 0; i < 100 && (!(await redisUp(callA)) || !(await redisUp(callB))); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const token = await solve(callA)
  t.equal((await session(callB, { 'bot-check-token': token })).status, 201, 'a challenge from one replica is solved on the other (one shared key)')
  const replayed = await session(callA, { 'bot-check-token': token })
  t.equal(replayed.json().code, 'BOT_CHECK_FAILED')
  await redis.stop()
  const down = await session(callA, { 'bot-check-token': await solve(callA) })
  t.equal(down.status, 503, 'a solution that cannot be remembered is never accepted')
  t.equal(down.json().code, 'BOT_CHECK_UNAVAILABLE')
})

interface Siteverify { url: string, requests: Array<Record<string, unknown>>, answer: (next: Record<string, unknown> | 'slow' | 'never') => void }

async function siteverify (t: Test): Promise<Siteverify> {
  let answer: Record<string, unknown> | 'slow' | 'never' = { success: true, hostname: 'shop.example' }
  const requests: Array<Record<string, unknown>> = []
  const read = async (request: IncomingMessage) => {
    let text = ''
    for await (const chunk of request) text += String(chunk)
    return text
  }
  const server = createServer((request, response) => {
    read(request).then((text) => {
      const type = request.headers['content-type'] ?? ''
      requests.push(type.includes('json') ? JSON.parse(text) as Record<string, unknown> : Object.fromEntries(new URLSearchParams(text)))
      if (answer === 'never') return
      const send = () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: true, hostname: 'shop.example' }))
      if (answer === 'slow') setTimeout(send, 1500).unref()
      else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
    }, () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/turnstile/v0/siteverify`, requests, answer: (next) => { answer = next } }
}

test('Turnstile: success, failure, a wrong hostname, slowly and never, against a fake siteverify', async (t) => {
  const verify = await siteverify(t)
  const { app, upstream } = await setup(t, {
    BOT_CHECK: 'turnstile', TURNSTILE_SECRET: 'turnstile-secret-xyz', TURNSTILE_VERIFY_URL: verify.url, BOT_CHECK_TIMEOUT_MS: '300', CORS_ORIGINS: SHOP
  })
  const call = await listen(app)
  t.equal((await session(call, { 'bot-check-token': 'widget-token-1' })).status, 201)
  t.match(verify.requests[0], { secret: 'turnstile-secret-xyz', response: 'widget-token-1', remoteip: '127.0.0.1' })
  t.match(verify.requests[0]?.idempotency_key, /^[0-9a-f-]{36}$/, 'an idempotency key makes its own retry safe')

  verify.answer({ success: false, 'error-codes': ['invalid-input-response'] })
  t.equal((await session(call, { 'bot-check-token': 'widget-token-2' })).json().code, 'BOT_CHECK_FAILED')
  verify.answer({ success: true, hostname: 'evil.example' })
  t.equal((await session(call, { 'bot-check-token': 'widget-token-3' })).json().code, 'BOT_CHECK_FAILED', 'a token from another site')
  for (const mode of ['slow', 'never'] as const) {
    verify.answer(mode)
    const res = await session(call, { 'bot-check-token': `widget-token-${mode}` })
    t.equal(res.status, 503, mode)
    t.equal(res.json().code, 'BOT_CHECK_UNAVAILABLE', mode)
    t.equal(res.headers['retry-after'], '5', mode)
  }
  t.equal(upstream.count(), 1)
})

test('Turnstile with BOT_CHECK_ON_ERROR=open: an unreachable verifier lets the request through, logged and counted', async (t) => {
  const verify = await siteverify(t)
  verify.answer('never')
  const { app, logs, metrics } = await setup(t, {
    BOT_CHECK: 'turnstile', TURNSTILE_SECRET: 'turnstile-secret-xyz', TURNSTILE_VERIFY_URL: verify.url, BOT_CHECK_TIMEOUT_MS: '200', BOT_CHECK_ON_ERROR: 'open', CORS_ORIGINS: SHOP
  })
  const call = await listen(app)
  t.equal((await session(call, { 'bot-check-token': 'widget-token' })).status, 201)
  t.ok(logs.entries.some((e) => e.letThrough === true && e.cause === 'timeout'))
  t.match(await metrics.render(), /hottask_proxy_bot_checks_total\{outcome="let_through"\} 1/)
  t.equal((await session(call, {})).json().code, 'BOT_CHECK_REQUIRED', 'a missing token is still refused')
  t.notOk(logs.text.includes('turnstile-secret-xyz'), 'the secret is never logged')
})
