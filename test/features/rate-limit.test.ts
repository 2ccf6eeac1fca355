import { test } from 'tap'
import { postSession, setup } from '../helpers/setup.ts'

const TOKEN = 'svc-token-0123456789abcdef'

test('over the limit: 429 RATE_LIMITED with Retry-After, no upstream call', async (t) => {
  const { app, upstream } = await setup(t, { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '60000' })
  const first = await postSession(app, { serialNumber: 'abc' })
  t.equal(first.headers['x-ratelimit-limit'], '2')
  t.equal(first.headers['x-ratelimit-remaining'], '1')
  t.ok(Number(first.headers['x-ratelimit-reset']) > 0)
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  const limited = await postSession(app, { serialNumber: 'abc' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'RATE_LIMITED')
  t.match(limited.headers['content-type'], /^application\/problem\+json/)
  t.ok(Number(limited.headers['retry-after']) >= 59)
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.equal(upstream.count(), 2)
})

test('limits are per client: token name, else IP; tokens have their own limit', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '1', CLIENT_RATE_LIMIT_MAX: '3', CLIENT_TOKENS: `svc:${TOKEN}` })
  const from = (remoteAddress: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/sessions', remoteAddress, headers: { 'content-type': 'application/json', ...headers }, payload: '{"serialNumber":"abc"}' })
  t.equal((await from('10.0.0.1')).statusCode, 201)
  t.equal((await from('10.0.0.1')).statusCode, 429)
  t.equal((await from('10.0.0.2')).statusCode, 201, 'another IP has its own budget')
  const auth = { authorization: `Bearer ${TOKEN}` }
  for (let i = 0; i < 3; i++) t.equal((await from(`10.0.1.${i}`, auth)).statusCode, 201, 'the token spans IPs')
  const limited = await from('10.0.0.9', auth)
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['x-ratelimit-limit'], '3')
})

for (const tokens of [{}, { CLIENT_TOKENS: `svc:${TOKEN}` }]) {
  test(`an IPv6 caller is limited by its /64${'CLIENT_TOKENS' in tokens ? ', with client tokens configured too' : ''}`, async (t) => {
    const { app } = await setup(t, { RATE_LIMIT_MAX: '1', ...tokens })
    const from = (remoteAddress: string) =>
      app.inject({ method: 'POST', url: '/sessions', remoteAddress, headers: { 'content-type': 'application/json' }, payload: '{"serialNumber":"abc"}' })
    t.equal((await from('2001:db8:1:100::1')).statusCode, 201)
    t.equal((await from('2001:db8:1:100:ffff::2')).statusCode, 429, 'another address of the same /64')
    t.equal((await from('2001:db8:1:101::1')).statusCode, 201, 'the next /64 is another client')
    t.equal((await from('::ffff:10.0.0.7')).statusCode, 201, 'an IPv4-mapped address counts as its IPv4 address')
    t.equal((await from('10.0.0.7')).statusCode, 429)
  })
}

test('a spoofed X-Forwarded-For does not change the client while TRUST_PROXY is off', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '1' })
  const send = (xff: string) => app.inject({ method: 'POST', url: '/sessions', remoteAddress: '10.9.9.9', headers: { 'content-type': 'application/json', 'x-forwarded-for': xff }, payload: '{"serialNumber":"abc"}' })
  t.equal((await send('1.1.1.1')).statusCode, 201)
  t.equal((await send('2.2.2.2')).statusCode, 429, 'still the same client')
})

