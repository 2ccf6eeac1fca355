// The key never leaks: every scenario of the simulated upstream and every refusal is
// run at trace level; neither a log line nor any response (body or header) may hold
// the server's key, and the client's credentials never reach the logs.
import { test } from 'tap'
import { createSession, postMessage, postSession, setup, TEST_KEY, TEST_TOKEN_SECRET } from '../helpers/setup.ts'

const CLIENT_SECRET = 'client-bearer-token-ZXCVBNM-0987'
const COOKIE_SECRET = 'cookie-value-QWERTY-1234'

const SCENARIOS = [
  'abc', 'sim-big-id', 'sim-echo-key', 'sim-code-400', 'sim-code-401', 'sim-code-404', 'sim-code-429-ra-3',
  'sim-code-500', 'sim-http-401', 'sim-http-500', 'sim-http-500-code-404', 'sim-http-429', 'sim-reset', 'sim-close',
  'sim-hang', 'sim-hang-body', 'sim-redirect', 'sim-not-json', 'sim-inconsistent', 'sim-bad-id-float', 'sim-huge'
]

test('the key appears in no log line at trace level and in no response', async (t) => {
  const { app, logs } = await setup(t, { UPSTREAM_TIMEOUT_MS: '200', LOG_LEVEL: 'trace' })
  const responses: string[] = []
  const headers = { authorization: `Bearer ${CLIENT_SECRET}`, cookie: `sid=${COOKIE_SECRET}` }
  for (const serialNumber of SCENARIOS) {
    const res = await postSession(app, { serialNumber }, headers)
    responses.push(res.body, JSON.stringify(res.headers))
  }
  for (const [body, type] of [['{', 'application/json'], ['x', 'text/plain'], ['{"serialNumber":"a b"}', 'application/json']]) {
    const res = await postSession(app, body, { ...headers, 'content-type': type! })
    responses.push(res.body, JSON.stringify(res.headers))
  }
  // Refusals log their code and detail on the completion line: nothing of the caller's credentials.
  for (const origin of ['https://elsewhere.example', 'null']) {
    const res = await postSession(app, { serialNumber: 'abc' }, { ...headers, origin })
    t.equal(res.statusCode, 403)
    responses.push(res.body, JSON.stringify(res.headers))
  }
  const echoed = await postSession(app, { serialNumber: 'sim-echo-key' })
  t.equal(echoed.json().detail, 'The chatbot service rejected the request.', 'the upstream\'s words never reach the caller')
  t.ok(logs.entries.some((e) => /for key \[REDACTED\] second line/.test(String((e.upstream as { message?: string } | undefined)?.message))), 'they are logged, scrubbed by value')

  const everything = logs.text + responses.join('\n')
  t.ok(logs.lines.length > SCENARIOS.length * 3, 'logs were captured')
  t.ok(logs.entries.some((e) => e.level === 20 && e.msg === 'upstream attempt'), 'debug lines were written: the run was below info')
  t.notOk(everything.includes(TEST_KEY), 'the key is nowhere')
  t.notOk(logs.text.includes(CLIENT_SECRET), 'client tokens are not logged')
  t.notOk(logs.text.includes(COOKIE_SECRET), 'cookies are not logged')
})

test('an error carrying the key is scrubbed from the logs', async (t) => {
  const { app, logs } = await setup(t, { LOG_LEVEL: 'trace' })
  app.log.error({ err: new Error(`failed with ${TEST_KEY}`), nested: { key: TEST_KEY } }, `message ${TEST_KEY}`)
  t.notOk(logs.text.includes(TEST_KEY))
  t.match(logs.text, /\[REDACTED\]/)
})

