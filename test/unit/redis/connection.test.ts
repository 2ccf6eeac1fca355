// The shared Redis connection's logging: a Redis never reached since start (a wrong host,
// DNS name or port) is said once at warn, with its code and never the URL.
import pino from 'pino'
import { test } from 'tap'
import { createRedis } from '../../../src/redis/connection.ts'
import { freePort } from '../../helpers/ports.ts'
import { until } from '../../helpers/waiting.ts'

const PASSWORD = 'redis-password-0123456789'

test('regression: a Redis unreachable from the start is warned about once, by code, never the URL', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const raw: string[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { raw.push(line); lines.push(JSON.parse(line) as Record<string, unknown>) } })
  const port = await freePort()
  const redis = createRedis(`redis://:${PASSWORD}@127.0.0.1:${port}/0`, log)
  t.teardown(() => { redis.disconnect() })
  // Several failed attempts: the first warns, the later ones stay at debug.
  await until(() => lines.filter((l) => l.msg === 'redis not reachable').length >= 2, 'two more failed attempts')
  const warnings = lines.filter((l) => l.level === 40)
  t.equal(warnings.length, 1, 'one warning')
  t.match(warnings[0], { code: 'ECONNREFUSED', msg: /^redis not reachable since start: check REDIS_URL/ })
  t.notMatch(raw.join(''), PASSWORD, 'no password')
  t.notMatch(JSON.stringify(warnings), new RegExp(`127\\.0\\.0\\.1|${port}`), 'no host or port in the warning')
})
