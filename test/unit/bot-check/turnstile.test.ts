// Turnstile against a fake siteverify on loopback: what we send, how each answer is
// judged, the deadline (a slow verifier, a silent one), the one retry with the same
// idempotency key, redirects not followed, and the pool's ownership.
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { test } from 'tap'
import type { Test } from 'tap'
import { Agent } from 'undici'
import { TURNSTILE_VERIFY_URL, TurnstileChecker } from '../../../src/bot-check/turnstile.ts'
import type { TurnstileOptions } from '../../../src/bot-check/turnstile.ts'
import { MAX_TOKEN_LENGTH } from '../../../src/bot-check/verdict.ts'

const SECRET = '0x4AAAAAAA-the-widget-secret'
const VISITOR = { remoteIp: '203.0.113.7' }
const PATH = '/turnstile/v0/siteverify'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const PASS = { success: true, 'error-codes': [], hostname: 'chat.example.com', action: 'start-session', challenge_ts: '2025-01-01T00:00:00.000Z' }

interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: Record<string, unknown>
}

type Answer = (request: Received, response: ServerResponse, count: number) => void

const json = (response: ServerResponse, body: unknown, status = 200): void => {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}

/** A siteverify on 127.0.0.1 that answers as `answer` says and records every request. */
async function fakeSiteverify (t: Test, answer: Answer) {
  const received: Received[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString()
      const seen = { method: request.method!, url: request.url!, headers: request.headers, body: text === '' ? {} : JSON.parse(text) }
      received.push(seen)
      answer(seen, response, received.length)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`, received }
}

function checker (t: Test, verifyUrl: string, options: Partial<TurnstileOptions> = {}): TurnstileChecker {
  const turnstile = new TurnstileChecker({ verifyUrl, secret: SECRET, timeoutMs: 1000, allowedHostnames: ['chat.example.com'], action: 'start-session', ...options })
  t.teardown(() => turnstile.close())
  return turnstile
}

/** The verdict and how long it took. */
async function timed (promise: Promise<unknown>): Promise<[unknown, number]> {
  const started = performance.now()
  const verdict = await promise
  return [verdict, performance.now() - started]
}

test('a passing token: one POST with the secret, the token, the address and a fresh idempotency key', async (t) => {
  const siteverify = await fakeSiteverify(t, (_request, response) => json(response, PASS))
  const turnstile = checker(t, siteverify.url)
  t.same(await turnstile.verify('token-1', VISITOR), { ok: true })
  t.same(await turnstile.verify('token-2', { remoteIp: '' }), { ok: true })
  const [first, second] = siteverify.received
  t.match(first, { method: 'POST', url: PATH, headers: { 'content-type': 'application/json' } })
  t.same(Object.keys(first!.body).sort(), ['idempotency_key', 'remoteip', 'response', 'secret'])
  t.match(first!.body, { secret: SECRET, response: 'token-1', remoteip: '203.0.113.7', idempotency_key: UUID })
  t.match(second!.body, { secret: SECRET, response: 'token-2', idempotency_key: UUID })
  t.notOk('remoteip' in second!.body, 'no address, no remoteip')
  t.not(first!.body.idempotency_key, second!.body.idempotency_key, 'a key per verification')
  t.equal(TURNSTILE_VERIFY_URL, 'https://challenges.cloudflare.com/turnstile/v0/siteverify')
})

test('what siteverify says decides: failures, another host, another action', async (t) => {
  const answers: Record<string, unknown> = {
    pass: PASS,
    failed: { success: false, 'error-codes': ['invalid-input-response'] },
    duplicate: { success: false, 'error-codes': ['timeout-or-duplicate'] },
    'other-host': { ...PASS, hostname: 'evil.example' },
    'no-host': { success: true, action: 'start-session' },
    'host-in-capitals': { ...PASS, hostname: 'Chat.Example.COM' },
    'other-action': { ...PASS, action: 'login' },
    'no-action': { ...PASS, action: undefined },
    'secret-refused': { success: false, 'error-codes': ['invalid-input-secret'] },
    'secret-missing': { success: false, 'error-codes': ['missing-input-secret'] },
    'cloudflare-error': { success: false, 'error-codes': ['internal-error'] },
    'not-json': 'html',
    'wrong-shape': { success: 'true' }
  }
  const siteverify = await fakeSiteverify(t, (request, response) => {
    const answer = answers[request.body.response as string]
    if (answer === 'html') return response.end('<html>Just a moment…</html>')
    json(response, answer)
  })
  const strict = checker(t, siteverify.url)
  const expected: Record<string, unknown> = {
    pass: { ok: true },
    failed: { ok: false, reason: 'invalid' },
    duplicate: { ok: false, reason: 'invalid' },
    'other-host': { ok: false, reason: 'hostname' },
    'no-host': { ok: false, reason: 'hostname' },
    'host-in-capitals': { ok: true },
    'other-action': { ok: false, reason: 'action' },
    'no-action': { ok: false, reason: 'action' },
    'secret-refused': { ok: false, reason: 'unavailable', cause: 'secret_rejected' },
    'secret-missing': { ok: false, reason: 'unavailable', cause: 'secret_rejected' },
    'cloudflare-error': { ok: false, reason: 'unavailable', cause: 'verifier_error' },
    'not-json': { ok: false, reason: 'unavailable', cause: 'bad_response' },
    'wrong-shape': { ok: false, reason: 'unavailable', cause: 'bad_response' }
  }
  for (const [token, verdict] of Object.entries(expected)) t.same(await strict.verify(token, VISITOR), verdict, token)
  t.equal(siteverify.received.length, Object.keys(expected).length, 'refusals are not retried')

  const lax = checker(t, siteverify.url, { allowedHostnames: undefined, action: undefined })
  for (const token of ['other-host', 'no-host', 'other-action', 'no-action']) t.same(await lax.verify(token, VISITOR), { ok: true }, `${token}, unchecked`)
  const other = checker(t, siteverify.url, { allowedHostnames: ['widget.example.org', 'chat.example.com'], action: 'login' })
  t.same(await other.verify('other-action', VISITOR), { ok: true }, 'any of the allowed hosts, the configured action')
})

test('a verifier slower than timeoutMs: unavailable at the deadline, not after it answers', async (t) => {
  const siteverify = await fakeSiteverify(t, (_request, response) => { setTimeout(() => json(response, PASS), 1500) })
  const turnstile = checker(t, siteverify.url, { timeoutMs: 300 })
  const [verdict, elapsed] = await timed(turnstile.verify('token', VISITOR))
  t.same(verdict, { ok: false, reason: 'unavailable', cause: 'timeout' })
  t.ok(elapsed >= 290 && elapsed < 550, `verdict after ${Math.round(elapsed)} ms`)
  t.equal(siteverify.received.length, 1, 'no retry once the deadline has passed')
})

test('a verifier that accepts the connection and never answers: unavailable at the deadline', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createTcpServer((socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    silent.close()
  })
  const turnstile = checker(t, `http://127.0.0.1:${(silent.address() as AddressInfo).port}${PATH}`, { timeoutMs: 300 })
  const [verdict, elapsed] = await timed(turnstile.verify('token', VISITOR))
  t.same(verdict, { ok: false, reason: 'unavailable', cause: 'timeout' })
  t.ok(elapsed >= 290 && elapsed < 550, `verdict after ${Math.round(elapsed)} ms`)
  t.equal(sockets.size, 1, 'one connection, no retry')
})

