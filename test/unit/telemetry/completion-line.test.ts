// The hand-built completion line must be exactly what pino writes for the same fields,
// so log consumers cannot tell them apart.
import { test } from 'tap'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { completionLine } from '../../../src/telemetry/completion-line.ts'
import type { CompletionFields } from '../../../src/telemetry/completion-line.ts'
import { createLogger } from '../../../src/telemetry/logger.ts'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import { LogCapture } from '../../helpers/setup.ts'

type Case = Omit<CompletionFields, 'bindings' | 'time'>

const BASE: Case = {
  requestId: 'b3f0c2d4-1234-4abc-9def-0123456789ab',
  client: null,
  method: 'POST',
  url: '/sessions',
  host: '127.0.0.1:3000',
  remoteAddress: '127.0.0.1',
  remotePort: 45678,
  statusCode: 201,
  responseTime: 1.2345678
}

const CASES: Array<[string, Case]> = [
  ['a created session', { ...BASE, sessionId: '9007199254740993', attempts: 2 }],
  ['a named client', { ...BASE, client: 'billing', sessionId: '1', attempts: 1 }],
  ['a visitor', { ...BASE, visitor: 'q1w2e3r4t5y6u7i8o9p0aa', sessionId: '2', attempts: 1 }],
  ['a refusal with its detail', { ...BASE, statusCode: 403, code: 'ORIGIN_NOT_ALLOWED', detail: 'Origin "x" is not \\ allowed\n' }],
  ['a url and host that need escaping', { ...BASE, statusCode: 404, url: '/a"b\\c\u0001\u2028é?x=<y>', host: 'h"ost' }],
  ['a traced request (tracing\'s mixin on pino\'s side)', { ...BASE, client: 'billing', traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', sessionId: '3', attempts: 1 }],
  ['a socket already gone', { ...BASE, statusCode: 499, host: undefined, remoteAddress: undefined, remotePort: undefined }]
]

/** What pino writes for the same fields through the app's logger. */
function pinoLine (fields: Case): string {
  const capture = new LogCapture()
  const trace = fields.traceId === undefined ? undefined : () => ({ trace_id: fields.traceId!, span_id: fields.spanId! })
  const { logger } = createLogger('info', new SecretScrubber(), capture, trace)
  let log = logger.child({ requestId: fields.requestId })
  if (fields.client !== null) log = log.child({ client: fields.client })
  if (fields.visitor !== undefined && fields.visitor !== null) log = log.child({ visitor: fields.visitor })
  const req = { method: fields.method, url: fields.url, host: fields.host, ip: fields.remoteAddress, socket: { remotePort: fields.remotePort } }
  log.info({
    req: req as unknown as FastifyRequest,
    res: { statusCode: fields.statusCode } as FastifyReply,
    responseTime: fields.responseTime,
    sessionId: fields.sessionId,
    attempts: fields.attempts,
    code: fields.code,
    detail: fields.detail
  }, 'request completed')
  return capture.lines[0]!
}

for (const [name, fields] of CASES) {
  test(`the completion line is pino's own: ${name}`, async (t) => {
    const expected = pinoLine(fields)
    const time = Number(/"time":(\d+)/.exec(expected)![1])
    const { bindings } = createLogger('info', new SecretScrubber(), new LogCapture())
    t.equal(completionLine({ ...fields, bindings, time }), expected)
  })
}

test('a logger without bindings gets no stray comma', async (t) => {
  const line = completionLine({ ...BASE, bindings: '', time: 1 })
  t.match(line, /^\{"level":30,"time":1,"requestId":/)
  t.same(Object.keys(JSON.parse(line) as object).slice(0, 3), ['level', 'time', 'requestId'])
})

test('a value that is not a finite number is written as null, as JSON.stringify would', async (t) => {
  t.equal((JSON.parse(completionLine({ ...BASE, bindings: '', time: 1, responseTime: NaN })) as { responseTime: unknown }).responseTime, null)
})

test('strings are escaped exactly as JSON.stringify escapes them', async (t) => {
  // Named, because a raw U+2028 in an assertion message would break the TAP stream itself.
  const samples: Record<string, string> = {
    plain: 'plain',
    quote: 'quote"',
    backslash: 'back\\slash',
    tab: 'tab\t',
    nul: 'nul\u0000',
    delete: 'del\u007f',
    'line separator': 'line\u2028sep',
    'surrogate pair': 'pair\ud83d\ude00',
    'lone high surrogate': 'lone\ud83d',
    'lone low surrogate': 'lone\ude00',
    'non-ASCII letters': 'é ü 中'
  }
  for (const [name, url] of Object.entries(samples)) {
    const line = completionLine({ ...BASE, bindings: '', time: 1, url })
    t.equal((JSON.parse(line) as { req: { url: string } }).req.url, url, `${name} survives the round trip`)
    t.ok(line.includes(`"url":${JSON.stringify(url)}`), `${name} written as JSON.stringify writes it`)
  }
})