test('inbound credential headers are redacted by path wherever headers are logged, and never copied from a request', async (t) => {
  const { app, logs } = await setup(t, { LOG_LEVEL: 'trace' })
  const headers = { authorization: `Bearer ${CLIENT_SECRET}`, cookie: COOKIE_SECRET, 'proxy-authorization': `Basic ${CLIENT_SECRET}`, 'set-cookie': COOKIE_SECRET, accept: 'text/plain' }
  // Neither secret is a configured one, so only redaction by path can hide them.
  app.log.info({ headers }, 'with headers')
  const line = logs.entries.find((e) => e.msg === 'with headers')
  t.same(line?.headers, {
    authorization: '[REDACTED]', cookie: '[REDACTED]', 'proxy-authorization': '[REDACTED]', 'set-cookie': '[REDACTED]', accept: 'text/plain'
  })
  app.log.info({ req: { method: 'POST', url: '/sessions', headers } }, 'a request')
  const request = logs.entries.find((e) => e.msg === 'a request')
  t.same(Object.keys(request?.req as object).sort(), ['method', 'url'], 'a logged request keeps its method and url, never its headers')
  t.notOk(logs.text.includes(CLIENT_SECRET))
  t.notOk(logs.text.includes(COOKIE_SECRET))
})

test('no key or token leaks through failover, client tokens, idempotency, metrics or readiness', async (t) => {
  const refused = 'refused-leak-key-ABCDEFGH-0001'
  const token = 'leak-client-token-QWERTYUIOP-42'
  const { app, logs, metrics } = await setup(t, {
    HOTTASK_API_KEY: refused, HOTTASK_API_KEY_NEXT: TEST_KEY, CLIENT_TOKENS: `svc:${token}`, LOG_LEVEL: 'trace'
  })
  const responses: string[] = []
  const auth = { authorization: `Bearer ${token}` }
  for (const [body, headers] of [
    [{ serialNumber: 'abc' }, auth],
    [{ serialNumber: 'sim-echo-key' }, { ...auth, 'idempotency-key': 'leak-1' }],
    [{ serialNumber: 'sim-echo-key' }, { ...auth, 'idempotency-key': 'leak-1' }],
    [{ serialNumber: 'abc' }, { authorization: `Bearer ${token}x` }]
  ] as const) {
    const res = await postSession(app, body, headers)
    responses.push(res.body, JSON.stringify(res.headers))
  }
  for (const url of ['/readyz', '/openapi.json']) responses.push((await app.inject({ url })).body)
  responses.push(await metrics.render())
  const everything = logs.text + responses.join('\n')
  for (const secret of [refused, TEST_KEY, token]) t.notOk(everything.includes(secret), `${secret.slice(0, 12)}… appears nowhere`)
})

test('no key or token leaks through the hardened edge: short-circuited refusals, token guessing, malformed URLs, forwarded garbage', async (t) => {
  const token = 'hardened-client-token-0123456789'
  const { app, logs, metrics } = await setup(t, { CLIENT_TOKENS: `svc:${token}`, TRUST_PROXY: '1', LOG_LEVEL: 'trace', CHATBOT_CIRCUIT_FAILURE_THRESHOLD: '2' })
  const responses: string[] = []
  const keep = (res: { body: string, headers: object }) => { responses.push(res.body, JSON.stringify(res.headers)) }
  for (let i = 0; i < 4; i++) keep(await postSession(app, { serialNumber: 'sim-echo-key' }))
  for (let i = 0; i < 3; i++) keep(await postSession(app, { serialNumber: 'abc' }, { authorization: `Bearer ${token.slice(0, -1)}${i}` }))
  keep(await app.inject({ url: `/%E0%A4%A${TEST_KEY}` }))
  keep(await app.inject({ method: 'POST', url: '/sessions', headers: { 'content-type': 'application/json', 'x-forwarded-for': `${TEST_KEY} ${token}` }, payload: '{"serialNumber":"abc"}' }))
  responses.push(await metrics.render())
  const everything = logs.text + responses.join('\n')
  for (const secret of [TEST_KEY, token]) t.notOk(everything.includes(secret), `${secret.slice(0, 12)}… appears nowhere`)
  t.ok(logs.entries.some((e) => (e.upstream as { shortCircuited?: boolean } | undefined)?.shortCircuited === true), 'a refusal was answered from the chatbot\'s breaker')
})

const MESSAGE_SCENARIOS = ['hello', 'sim:key', 'sim:json', 'sim:code-404', 'sim:http-429-ra-3', 'sim:reset', 'sim:bad', 'sim:big-id', 'sim:slow-1000']