test('a 5xx is tried once more with the same idempotency key', async (t) => {
  const siteverify = await fakeSiteverify(t, (_request, response, count) => {
    if (count === 1) return json(response, { error: 'bad gateway' }, 503)
    json(response, PASS)
  })
  const turnstile = checker(t, siteverify.url)
  t.same(await turnstile.verify('token', VISITOR), { ok: true })
  const [first, second] = siteverify.received
  t.equal(siteverify.received.length, 2)
  t.match(first!.body.idempotency_key, UUID)
  t.same(second!.body, first!.body, 'the same request, the same key')

  const failing = await fakeSiteverify(t, (_request, response) => json(response, {}, 502))
  t.same(await checker(t, failing.url).verify('token', VISITOR), { ok: false, reason: 'unavailable', cause: 'status_502' })
  t.equal(failing.received.length, 2, 'once more, not again')
})

test('a dropped connection is tried once more with the same key; an unreachable verifier is unavailable', async (t) => {
  const siteverify = await fakeSiteverify(t, (_request, response, count) => {
    if (count === 1) return response.socket!.destroy()
    json(response, PASS)
  })
  t.same(await checker(t, siteverify.url).verify('token', VISITOR), { ok: true })
  t.equal(siteverify.received.length, 2)
  t.same(siteverify.received[1]!.body, siteverify.received[0]!.body)

  const closed = createTcpServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as AddressInfo).port
  await new Promise((resolve) => closed.close(resolve))
  t.same(await checker(t, `http://127.0.0.1:${port}${PATH}`).verify('token', VISITOR), { ok: false, reason: 'unavailable', cause: 'network' })
})