test('with TRUST_PROXY the forwarded address is the client', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '1' })
  const send = (xff: string) => app.inject({ method: 'POST', url: '/sessions', remoteAddress: '10.9.9.9', headers: { 'content-type': 'application/json', 'x-forwarded-for': xff }, payload: '{"serialNumber":"abc"}' })
  t.equal((await send('1.1.1.1')).statusCode, 201)
  t.equal((await send('2.2.2.2')).statusCode, 201, 'another forwarded client')
  t.equal((await send('1.1.1.1')).statusCode, 429)
  // One trusted hop: a client-supplied address further left is not believed.
  t.equal((await send('3.3.3.3, 1.1.1.1')).statusCode, 429)

  const listed = await setup(t, { RATE_LIMIT_MAX: '1', TRUST_PROXY: '10.9.9.0/24' })
  const viaListed = (xff: string, remoteAddress = '10.9.9.9') => listed.app.inject({ method: 'POST', url: '/sessions', remoteAddress, headers: { 'content-type': 'application/json', 'x-forwarded-for': xff }, payload: '{"serialNumber":"abc"}' })
  t.equal((await viaListed('4.4.4.4')).statusCode, 201)
  t.equal((await viaListed('5.5.5.5')).statusCode, 201)
  t.equal((await viaListed('6.6.6.6', '172.16.0.1')).statusCode, 201, 'an untrusted peer is its own client')
  t.equal((await viaListed('7.7.7.7', '172.16.0.1')).statusCode, 429, 'and its forwarded header is ignored')
})

test('attack: rotating garbage in X-Forwarded-For does not escape the limit; it is ignored and logged once', async (t) => {
  const { app, logs } = await setup(t, { RATE_LIMIT_MAX: '2', TRUST_PROXY: '1' })
  const send = (xff: string) => app.inject({ method: 'POST', url: '/sessions', remoteAddress: '10.9.9.9', headers: { 'content-type': 'application/json', 'x-forwarded-for': xff }, payload: '{"serialNumber":"abc"}' })
  const statuses = []
  for (const garbage of ['foo bar', 'not-an-ip', '1.2.3', 'x'.repeat(40), '999.1.1.1']) statuses.push((await send(garbage)).statusCode)
  t.same(statuses, [201, 201, 429, 429, 429], 'all of them were the proxy hop\'s address, which has one limit')
  t.equal(logs.entries.filter((e) => e.msg === 'X-Forwarded-For holds no IP address: using the socket address (logged once)').length, 1)
  const line = logs.entries.find((e) => e.msg === 'request completed' && (e.req as { remoteAddress: string }).remoteAddress === '10.9.9.9')
  t.ok(line, 'the completion line names the socket address')
  t.equal((await send('192.0.2.44')).statusCode, 201, 'a real forwarded address is still its own client')
})

test('health routes are not limited; the 404 handler is', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '2' })
  for (let i = 0; i < 5; i++) {
    t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
  }
  t.equal((await app.inject({ url: '/probe-1' })).statusCode, 404)
  t.equal((await app.inject({ url: '/probe-2' })).statusCode, 404)
  const limited = await app.inject({ url: '/probe-3' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'RATE_LIMITED')
})

test('405 answers are rate limited like 404s, so methods cannot be probed for free', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '2' })
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'GET', url: '/sessions' })
    t.equal(res.statusCode, 405)
    t.equal(res.headers.allow, 'POST')
    t.equal(res.headers['x-ratelimit-remaining'], String(1 - i))
  }
  const limited = await app.inject({ method: 'DELETE', url: '/sessions' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'RATE_LIMITED')
})

test('order of checks: token, origin, rate limit, body, allow-list', async (t) => {
  const { app, upstream } = await setup(t, {
    RATE_LIMIT_MAX: '2', CORS_ORIGINS: 'https://shop.example', CLIENT_TOKENS: `svc:${TOKEN}`, ALLOWED_SERIAL_NUMBERS: 'bot-a'
  })
  const bad = await postSession(app, '{broken', { authorization: 'Bearer wrong-token-000000000', origin: 'https://evil.example' })
  t.equal(bad.json().code, 'INVALID_CLIENT_TOKEN', 'the token is checked first (and the guess counts against the address)')
  t.equal((await postSession(app, '{broken', { origin: 'https://evil.example' })).json().code, 'ORIGIN_NOT_ALLOWED', 'then the origin')
  t.equal((await postSession(app, { serialNumber: 'bot-b' })).json().code, 'SERIAL_NUMBER_NOT_ALLOWED', 'counts against the limit')
  t.equal((await postSession(app, '{broken')).json().code, 'RATE_LIMITED', 'a limited request with a bad body is still 429')
  t.equal(upstream.count(), 0)
})
