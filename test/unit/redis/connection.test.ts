// The shared Redis connection against a real redis-server: it never makes a caller wait
// (no offline queue, a command timeout for a hung server), reconnects by itself, and logs
// each kind of trouble once, by code, never the URL or its password.
import { readFileSync } from 'node:fs'
import pino from 'pino'
import { test } from 'tap'
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { createRedis, isRedisReady, isTlsFailure } from '../../../src/redis/connection.ts'
import { freePort } from '../../helpers/ports.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { makeTestCertificates } from '../../helpers/test-certificates.ts'
import { until } from '../../helpers/waiting.ts'

const PASSWORD = 'redis-password-0123456789'
const TLS_MESSAGE = 'redis TLS connection failed: check REDIS_URL\'s host and REDIS_TLS_CA_FILE'

interface Captured {
  log: pino.Logger
  lines: Array<Record<string, unknown>>
  raw: string[]
  messages: (msg: string) => Array<Record<string, unknown>>
}

function capture (): Captured {
  const lines: Array<Record<string, unknown>> = []
  const raw: string[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line) as Record<string, unknown>) } })
  return { log, lines, raw, messages: (msg) => lines.filter((l) => l.msg === msg) }
}

function connect (t: Test, url: string, log: pino.Logger, ca?: string): Redis {
  const redis = createRedis(url, log, ca === undefined ? {} : { ca })
  t.teardown(() => { redis.disconnect() })
  return redis
}

test('regression: a Redis unreachable from the start is warned about once, by code, never the URL', async (t) => {
  const { log, lines, raw, messages } = capture()
  const port = await freePort()
  const redis = connect(t, `redis://:${PASSWORD}@127.0.0.1:${port}/0`, log)
  // Several failed attempts: the first warns, the later ones stay at debug.
  await until(() => messages('redis not reachable').length >= 2, 'two more failed attempts')
  const warnings = lines.filter((l) => l.level === 40)
  t.equal(warnings.length, 1, 'one warning')
  t.match(warnings[0], { code: 'ECONNREFUSED', msg: /^redis not reachable since start: check REDIS_URL/ })
  t.notMatch(raw.join(''), PASSWORD, 'no password')
  t.notMatch(JSON.stringify(warnings), new RegExp(`127\\.0\\.0\\.1|${port}`), 'no host or port in the warning')
  t.notOk(isRedisReady(redis), 'not ready')
})

test('connects by itself at creation, says so at info, and is ready', async (t) => {
  const server = await startRedis(t)
  const { log, lines, messages } = capture()
  const redis = connect(t, server.url, log)
  await until(() => isRedisReady(redis), 'ready without a first command')
  t.equal(messages('redis connected').length, 1)
  t.match(messages('redis connected')[0], { level: 30 })
  t.same(lines.filter((l) => (l.level as number) >= 40), [], 'nothing at warn or above')
  t.equal(await redis.set('k', 'v'), 'OK')
  t.equal(await redis.get('k'), 'v')
})

test('a lost connection is warned about once, retried at debug, and recovered by itself', async (t) => {
  const server = await startRedis(t)
  const { log, lines, messages } = capture()
  const redis = connect(t, server.url, log)
  await until(() => isRedisReady(redis), 'ready')
  await server.stop()
  await until(() => messages('redis not reachable').length >= 2, 'two failed reconnections')
  t.notOk(isRedisReady(redis), 'not ready while Redis is down')
  const warnings = lines.filter((l) => l.level === 40)
  t.equal(warnings.length, 1, 'one warning for the loss, none per attempt')
  t.match(warnings[0], { msg: /^redis connection (lost|closed)$/ })
  t.same(messages('redis not reachable since start: check REDIS_URL (host, port, redis:// or rediss://); retrying in the background'), [],
    'a Redis reached once is not reported as a wrong URL')

  await server.restart()
  await until(() => isRedisReady(redis), 'ready again without any command')
  t.equal(messages('redis connected').length, 2, 'the recovery is said at info')
  t.equal(await redis.ping(), 'PONG')
})

test('a second loss after a recovery is warned about again', async (t) => {
  const server = await startRedis(t)
  const { log, lines } = capture()
  const redis = connect(t, server.url, log)
  await until(() => isRedisReady(redis), 'ready')
  await server.stop()
  await until(() => lines.some((l) => l.msg === 'redis not reachable'), 'a failed reconnection')
  await server.restart()
  await until(() => isRedisReady(redis), 'ready again')
  const before = lines.filter((l) => l.msg === 'redis not reachable').length
  await server.stop()
  await until(() => lines.filter((l) => l.msg === 'redis not reachable').length >= before + 2, 'two failed reconnections after the second loss')
  t.equal(lines.filter((l) => l.level === 40).length, 2, 'one warning per loss')
})