test('the retry stays inside the deadline', async (t) => {
  const siteverify = await fakeSiteverify(t, (_request, response, count) => {
    if (count === 1) setTimeout(() => json(response, {}, 500), 200)
    // the second is never answered
  })
  const turnstile = checker(t, siteverify.url, { timeoutMs: 400 })
  const [verdict, elapsed] = await timed(turnstile.verify('token', VISITOR))
  t.same(verdict, { ok: false, reason: 'unavailable', cause: 'timeout' })
  t.ok(elapsed >= 390 && elapsed < 650, `verdict after ${Math.round(elapsed)} ms`)
  t.equal(siteverify.received.length, 2)
})

test('a redirect is not followed', async (t) => {
  const siteverify = await fakeSiteverify(t, (request, response) => {
    if (request.url === '/elsewhere') return json(response, PASS)
    response.writeHead(302, { location: '/elsewhere' })
    response.end('moved')
  })
  t.same(await checker(t, siteverify.url).verify('token', VISITOR), { ok: false, reason: 'unavailable', cause: 'status_302' })
  t.same(siteverify.received.map((request) => request.url), [PATH])
})

test('empty and oversized tokens are settled without calling out', async (t) => {
  const siteverify = await fakeSiteverify(t, (_request, response) => json(response, PASS))
  const turnstile = checker(t, siteverify.url)
  t.same(await turnstile.verify('', VISITOR), { ok: false, reason: 'missing' })
  t.same(await turnstile.verify('x'.repeat(MAX_TOKEN_LENGTH + 1), VISITOR), { ok: false, reason: 'invalid' })
  t.same(siteverify.received, [])
  t.same(await turnstile.verify('x'.repeat(MAX_TOKEN_LENGTH), VISITOR), { ok: true }, 'the longest allowed goes out')
})

test('close() closes the pool the checker owns, never a dispatcher it was given', async (t) => {
  const siteverify = await fakeSiteverify(t, (_request, response) => json(response, PASS))
  const owning = new TurnstileChecker({ verifyUrl: siteverify.url, secret: SECRET, timeoutMs: 1000, allowedHostnames: undefined, action: undefined })
  t.same(await owning.verify('token', VISITOR), { ok: true })
  await owning.close()
  t.same(await owning.verify('token', VISITOR), { ok: false, reason: 'unavailable', cause: 'network' }, 'closed')

  const agent = new Agent()
  t.teardown(() => agent.close())
  const borrowing = new TurnstileChecker({ verifyUrl: siteverify.url, secret: SECRET, timeoutMs: 1000, allowedHostnames: undefined, action: undefined, dispatcher: agent })
  await borrowing.close()
  t.same(await borrowing.verify('token', VISITOR), { ok: true }, 'the given dispatcher still works')
  t.equal(agent.closed, false)
})

test('the options are checked once, and errors never quote the secret', async (t) => {
  const base = { secret: SECRET, timeoutMs: 1000, allowedHostnames: undefined, action: undefined }
  t.throws(() => new TurnstileChecker({ ...base, verifyUrl: 'ftp://example.com/siteverify' }), { message: 'the Turnstile verify URL must be http(s)' })
  t.throws(() => new TurnstileChecker({ ...base, verifyUrl: 'not a url' }), { code: 'ERR_INVALID_URL' })
  t.throws(() => new TurnstileChecker({ ...base, verifyUrl: TURNSTILE_VERIFY_URL, secret: '' }), { message: 'the Turnstile secret is empty' })
  t.throws(() => new TurnstileChecker({ ...base, verifyUrl: TURNSTILE_VERIFY_URL, timeoutMs: 0 }), { message: 'the bot check timeout must be positive' })
})
