// POST /sessions/{id}/messages against the simulated upstream: the session token and its
// bindings, the order of the checks, the exact upstream request, whole answers and their
// mapping, limits, idempotency. Streams over real sockets are in message-streams.test.ts.
import { test } from 'tap'
import { createSession, postMessage, postSession, setup, TEST_KEY } from '../helpers/setup.ts'
import { manualClock, metricValue } from '../helpers/waiting.ts'

const CLIENTS = 'web:web-token-0123456789abcdef,crm:crm-token-0123456789abcdef'

test('a session token authorises messages: the whole reply, exact body, no-store', async (t) => {
  const { app, upstream } = await setup(t)
  const session = await createSession(app)
  const res = await postMessage(app, session, { content: 'Hello' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.body, '{"messageId":375561,"content":"Hello","totalTokens":12}')
  t.equal(upstream.count(), 2)
})

test('the upstream gets exactly the GetSession headers and {sessionID, content, stream}, the content byte for byte', async (t) => {
  const { app, upstream } = await setup(t)
  const session = await createSession(app)
  const content = 'Grüße \u{1F600} \u{1D11E} "quoted" \\ back\nslash\u2028 <b>&amp;</b>'
  const res = await postMessage(app, session, { content }, { 'x-request-id': 'req-msg-1', cookie: 'a=b', authorization: 'Bearer nope' })
  t.equal(res.statusCode, 200)
  t.equal(res.json().content, content, 'the echo came back unchanged')
  const sent = upstream.requests.at(-1)!
  t.equal(sent.url, '/chat/Chat/ClientAsk')
  t.equal(sent.body, `{"sessionID":${session.sessionId},"content":${JSON.stringify(content)},"stream":false}`)
  t.equal(JSON.parse(sent.body).content, content)
  t.equal(sent.headers.authorization, TEST_KEY)
  t.equal(sent.headers['x-request-id'], 'req-msg-1')
  t.match(sent.headers['user-agent'], /^hottask-proxy\//)
  t.equal(sent.headers.accept, 'application/json')
  t.equal(sent.headers.cookie, undefined)
})

test('a session id beyond 2^53-1 goes upstream with its exact digits, as a JSON number', async (t) => {
  const { app, upstream } = await setup(t)
  const { sessionId, sessionToken } = await createSession(app, {}, 'sim-big-id')
  t.equal(sessionId, '9007199254740993123')
  t.equal((await postMessage(app, { sessionId, sessionToken }, { content: 'hi', stream: false })).statusCode, 200)
  t.equal(upstream.requests.at(-1)!.body, '{"sessionID":9007199254740993123,"content":"hi","stream":false}')
})

test('the reply\'s message id keeps its exact digits; totalTokens only when given', async (t) => {
  const { app } = await setup(t)
  const session = await createSession(app)
  t.equal((await postMessage(app, session, { content: 'sim:big-id' })).body, '{"messageId":9007199254740993123,"content":"big","totalTokens":10}')
  const bad = await postMessage(app, session, { content: 'sim:bad' })
  t.equal(bad.statusCode, 502)
  t.equal(bad.json().code, 'UPSTREAM_BAD_RESPONSE')
})

test('the path must name a possible session: 400 before the token is even asked for', async (t) => {
  const { app, upstream } = await setup(t)
  for (const id of ['0', '012', 'abc', '1'.repeat(31), '-1', '1.5']) {
    const res = await postMessage(app, { sessionId: id }, { content: 'hi' })
    t.equal(res.statusCode, 400, id)
    t.equal(res.json().code, 'VALIDATION_FAILED', id)
  }
  t.equal((await postMessage(app, { sessionId: '1'.repeat(30) }, { content: 'hi' })).json().code, 'SESSION_TOKEN_REQUIRED', '30 digits is a possible id')
  t.equal(upstream.count(), 0)
})

test('no token: 401 SESSION_TOKEN_REQUIRED; a token for another session or a forged one: INVALID_SESSION_TOKEN', async (t) => {
  const { app, upstream } = await setup(t)
  const first = await createSession(app)
  const second = await createSession(app)
  const calls = upstream.count()
  t.equal((await postMessage(app, { sessionId: first.sessionId }, { content: 'hi' })).json().code, 'SESSION_TOKEN_REQUIRED')
  const crossed = await postMessage(app, { sessionId: first.sessionId, sessionToken: second.sessionToken }, { content: 'hi' })
  t.equal(crossed.statusCode, 401)
  t.equal(crossed.json().code, 'INVALID_SESSION_TOKEN')
  for (const forged of ['x', 'v1.e30.' + 'A'.repeat(43), first.sessionToken + 'x', first.sessionToken.slice(0, -1) + (first.sessionToken.endsWith('A') ? 'B' : 'A')]) {
    t.equal((await postMessage(app, { sessionId: first.sessionId, sessionToken: forged }, { content: 'hi' })).json().code, 'INVALID_SESSION_TOKEN', forged.slice(0, 20))
  }
  t.equal(upstream.count(), calls, 'nothing refused reached the upstream')
})

test('an expired token is SESSION_TOKEN_EXPIRED, so a widget starts a new session', async (t) => {
  const clock = manualClock()
  const { app } = await setup(t, { SESSION_TOKEN_TTL_MS: '1000' }, { deps: { now: clock.now } })
  const session = await createSession(app)
  clock.advance(999)
  t.equal((await postMessage(app, session, { content: 'hi' })).statusCode, 200, 'valid 1 ms before it expires')
  clock.advance(1)
  const res = await postMessage(app, session, { content: 'hi' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'SESSION_TOKEN_EXPIRED')
})

test('attack: a token replayed from another origin is refused; an origin-bound one needs exactly that Origin', async (t) => {
  const { app, upstream } = await setup(t, { CORS_ORIGINS: 'https://shop.example,https://evil.example' })
  const session = await createSession(app, { origin: 'https://shop.example' })
  t.equal((await postMessage(app, session, { content: 'hi' }, { origin: 'https://shop.example' })).statusCode, 200)
  const calls = upstream.count()
  for (const headers of [{ origin: 'https://evil.example' }, {}] as Array<Record<string, string>>) {
    const res = await postMessage(app, session, { content: 'hi' }, headers)
    t.equal(res.json().code, 'INVALID_SESSION_TOKEN', JSON.stringify(headers))
    t.equal(res.json().detail, 'The session token is not valid for this session and caller.', 'the detail never says which binding failed')
  }
  t.equal(upstream.count(), calls)
})

test('attack: a token replayed with another client token is refused; one bound to nothing works from any caller', async (t) => {
  const { app } = await setup(t, { CLIENT_TOKENS: CLIENTS, CORS_ORIGINS: 'https://shop.example' })
  const web = { authorization: 'Bearer web-token-0123456789abcdef' }
  const crm = { authorization: 'Bearer crm-token-0123456789abcdef' }
  const session = await createSession(app, web)
  t.equal((await postMessage(app, session, { content: 'hi' }, web)).statusCode, 200)
  t.equal((await postMessage(app, session, { content: 'hi' }, crm)).json().code, 'INVALID_SESSION_TOKEN')
  t.equal((await postMessage(app, session, { content: 'hi' })).json().code, 'INVALID_SESSION_TOKEN', 'anonymous is not that client')
  // Created server-side with no client token and no Origin: any caller holding it may use it.
  const open = await createSession(app)
  t.equal((await postMessage(app, open, { content: 'hi' }, { origin: 'https://shop.example' })).statusCode, 200)
  t.equal((await postMessage(app, open, { content: 'hi' }, crm)).statusCode, 200)
})

test('the checks run in the contract\'s order: client token, origin, path, session token, limit, body', async (t) => {
  const { app, upstream } = await setup(t, { CLIENT_TOKENS: CLIENTS, REQUIRE_CLIENT_TOKEN: 'true', CORS_ORIGINS: 'https://shop.example', MESSAGE_RATE_LIMIT_MAX: '1' })
  const web = { authorization: 'Bearer web-token-0123456789abcdef' }
  const session = await createSession(app, web)
  const code = async (sessionId: string, token: string | undefined, body: unknown, headers: Record<string, string>) =>
    (await postMessage(app, { sessionId, sessionToken: token }, body, headers)).json().code
  t.equal(await code('x', undefined, 'not json', {}), 'CLIENT_TOKEN_REQUIRED')
  t.equal(await code('x', undefined, 'not json', { authorization: 'Bearer wrong-token-0123456789' }), 'INVALID_CLIENT_TOKEN')
  t.equal(await code('x', undefined, 'not json', { ...web, origin: 'https://evil.example' }), 'ORIGIN_NOT_ALLOWED')
  t.equal(await code('x', undefined, 'not json', web), 'VALIDATION_FAILED')
  t.equal(await code(session.sessionId, undefined, 'not json', web), 'SESSION_TOKEN_REQUIRED')
  t.equal(await code(session.sessionId, 'forged', 'not json', web), 'INVALID_SESSION_TOKEN')
  t.equal((await postMessage(app, session, { content: 'first' }, web)).statusCode, 200)
  t.equal(await code(session.sessionId, session.sessionToken, 'not json', web), 'RATE_LIMITED', 'the limit before the body')
  const other = await createSession(app, web)
  t.equal(await code(other.sessionId, other.sessionToken, 'not json', web), 'INVALID_JSON')
  t.equal(upstream.count(), 3, 'two sessions and one message')
})

test('the body: content of 1 to MESSAGE_MAX_CHARS code points, not only white space, stream a boolean, nothing else', async (t) => {
  const { app, upstream } = await setup(t, { MESSAGE_MAX_CHARS: '5', MESSAGE_BODY_LIMIT_BYTES: '200', MESSAGE_RATE_LIMIT_MAX: '1000' })
  const session = await createSession(app)
  const calls = upstream.count()
  for (const body of [{}, { content: '' }, { content: ' \n\t\u3000' }, { content: 'abcdef' }, { content: 5 }, { content: 'hi', stream: 'yes' },
    { content: 'hi', extra: 1 }, { content: 'hi', serialNumber: 'abc' }, [], 'null']) {
    const res = await postMessage(app, session, body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'VALIDATION_FAILED', JSON.stringify(body))
  }
  t.equal((await postMessage(app, session, '{"content":')).json().code, 'INVALID_JSON')
  t.equal((await postMessage(app, session, { content: 'x'.repeat(300) })).json().code, 'PAYLOAD_TOO_LARGE')
  t.equal(upstream.count(), calls, 'no refused body reached the upstream')
  t.equal((await postMessage(app, session, { content: '\u{1F600}'.repeat(5) })).statusCode, 200, 'five emoji are five characters')
  t.equal((await postMessage(app, session, { content: 'hello', stream: false })).statusCode, 200)
})

test('upstream failures map as for sessions, a 404 is SESSION_NOT_FOUND, and no answer is retried', async (t) => {
  const { app, upstream } = await setup(t, { MESSAGE_RATE_LIMIT_MAX: '1000' })
  const session = await createSession(app)
  for (const [content, status, code] of [
    ['sim:code-404', 404, 'SESSION_NOT_FOUND'], ['sim:http-404', 404, 'SESSION_NOT_FOUND'], ['sim:code-400', 400, 'UPSTREAM_REJECTED'],
    ['sim:code-401', 502, 'UPSTREAM_AUTH_FAILED'], ['sim:http-503-ra-1', 502, 'UPSTREAM_ERROR'], ['sim:http-429-ra-7', 503, 'UPSTREAM_RATE_LIMITED'],
    ['sim:code-504', 504, 'UPSTREAM_TIMEOUT'], ['sim:http-500', 502, 'UPSTREAM_ERROR']
  ] as const) {
    const before = upstream.count()
    const res = await postMessage(app, session, { content })
    t.equal(res.statusCode, status, content)
    t.equal(res.json().code, code, content)
    t.equal(upstream.count(), before + 1, `${content}: sent once, never again`)
    if (code === 'UPSTREAM_RATE_LIMITED') t.equal(res.headers['retry-after'], '7')
  }
  t.equal((await postMessage(app, session, { content: 'sim:code-404' })).json().detail, 'The chatbot service does not know this session.')
})

test('a reset after the message was sent is UPSTREAM_UNAVAILABLE, never a second send', async (t) => {
  const { app, upstream } = await setup(t)
  const session = await createSession(app)
  const before = upstream.count()
  const res = await postMessage(app, session, { content: 'sim:reset', stream: false })
  t.equal(res.statusCode, 502)
  t.equal(res.json().code, 'UPSTREAM_UNAVAILABLE')
  t.equal(upstream.count(), before + 1)
})

test('a message whose connection never opened is retried; the deadline is MESSAGE_TIMEOUT_MS', async (t) => {
  const { app, upstream } = await setup(t, { MESSAGE_TIMEOUT_MS: '300', UPSTREAM_RETRY_BASE_MS: '1' })
  const session = await createSession(app)
  const slow = await postMessage(app, session, { content: 'sim:slow-1000' })
  t.equal(slow.statusCode, 504)
  t.equal(slow.json().code, 'UPSTREAM_TIMEOUT')
  await upstream.close()
  const refused = await postMessage(app, session, { content: 'hi' })
  t.equal(refused.json().code, 'UPSTREAM_UNAVAILABLE')
})

test('secrets the proxy holds are replaced in a whole reply', async (t) => {
  const { app } = await setup(t)
  const session = await createSession(app)
  const res = await postMessage(app, session, { content: `my key is ${TEST_KEY}!` })
  t.equal(res.json().content, 'my key is [REDACTED]!')
  t.notMatch(res.body, TEST_KEY)
})

test('each session has its own message limit, apart from the /sessions limit', async (t) => {
  const { app } = await setup(t, { RATE_LIMIT_MAX: '2', MESSAGE_RATE_LIMIT_MAX: '2' })
  const first = await createSession(app)
  const second = await createSession(app)
  t.equal((await postSession(app, { serialNumber: 'abc' })).json().code, 'RATE_LIMITED', 'the /sessions limit is spent')
  for (let i = 0; i < 2; i++) t.equal((await postMessage(app, first, { content: `m${i}` })).statusCode, 200, 'messages do not count toward it')
  const limited = await postMessage(app, first, { content: 'm3' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal(limited.headers['x-ratelimit-limit'], '2')
  t.equal((await postMessage(app, second, { content: 'm1' })).statusCode, 200, 'another session has its own')
})

test('Idempotency-Key: a whole reply is replayed for the same content, 422 for other content, 400 with a stream', async (t) => {
  const { app, upstream } = await setup(t)
  const session = await createSession(app)
  const key = { 'idempotency-key': '7a0c2f64-4a4e-4ab5-9d36-6d0f0c1f2b11' }
  const first = await postMessage(app, session, { content: 'once' }, key)
  const calls = upstream.count()
  const again = await postMessage(app, session, { content: 'once' }, key)
  t.equal(again.body, first.body)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(upstream.count(), calls, 'not sent again')
  const other = await postMessage(app, session, { content: 'twice' }, key)
  t.equal(other.statusCode, 422)
  t.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED')
  t.match(other.json().detail, /another message/)
  const streamed = await postMessage(app, session, { content: 'once', stream: true }, key)
  t.equal(streamed.statusCode, 400)
  t.match(streamed.json().detail, /whole answers only/)
  const otherSession = await createSession(app)
  t.equal((await postMessage(app, otherSession, { content: 'once' }, key)).headers['idempotent-replayed'], undefined, 'scoped per session')
})

test('messages have their own concurrency limit: a full queue is OVERLOADED while sessions are still created', async (t) => {
  const { app, upstream, metrics } = await setup(t, { MESSAGE_MAX_CONCURRENCY: '1', MESSAGE_QUEUE_MAX: '0' })
  const session = await createSession(app)
  const slow = postMessage(app, session, { content: 'sim:slow-300' })
  await upstream.received(2)
  const refused = await postMessage(app, session, { content: 'hi' })
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'OVERLOADED')
  t.equal((await postSession(app, { serialNumber: 'abc' })).statusCode, 201)
  t.equal((await slow).statusCode, 200)
  t.equal(await metricValue(metrics, 'hottask_proxy_messages_total{outcome="OVERLOADED"}'), 1)
  t.equal(await metricValue(metrics, 'hottask_proxy_messages_total{outcome="answered"}'), 1)
})

test('CORS: the preflight of the messages route allows Session-Token from a listed origin', async (t) => {
  const { app } = await setup(t, { CORS_ORIGINS: 'https://shop.example' })
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/sessions/123/messages',
    headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, session-token' }
  })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], 'https://shop.example')
  t.match(res.headers['access-control-allow-headers'], /Session-Token/)
})

