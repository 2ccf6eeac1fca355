import { test } from 'tap'
import pino from 'pino'
import { Writable } from 'node:stream'
import { LazyChildLogger, requestLogger } from '../../../src/telemetry/request-logger.ts'

function capture (level = 'info') {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(JSON.parse(chunk.toString())); done() } })
  const logger = pino({ level }, stream)
  return { logger, lines, flush: () => new Promise<void>((resolve) => setImmediate(resolve)) }
}

test('a line carries the request\'s bindings, as pino\'s own child would', async (t) => {
  const { logger, lines, flush } = capture()
  const log = requestLogger(logger, { requestId: 'r-1' }, {})
  t.type(log, LazyChildLogger)
  log.info({ outcome: 'x' }, 'hello %s', 'there')
  log.warn('careful')
  await flush()
  t.match(lines, [{ level: 30, requestId: 'r-1', outcome: 'x', msg: 'hello there' }, { level: 40, requestId: 'r-1', msg: 'careful' }])
})

test('no child is made until a line is written, and none for a disabled level', async (t) => {
  const { logger, lines, flush } = capture('info')
  let children = 0
  const child = logger.child.bind(logger)
  logger.child = ((...args: Parameters<typeof child>) => { children++; return child(...args) }) as typeof logger.child
  const log = requestLogger(logger, { requestId: 'r-2' }, {})
  log.debug({ attempt: 1 }, 'upstream attempt')
  log.trace('nothing')
  t.equal(children, 0, 'debug and trace are off: no child')
  t.equal(log.level, 'info')
  t.equal((log as unknown as LazyChildLogger).isLevelEnabled('debug'), false)
  log.error('one')
  log.error('two')
  log.fatal('three')
  t.equal(children, 1, 'one child, made by the first line and kept')
  await flush()
  t.same(lines.map((line) => [line.level, line.msg, line.requestId]), [[50, 'one', 'r-2'], [50, 'two', 'r-2'], [60, 'three', 'r-2']])
})

test('a level set on it applies to it only, and its own children keep its bindings', async (t) => {
  const { logger, lines, flush } = capture('info')
  const log = requestLogger(logger, { requestId: 'r-3' }, {})
  log.level = 'debug'
  log.debug('now on')
  logger.debug('still off for the app')
  log.child({ client: 'shop' }).info('named')
  ;(log as unknown as LazyChildLogger).silent()
  await flush()
  t.same(lines.map((line) => [line.msg, line.requestId, line.client]), [['now on', 'r-3', undefined], ['named', 'r-3', 'shop']])
})

test('a route with a level or serializers of its own gets pino\'s child at once', async (t) => {
  const { logger } = capture('info')
  t.notOk(requestLogger(logger, { requestId: 'r-4' }, { level: 'debug' }) instanceof LazyChildLogger)
  t.notOk(requestLogger(logger, { requestId: 'r-5' }, { serializers: {} }) instanceof LazyChildLogger)
  t.equal(requestLogger(logger, { requestId: 'r-4' }, { level: 'debug' }).level, 'debug')
})