test('no key, session token or token secret leaks through messages, whole or streamed, answered or refused', async (t) => {
  const { app, logs } = await setup(t, { LOG_LEVEL: 'trace', MESSAGE_TIMEOUT_MS: '300', MESSAGE_RATE_LIMIT_MAX: '1000' })
  const session = await createSession(app)
  const responses: string[] = []
  for (const content of MESSAGE_SCENARIOS) {
    for (const stream of [false, true]) {
      const res = await postMessage(app, session, { content: `${content} ${TEST_KEY}`, stream }).catch((error: unknown) => ({ body: String(error), headers: {} }))
      responses.push(res.body, JSON.stringify(res.headers))
    }
  }
  for (const token of [session.sessionToken.slice(0, -2) + 'xx', `${session.sessionToken}.extra`]) {
    const res = await postMessage(app, { sessionId: session.sessionId, sessionToken: token }, { content: 'hi' })
    t.equal(res.json().code, 'INVALID_SESSION_TOKEN')
    responses.push(res.body, JSON.stringify(res.headers))
  }
  const everything = logs.text + responses.join('\n')
  t.ok(logs.entries.some((e) => e.level === 20 && e.msg === 'upstream attempt'), 'debug lines were written')
  t.notOk(everything.includes(TEST_KEY), 'the key is nowhere, though every message carried it and some replies echoed it')
  t.notOk(everything.includes(TEST_TOKEN_SECRET), 'the session-token secret is nowhere')
  t.notOk(logs.text.includes(session.sessionToken), 'the session token is never logged')
  t.notOk(responses.join('\n').includes(session.sessionToken.split('.')[2]!), 'nor echoed in any answer to a message')
})

test('visitor tokens, their subjects and the identity secrets appear in no log line and no response', async (t) => {
  const { SignJWT } = await import('jose')
  const visitorSecret = 'visitor-jwt-secret-LEAKCHECK-0123456789'
  const altchaKey = 'altcha-hmac-key-LEAKCHECK-0123456789abc'
  const { app, logs } = await setup(t, {
    LOG_LEVEL: 'trace',
    CORS_ORIGINS: 'https://shop.example',
    VISITOR_JWT_SECRET: visitorSecret,
    VISITOR_JWT_ISSUER: 'https://shop.example',
    VISITOR_JWT_AUDIENCE: 'proxy',
    BOT_CHECK: 'altcha',
    ALTCHA_HMAC_KEY: altchaKey,
    QUOTA_MESSAGES_PER_DAY: '1'
  })
  const sign = async (sub: string, secret = visitorSecret) => await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub)
    .setIssuer('https://shop.example').setAudience('proxy').setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(secret))
  const subject = 'leak.check.visitor@example.com'
  const valid = await sign(subject)
  const forged = await sign(subject, 'x'.repeat(40))
  const responses: string[] = []
  const keep = (res: { body: string, headers: object }) => { responses.push(res.body, JSON.stringify(res.headers)) }
  const origin = 'https://shop.example'
  const session = await createSession(app, { authorization: `Bearer ${valid}`, origin })
  for (const token of [valid, forged]) {
    keep(await postSession(app, { serialNumber: 'abc' }, { authorization: `Bearer ${token}`, origin }))
    for (const content of ['hi', 'again: over the quota']) keep(await postMessage(app, session, { content }, { authorization: `Bearer ${token}`, origin }))
  }
  keep(await postSession(app, { serialNumber: 'abc' }, { origin, 'bot-check-token': Buffer.from(`{"challenge":"${altchaKey}"}`).toString('base64') }))
  keep(await app.inject({ url: '/bot-check/challenge', headers: { origin } }))
  t.ok(logs.entries.some((e) => e.msg === 'visitor token refused'), 'the forged token was refused and logged')
  const everything = logs.text + responses.join('\n')
  t.notOk(logs.text.includes(valid) || logs.text.includes(forged), 'no visitor token in the logs')
  t.notOk(everything.includes(subject), 'no visitor subject anywhere')
  t.notOk(everything.includes(visitorSecret), 'the visitor secret is nowhere')
  t.notOk(everything.includes(altchaKey), 'the ALTCHA key is nowhere')
})
