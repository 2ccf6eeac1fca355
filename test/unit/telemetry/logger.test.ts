// The logger alone: credential headers redacted by path, requests logged without their
// headers, every line (pino's and the hand-built ones) scrubbed by value, and the root
// bindings as pino writes them.
import pino from 'pino'
import { test } from 'tap'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import { createLogger, REDACT_PATHS, serializeReply, serializeRequest } from '../../../src/telemetry/logger.ts'

function capture (level = 'info') {
  const lines: string[] = []
  const scrubber = new SecretScrubber()
  scrubber.add('configured-secret-0123')
  const log = createLogger(level, scrubber, { write: (line: string) => { lines.push(line) } })
  return { log, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
}

test('credential headers are redacted by path, whatever their value', async (t) => {
  const { log, parsed } = capture()
  const headers = { authorization: 'Bearer xyz', cookie: 'a=b', 'proxy-authorization': 'Basic q', 'set-cookie': 'c=d', 'x-other': 'kept' }
  log.logger.info({ headers }, 'headers')
  t.same(parsed()[0]!.headers, { authorization: '[REDACTED]', cookie: '[REDACTED]', 'proxy-authorization': '[REDACTED]', 'set-cookie': '[REDACTED]', 'x-other': 'kept' })
  t.same(REDACT_PATHS.length, 4)
})

test('a request is logged as method, url, host and client address; a reply as its status', async (t) => {
  const request = { method: 'POST', url: '/sessions', host: 'proxy.example', ip: '192.0.2.1', socket: { remotePort: 4242 }, headers: { authorization: 'Bearer xyz' }, body: { serialNumber: 'abc' } }
  t.same(serializeRequest(request as never), { method: 'POST', url: '/sessions', host: 'proxy.example', remoteAddress: '192.0.2.1', remotePort: 4242 })
  t.same(serializeReply({ statusCode: 201, getHeaders: () => ({ 'set-cookie': 'x' }) } as never), { statusCode: 201 })
  const { log, parsed } = capture()
  log.logger.info({ req: request, res: { statusCode: 201 } }, 'done')
  t.same(parsed()[0]!.req, { method: 'POST', url: '/sessions', host: 'proxy.example', remoteAddress: '192.0.2.1', remotePort: 4242 })
  t.same(parsed()[0]!.res, { statusCode: 201 })
})

test('every line is scrubbed by value: pino\'s and the ones written by hand', async (t) => {
  const { log, lines } = capture()
  log.logger.info({ nested: { value: 'x configured-secret-0123 y' } }, 'msg configured-secret-0123')
  log.writeLine('{"hand":"configured-secret-0123"}\n')
  t.equal(lines.length, 2)
  for (const line of lines) {
    t.notMatch(line, 'configured-secret-0123')
    t.match(line, '[REDACTED]')
  }
})

test('the level is honoured, and the bindings are exactly what pino writes on each line', async (t) => {
  const { log, lines } = capture('warn')
  log.logger.info('hidden')
  log.logger.warn('shown')
  t.equal(lines.length, 1)
  t.match(log.bindings, /^,"pid":\d+,"hostname":"[^"]*"$/)
  t.ok(lines[0]!.includes(log.bindings), 'the line carries the bindings verbatim')
  t.equal(pino.levels.values.warn, JSON.parse(lines[0]!).level)
})

test('a mixin adds its fields to every line, child loggers\' too; without one, lines carry none', async (t) => {
  const lines: string[] = []
  const stream = { write: (line: string) => { lines.push(line) } }
  let active: Record<string, string> = {}
  const traced = createLogger('info', new SecretScrubber(), stream, () => active)
  traced.logger.info('outside a trace')
  active = { trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' }
  traced.logger.child({ requestId: 'r1' }).info('inside a trace')
  const plain = createLogger('info', new SecretScrubber(), stream)
  plain.logger.info('no mixin')
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  t.equal(parsed[0]!.trace_id, undefined)
  t.match(parsed[1], { requestId: 'r1', trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331' })
  t.notOk('trace_id' in parsed[2]! || 'span_id' in parsed[2]!)
})
