// The real-Redis harness itself: start, data, stop, restart on the same port, cleanup.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { test } from 'tap'
import type { Test } from 'tap'
import { startRedis } from '../helpers/redis-server.ts'
import { makeTestCertificates } from '../helpers/test-certificates.ts'

const HELPER = fileURLToPath(new URL('../helpers/redis-server.ts', import.meta.url))

/** An ioredis client that is disconnected on teardown and records its connection errors. */
function client (t: Test, url: string, options: RedisOptions = {}): { redis: Redis, errors: Array<Error & { code?: string }> } {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, ...options })
  const errors: Array<Error & { code?: string }> = []
  redis.on('error', (error: Error) => { errors.push(error) })
  t.teardown(() => redis.disconnect())
  return { redis, errors }
}

/** Resolves the error code of a one-shot connection attempt, or 'connected'. */
async function connectOnce (t: Test, url: string): Promise<string | undefined> {
  const { redis, errors } = client(t, url, { lazyConnect: true, retryStrategy: () => null })
  try {
    await redis.connect()
    return 'connected'
  } catch {
    return errors[0]?.code
  } finally {
    redis.disconnect()
  }
}

test('start, SET/GET, stop refuses connections, restart serves again on the same port', async (t) => {
  const server = await startRedis(t)
  t.match(server.url, /^redis:\/\/127\.0\.0\.1:\d+\/0$/)
  t.equal(server.url, `redis://127.0.0.1:${server.port}/0`)

  const { redis } = client(t, server.url)
  t.equal(await redis.set('greeting', 'hello'), 'OK')
  t.equal(await redis.get('greeting'), 'hello')
  t.same(await redis.config('GET', 'save'), ['save', ''], 'no RDB snapshots')
  t.same(await redis.config('GET', 'appendonly'), ['appendonly', 'no'], 'no AOF')
  redis.disconnect()

  await server.stop()
  t.equal(await connectOnce(t, server.url), 'ECONNREFUSED')
  await server.stop() // idempotent

  await server.restart()
  t.equal(server.url, `redis://127.0.0.1:${server.port}/0`, 'same URL after restart')
  const again = client(t, server.url).redis
  t.equal(await again.get('greeting'), null, 'a restarted server starts empty')
  t.equal(await again.set('greeting', 'back'), 'OK')
  t.equal(await again.get('greeting'), 'back')
})

test('a connected client sees the outage and reconnects by itself after restart', async (t) => {
  const server = await startRedis(t)
  const { redis, errors } = client(t, server.url, { enableOfflineQueue: false, retryStrategy: () => 50 })
  await once(redis, 'ready')
  t.equal(await redis.incr('hits'), 1)

  await server.stop()
  await t.rejects(redis.incr('hits'), 'commands fail at once while Redis is down')
  while (!errors.some((error) => error.code === 'ECONNREFUSED')) await once(redis, 'error')
  t.pass('reconnection attempts are refused')

  await server.restart()
  if (redis.status !== 'ready') await once(redis, 'ready')
  t.equal(await redis.incr('hits'), 1, 'the same client works again, on an empty server')
})

test('with tls, the server speaks only TLS with the given certificate, and its URL says rediss://', async (t) => {
  const certs = makeTestCertificates(t)
  const server = await startRedis(t, { tls: certs })
  t.equal(server.url, `rediss://127.0.0.1:${server.port}/0`)
  const { redis } = client(t, server.url, { tls: { ca: readFileSync(certs.ca) } })
  t.equal(await redis.set('greeting', 'over tls'), 'OK')
  t.equal(await redis.get('greeting'), 'over tls')
  const plain = client(t, server.url.replace('rediss://', 'redis://'), { lazyConnect: true, retryStrategy: () => null, commandTimeout: 2000 })
  await t.rejects(plain.redis.ping(), { message: 'Connection is closed.' }, 'a plain-text client is cut off')
  t.equal(plain.errors[0]?.code, 'ECONNRESET')
  await server.restart()
  const again = client(t, server.url, { tls: { ca: readFileSync(certs.ca) } })
  t.equal(await again.redis.get('greeting'), null, 'restarted with TLS, empty')
})

test('concurrent servers get their own ports and data', async (t) => {
  const [a, b] = await Promise.all([startRedis(t), startRedis(t)])
  t.not(a.port, b.port)
  const ca = client(t, a.url).redis
  const cb = client(t, b.url).redis
  await ca.set('k', 'a')
  await cb.set('k', 'b')
  t.equal(await ca.get('k'), 'a')
  t.equal(await cb.get('k'), 'b')
})

test('the server is stopped when the test that started it ends', async (t) => {
  let url = ''
  await t.test('inner', async (t) => {
    url = (await startRedis(t)).url
    t.equal(await connectOnce(t, url), 'connected')
  })
  t.equal(await connectOnce(t, url), 'ECONNREFUSED')
})

test('the server dies with the test process, even on SIGKILL', async (t) => {
  const code = `import { startRedis } from ${JSON.stringify(HELPER)}
const server = await startRedis()
console.log(server.url)
setInterval(() => {}, 1000)`
  const child = spawn(process.execPath, ['--input-type=module', '--eval', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const [chunk] = await once(child.stdout, 'data') as [Buffer]
  const url = chunk.toString().trim()
  t.equal(await connectOnce(t, url), 'connected')
  child.kill('SIGKILL')
  await once(child, 'exit')
  const deadline = Date.now() + 2000
  let result = await connectOnce(t, url)
  while (result !== 'ECONNREFUSED' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    result = await connectOnce(t, url)
  }
  t.equal(result, 'ECONNREFUSED')
  // The killed process could not remove its server's working directory (a later
  // startRedis would sweep it); remove it now.
  for (const name of readdirSync(tmpdir()).filter((name) => name.startsWith(`test-redis-${child.pid}-`))) {
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
})

test('a missing redis-server fails with how to install it', async (t) => {
  const saved = process.env.REDIS_SERVER_PATH
  t.teardown(() => {
    if (saved === undefined) delete process.env.REDIS_SERVER_PATH
    else process.env.REDIS_SERVER_PATH = saved
  })
  process.env.REDIS_SERVER_PATH = '/nonexistent/redis-server'
  await t.rejects(startRedis(t), /redis-server is not installed.*scripts\/ci\/install-system-packages\.sh/s)
})