test('without SESSION_TOKEN_SECRET a random one is used, with one warning; tokens do not outlive the process', async (t) => {
  const { app, logs } = await setup(t, { SESSION_TOKEN_SECRET: undefined })
  t.equal(logs.entries.filter((e) => e.level === 40 && String(e.msg).startsWith('SESSION_TOKEN_SECRET is not set')).length, 1)
  const session = await createSession(app)
  t.equal((await postMessage(app, session, { content: 'hi' })).statusCode, 200)
  const other = await setup(t, { SESSION_TOKEN_SECRET: undefined })
  t.equal((await postMessage(other.app, session, { content: 'hi' })).json().code, 'INVALID_SESSION_TOKEN', 'another process has another secret')
})

test('a previous secret still verifies tokens during a rotation; the session-token secret never reaches a log', async (t) => {
  const oldSecret = 'old-session-token-secret-0123456789abcdef'
  const before = await setup(t, { SESSION_TOKEN_SECRET: oldSecret })
  const session = await createSession(before.app)
  const after = await setup(t, { SESSION_TOKEN_SECRET: 'new-session-token-secret-0123456789abcdef', SESSION_TOKEN_SECRET_PREVIOUS: oldSecret })
  t.equal((await postMessage(after.app, session, { content: 'hi' })).statusCode, 200)
  const gone = await setup(t, { SESSION_TOKEN_SECRET: 'new-session-token-secret-0123456789abcdef' })
  t.equal((await postMessage(gone.app, session, { content: 'hi' })).json().code, 'INVALID_SESSION_TOKEN')
  for (const logs of [before.logs, after.logs]) {
    t.notMatch(logs.text, oldSecret)
    t.notMatch(logs.text, session.sessionToken, 'tokens are never logged')
  }
})
