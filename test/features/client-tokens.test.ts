import { test } from 'tap'
import { postSession, setup } from '../helpers/setup.ts'

const BILLING = 'billing-token-0123456789abcdef'
const TOKENS = `billing:${BILLING},crm:crm-token-ABCDEFGHIJKLMNOP`

test('a valid token names the client in the logs, never the token', async (t) => {
  const { app, upstream, logs } = await setup(t, { CLIENT_TOKENS: TOKENS })
  const res = await postSession(app, { serialNumber: 'abc' }, { authorization: `Bearer ${BILLING}` })
  t.equal(res.statusCode, 201)
  t.ok(logs.entries.some((e) => e.client === 'billing' && e.msg === 'request completed' && (e.res as { statusCode?: number } | undefined)?.statusCode === 201))
  t.notOk(logs.text.includes(BILLING))
  t.notOk(upstream.requests[0]?.headers.authorization?.includes(BILLING), 'the client token never goes upstream')
})

test('an unknown token is 401 INVALID_CLIENT_TOKEN with WWW-Authenticate', async (t) => {
  const { app, upstream } = await setup(t, { CLIENT_TOKENS: TOKENS })
  for (const authorization of [`Bearer ${BILLING}x`, 'Bearer ', 'Basic dXNlcjpwYXNz', BILLING, `Bearer ${BILLING.slice(0, -1)}`]) {
    const res = await postSession(app, { serialNumber: 'abc' }, { authorization })
    t.equal(res.statusCode, 401, authorization)
    t.equal(res.json().code, 'INVALID_CLIENT_TOKEN')
    t.match(res.headers['www-authenticate'], /^Bearer/)
  }
  t.equal(upstream.count(), 0)
})

test('without a token: anonymous, unless REQUIRE_CLIENT_TOKEN', async (t) => {
  const open = await setup(t, { CLIENT_TOKENS: TOKENS })
  t.equal((await postSession(open.app, { serialNumber: 'abc' })).statusCode, 201)

  const closed = await setup(t, { CLIENT_TOKENS: TOKENS, REQUIRE_CLIENT_TOKEN: 'true' })
  const res = await postSession(closed.app, { serialNumber: 'abc' })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'CLIENT_TOKEN_REQUIRED')
  t.equal(res.headers['www-authenticate'], 'Bearer')
  t.equal((await postSession(closed.app, { serialNumber: 'abc' }, { authorization: `bearer ${BILLING}` })).statusCode, 201, 'the scheme is case-insensitive')
})

test('without CLIENT_TOKENS a client Authorization header is ignored', async (t) => {
  const { app, upstream } = await setup(t)
  const res = await postSession(app, { serialNumber: 'abc' }, { authorization: 'Bearer whatever-the-browser-sends' })
  t.equal(res.statusCode, 201)
  t.notMatch(String(upstream.requests[0]?.headers.authorization), /whatever/)
})