test('while disconnected, a command fails at once instead of waiting in a queue', async (t) => {
  const server = await startRedis(t)
  const { log } = capture()
  const redis = connect(t, server.url, log)
  await until(() => isRedisReady(redis), 'ready')
  await server.stop()
  await until(() => !isRedisReady(redis), 'the loss noticed')
  // With a queue, the command would be queued and refused later for another reason (no retries allowed).
  await t.rejects(redis.get('k'), /enableOfflineQueue/)
})

test('a hung server is cut off by the command timeout', async (t) => {
  const server = await startRedis(t)
  const { log } = capture()
  const redis = connect(t, server.url, log)
  // Not the app's client: its own commands are not under the 500 ms timeout.
  const admin = new Redis(server.url)
  t.teardown(() => { admin.disconnect() })
  await until(() => isRedisReady(redis) && admin.status === 'ready', 'both ready')
  t.equal(await redis.set('k', 'v'), 'OK')
  // The server holds every client's commands for 60 s (until the teardown kills it): a
  // command that waited for it would outlive the test's cap.
  await admin.call('CLIENT', 'PAUSE', String(60_000), 'ALL')
  await t.rejects(redis.get('k'), { message: 'Command timed out' })
})

test('reconnection waits 100 ms more per attempt, never more than 2 s, and never gives up', async (t) => {
  const { log } = capture()
  const redis = connect(t, `redis://127.0.0.1:${await freePort()}/0`, log)
  const strategy = redis.options.retryStrategy!
  t.same([1, 2, 5, 19, 20, 21, 1000].map((n) => strategy(n)), [100, 200, 500, 1900, 2000, 2000, 2000])
})

test('the codes of a failed TLS handshake or certificate, and only those', async (t) => {
  for (const code of ['ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'HOSTNAME_MISMATCH']) {
    t.ok(isTlsFailure(code), code)
  }
  for (const code of ['', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'X_ERR_TLS_', 'XCERT_', 'ERR_TL']) {
    t.notOk(isTlsFailure(code), code === '' ? 'no code' : code)
  }
})

test('rediss:// with the CA that signed the server\'s certificate connects', async (t) => {
  const certs = makeTestCertificates(t)
  const server = await startRedis(t, { tls: certs })
  const { log, lines } = capture()
  const redis = connect(t, server.url, log, readFileSync(certs.ca, 'utf8'))
  await until(() => isRedisReady(redis), 'ready over TLS')
  t.equal(await redis.ping(), 'PONG')
  t.same(lines.filter((l) => (l.level as number) >= 40), [])
})

test('attack: a server certificate the client cannot verify is logged once as an error, by code and reason, never the password', async (t) => {
  const certs = makeTestCertificates(t)
  const server = await startRedis(t, { tls: certs })
  const { log, lines, raw, messages } = capture()
  // The CA of another: every reconnection fails the same way.
  const redis = connect(t, server.url.replace('rediss://', `rediss://:${PASSWORD}@`), log, readFileSync(certs.otherCa, 'utf8'))
  let failures = 0
  redis.on('error', () => { failures++ })
  await until(() => failures >= 3, 'three failed handshakes')
  t.equal(messages(TLS_MESSAGE).length, 1, 'logged once, not per reconnection')
  t.match(messages(TLS_MESSAGE)[0], { level: 50, code: /CERT|UNABLE_TO/, reason: /certificate/ })
  t.same(lines.filter((l) => l.level === 40), [], 'not also reported as an unreachable Redis')
  t.notMatch(raw.join(''), PASSWORD)
  t.notOk(isRedisReady(redis))
})

test('a TLS failure after a working TLS connection is logged again', async (t) => {
  const certs = makeTestCertificates(t)
  // The server starts with a certificate for another host, is given the right one, then the wrong one again.
  const server = await startRedis(t, { tls: { ...certs, cert: certs.otherHostCert } })
  const admin = new Redis(server.url, { tls: { rejectUnauthorized: false }, lazyConnect: true })
  t.teardown(() => { admin.disconnect() })
  const { log, messages } = capture()
  const redis = connect(t, server.url, log, readFileSync(certs.ca, 'utf8'))
  await until(() => messages(TLS_MESSAGE).length === 1, 'the first failure logged')
  await admin.call('CONFIG', 'SET', 'tls-cert-file', certs.cert)
  await until(() => isRedisReady(redis), 'ready once the certificate is right')
  await admin.call('CONFIG', 'SET', 'tls-cert-file', certs.otherHostCert)
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
  await until(() => messages(TLS_MESSAGE).length === 2, 'the failure after the recovery logged')
  t.match(messages(TLS_MESSAGE)[1], { code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
})
