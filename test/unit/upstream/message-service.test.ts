// The message service with a scripted ask client: what is retried (only a message that
// never left), what the circuit hears, what a streamed result holds, and the secrets it
// hands to the relay.
import pino from 'pino'
import { test } from 'tap'
import { KeyRing } from '../../../src/keys/key-ring.ts'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import type { AskClient, AskRequest } from '../../../src/upstream/ask-client.ts'
import { CircuitBreaker } from '../../../src/upstream/circuit-breaker.ts'
import { ConcurrencyLimiter } from '../../../src/upstream/concurrency.ts'
import { KeyEvidence } from '../../../src/upstream/key-evidence.ts'
import { createMessageService, messageBlame } from '../../../src/upstream/message-service.ts'
import type { MessageServiceOptions } from '../../../src/upstream/message-service.ts'
import type { RelayResult } from '../../../src/upstream/relay.ts'
import { RetryBudget } from '../../../src/upstream/retry-budget.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'
import { capturedLog, recordedSleeps } from '../../helpers/recorders.ts'
import { manualClock, until } from '../../helpers/waiting.ts'

const log = pino({ level: 'silent' })
const KEY = 'key-a-000000000000'
const NEXT = 'key-b-000000000000'

const whole = (content: string): RelayResult => ({
  kind: 'answer',
  answer: { status: 200, headers: {}, body: `{"Data":{"messageid":7,"content":${JSON.stringify(content)},"totalToken":3},"Success":true,"Code":200}` }
})

function service (ask: (request: AskRequest) => Promise<RelayResult>, overrides: Partial<MessageServiceOptions> = {}) {
  const seen = { attempts: [] as string[], retries: [] as string[], firstBytes: 0, asked: [] as AskRequest[] }
  const scrubber = new SecretScrubber()
  const client: AskClient = { ask: async (request) => { seen.asked.push(request); return await ask(request) }, close: async () => {} }
  const options: MessageServiceOptions = {
    client,
    keys: new KeyRing(KEY, NEXT, scrubber),
    circuit: new CircuitBreaker({ threshold: 2, cooldownMs: 60_000 }),
    evidence: new KeyEvidence({ allowedSerialNumbers: undefined, maxChatbots: 100 }),
    limiter: new ConcurrencyLimiter(2, 2),
    budget: new RetryBudget({ percent: 100, minPerWindow: 10 }),
    scrubber,
    timeoutMs: 1000,
    retries: 2,
    retryBaseMs: 1,
    random: () => 1,
    sleep: async () => {},
    observer: {
      attempt: (outcome) => { seen.attempts.push(outcome) },
      retry: (reason) => { seen.retries.push(reason) },
      overloaded () {},
      firstByte: () => { seen.firstBytes++ },
      streamEnded () {}
    },
    ...overrides
  }
  return { messages: createMessageService(options), options, seen }
}

const request = (stream = false, signal = new AbortController().signal, logger: pino.Logger = log) =>
  ({ sessionId: '9007199254740993123', serialNumber: 'bot', content: 'hi', stream, requestId: 'r', clientSignal: signal, log: logger })

const streamed = (): RelayResult => ({ kind: 'stream', contentType: 'text/event-stream', body: { onEnd () {} } } as unknown as RelayResult)

const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })

test('a whole reply: classified, its secrets replaced, the request as asked', async (t) => {
  const { messages, seen } = service(async () => whole(`leak ${KEY}`))
  const result = await messages.send(request())
  t.same(result, { kind: 'answer', answer: { messageId: '7', content: 'leak [REDACTED]', totalTokens: 3 }, attempts: 1 })
  t.same(seen.asked.map(({ sessionId, content, stream, key, secrets }) => ({ sessionId, content, stream, key, secrets })),
    [{ sessionId: '9007199254740993123', content: 'hi', stream: false, key: KEY, secrets: [KEY, NEXT] }])
  t.same(seen.attempts, ['success'])
  t.equal(seen.firstBytes, 1)
})

test('a message whose connection never opened is retried, up to UPSTREAM_RETRIES', async (t) => {
  let calls = 0
  const circuit = new CircuitBreaker({ threshold: 100, cooldownMs: 60_000 })
  const { messages, seen } = service(async () => { if (++calls < 3) throw refused; return whole('ok') }, { circuit })
  t.equal((await messages.send(request())).attempts, 3)
  t.same(seen.retries, ['not_sent', 'not_sent'])
  let always = 0
  const failing = service(async () => { always++; throw refused }, { circuit })
  await t.rejects(failing.messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(always, 3, 'the first try and two retries')
})

test('a message that may have left is never sent again: a reset, a 503 with Retry-After, a 429', async (t) => {
  for (const failure of [reset, new UpstreamError('UPSTREAM_ERROR', { httpStatus: 503, retryAfter: 1 }), new UpstreamError('UPSTREAM_RATE_LIMITED', { httpStatus: 429, retryAfter: 1 })]) {
    let calls = 0
    const { messages, seen } = service(async () => { calls++; throw failure })
    await t.rejects(messages.send(request()))
    t.equal(calls, 1, String(failure))
    t.same(seen.retries, [])
  }
})

test('no retry past the deadline, or beyond the budget', async (t) => {
  let calls = 0
  const late = service(async () => { calls++; throw refused }, { timeoutMs: 40, retryBaseMs: 1000 })
  await t.rejects(late.messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(calls, 1, 'the wait would pass the deadline')
  calls = 0
  const broke = service(async () => { calls++; throw refused }, { budget: new RetryBudget({ percent: 0, minPerWindow: 0 }) })
  await t.rejects(broke.messages.send(request()))
  t.equal(calls, 1)
})

test('transport failures feed the upstream\'s circuit; a session the upstream does not know does not', async (t) => {
  const circuit = new CircuitBreaker({ threshold: 2, cooldownMs: 60_000 })
  const missing = service(async () => { throw new UpstreamError('SESSION_NOT_FOUND', { httpStatus: 200 }) }, { circuit })
  for (let i = 0; i < 3; i++) await t.rejects(missing.messages.send(request()), { code: 'SESSION_NOT_FOUND' })
  t.equal(circuit.state, 'closed')
  const down = service(async () => { throw reset }, { circuit })
  for (let i = 0; i < 2; i++) await t.rejects(down.messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(circuit.state, 'open')
  await t.rejects(down.messages.send(request()), { code: 'UPSTREAM_CIRCUIT_OPEN' })
})

test('a deadline before the answer is UPSTREAM_TIMEOUT; a client that left is CLIENT_GONE', async (t) => {
  const never = (_request: AskRequest, signal?: unknown): Promise<RelayResult> => new Promise((_resolve, reject) => {
    (signal as AbortSignal | undefined)?.addEventListener('abort', () => reject((signal as AbortSignal).reason))
  })
  const hanging: AskClient = { ask: (request, signal) => never(request, signal), close: async () => {} }
  const timed = service(async () => whole('x'), { client: hanging, timeoutMs: 30 })
  await t.rejects(timed.messages.send(request()), { code: 'UPSTREAM_TIMEOUT' })
  const client = new AbortController()
  const gone = service(async () => whole('x'), { client: hanging })
  const pending = gone.messages.send(request(false, client.signal))
  client.abort()
  await t.rejects(pending, { code: 'CLIENT_GONE' })
  t.same(gone.seen.attempts, ['client_gone'])
})

test('a bug in the client is no upstream failure: rethrown, the circuit untouched', async (t) => {
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 60_000 })
  const { messages } = service(async () => { throw new TypeError('bug') }, { circuit })
  await t.rejects(messages.send(request()), TypeError)
  t.equal(circuit.state, 'closed')
})

test('a streamed result keeps its concurrency slot until the stream ends', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 0)
  let end: ((value: 'completed') => void) | undefined
  const body = { onEnd: (listener: (value: 'completed') => void) => { end = listener } }
  const ended: string[] = []
  const { messages } = service(async () => ({ kind: 'stream', contentType: 'text/event-stream', body } as unknown as RelayResult), {
    limiter,
    observer: { attempt () {}, retry () {}, overloaded () {}, firstByte () {}, streamEnded: (value) => { ended.push(value) } }
  })
  const result = await messages.send(request(true))
  t.equal(result.kind, 'stream')
  t.equal(limiter.active, 1, 'held while streaming')
  await t.rejects(messages.send(request(true)), { code: 'OVERLOADED' })
  end!('completed')
  t.equal(limiter.active, 0)
  t.same(ended, ['completed'])
})

test('a circuit that opens between attempts ends the retries with the last answer', async (t) => {
  let calls = 0
  const { messages } = service(async () => { calls++; throw refused }, { circuit: new CircuitBreaker({ threshold: 2, cooldownMs: 60_000 }) })
  await t.rejects(messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(calls, 2, 'the second failure opened it')
})

test('attack: a refused message counts against the key only when the key was seen to work for its chatbot', async (t) => {
  let refusals = 0
  const authFailed = async (): Promise<RelayResult> => { throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 403 }) }
  const observer = { attempt () {}, retry () {}, overloaded () {}, firstByte () {}, streamEnded () {}, keyRefused: () => { refusals++ } }
  const evidence = new KeyEvidence({ allowedSerialNumbers: undefined, maxChatbots: 100 })
  const { messages } = service(authFailed, { observer, evidence })
  await t.rejects(messages.send(request()), { code: 'UPSTREAM_AUTH_FAILED' })
  t.equal(refusals, 0, 'a chatbot the key never served: evidence about the chatbot')
  evidence.recordSuccess(KEY, 'bot')
  await t.rejects(messages.send(request()), { code: 'UPSTREAM_AUTH_FAILED' })
  t.equal(refusals, 1, 'the same key worked for this chatbot: evidence against the key')
})

test('attack: replies that outlast the deadline, or that cannot be used, never open the shared circuit', async (t) => {
  t.equal(messageBlame(new UpstreamError('UPSTREAM_TIMEOUT', { cause: 'DEADLINE' }), true), 'chatbot')
  t.equal(messageBlame(new UpstreamError('UPSTREAM_BAD_RESPONSE', { httpStatus: 200 }), true), 'chatbot')
  t.equal(messageBlame(new UpstreamError('UPSTREAM_TIMEOUT', { httpStatus: 504 }), true), 'upstream', 'the upstream saying it timed out still counts')
  t.equal(messageBlame(new UpstreamError('UPSTREAM_UNAVAILABLE', { cause: 'ECONNRESET' }), true), 'upstream')
  const circuit = new CircuitBreaker({ threshold: 2, cooldownMs: 60_000 })
  const slow = service(async () => { throw new UpstreamError('UPSTREAM_BAD_RESPONSE', { httpStatus: 200 }) }, { circuit })
  for (let i = 0; i < 5; i++) await t.rejects(slow.messages.send(request()), { code: 'UPSTREAM_BAD_RESPONSE' })
  t.equal(circuit.state, 'closed')
})

test('with tracing, each attempt runs inside its trace: its number, and not_sent for a retry', async (t) => {
  const traces: Array<[number, string | undefined]> = []
  let inside: number | undefined
  let calls = 0
  const circuit = new CircuitBreaker({ threshold: 100, cooldownMs: 60_000 })
  const traceAttempt: MessageServiceOptions['traceAttempt'] = async (trace, attempt) => {
    traces.push([trace.attempt, trace.retryReason])
    inside = trace.attempt
    try { return await attempt() } finally { inside = undefined }
  }
  const { messages } = service(async () => {
    calls++
    if (inside !== calls) throw new Error(`attempt ${calls} ran outside its trace`)
    if (calls < 3) throw refused
    return whole('ok')
  }, { circuit, traceAttempt })
  t.equal((await messages.send(request())).attempts, 3)
  t.same(traces, [[1, undefined], [2, 'not_sent'], [3, 'not_sent']])
})

test('during the wait before a retry: a client that leaves is CLIENT_GONE; the deadline ends it with the failure that caused the wait', async (t) => {
  // A wait that lasts until its signal aborts.
  const waiting: string[] = []
  const untilAborted = async (_ms: number, signal: { addEventListener: (type: 'abort', listener: () => void) => void, reason: unknown }): Promise<void> =>
    await new Promise((_resolve, reject) => { waiting.push('waiting'); signal.addEventListener('abort', () => reject(signal.reason)) })
  let calls = 0
  const client = new AbortController()
  const gone = service(async () => { calls++; throw refused }, { sleep: untilAborted })
  const pending = gone.messages.send(request(false, client.signal))
  await until(() => waiting.length === 1, 'the first attempt failed unsent: waiting to retry')
  client.abort()
  await t.rejects(pending, { code: 'CLIENT_GONE' })
  t.equal(calls, 1, 'no retry after the client left')

  const late = service(async () => { throw refused }, { sleep: untilAborted, timeoutMs: 200 })
  await t.rejects(late.messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE', facts: { cause: 'ECONNREFUSED', attempts: 1 } })
  t.equal(waiting.length, 2, 'it did wait to retry, and the deadline ended the wait')
})

test('each attempt is logged at debug with its number and outcome: the cause and status of a failure, whether a success streamed', async (t) => {
  const { lines, logger } = capturedLog()
  const circuit = new CircuitBreaker({ threshold: 100, cooldownMs: 60_000 })
  let calls = 0
  const { messages } = service(async () => { if (++calls === 1) throw refused; return whole('ok') }, { circuit })
  await messages.send(request(false, undefined, logger))
  await service(async () => streamed(), { circuit }).messages.send(request(true, undefined, logger))
  await t.rejects(service(async () => { throw new UpstreamError('UPSTREAM_ERROR', { httpStatus: 503 }) }, { circuit }).messages.send(request(false, undefined, logger)))
  t.same(lines.map(({ msg, level, attempt, outcome, cause, httpStatus, streamed }) => ({ msg, level, attempt, outcome, cause, httpStatus, streamed })), [
    { msg: 'upstream attempt', level: 20, attempt: 1, outcome: 'UPSTREAM_UNAVAILABLE', cause: 'ECONNREFUSED', httpStatus: undefined, streamed: undefined },
    { msg: 'upstream attempt', level: 20, attempt: 2, outcome: 'success', cause: undefined, httpStatus: undefined, streamed: false },
    { msg: 'upstream attempt', level: 20, attempt: 1, outcome: 'success', cause: undefined, httpStatus: undefined, streamed: true },
    { msg: 'upstream attempt', level: 20, attempt: 1, outcome: 'UPSTREAM_ERROR', cause: undefined, httpStatus: 503, streamed: undefined }
  ])
})

test('the observer hears each attempt\'s outcome and milliseconds, and the seconds from admission to the answer', async (t) => {
  const attempts: Array<[string, number]> = []
  const firstBytes: number[] = []
  const observer = { attempt: (outcome: string, ms: number) => { attempts.push([outcome, ms]) }, retry () {}, overloaded () {}, firstByte: (seconds: number) => { firstBytes.push(seconds) }, streamEnded () {} }
  let calls = 0
  // Each attempt takes at least 20 ms; the first never reached the upstream.
  const { messages } = service(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20))
    if (++calls === 1) throw refused
    return whole('ok')
  }, { observer, circuit: new CircuitBreaker({ threshold: 100, cooldownMs: 60_000 }) })
  const before = performance.now()
  await messages.send(request())
  const took = performance.now() - before
  t.same(attempts.map(([outcome]) => outcome), ['UPSTREAM_UNAVAILABLE', 'success'])
  for (const [outcome, ms] of attempts) t.ok(ms >= 15 && ms <= took, `${outcome}: ${ms} ms, at least the attempt's 20 ms and at most the whole send's ${took} ms`)
  t.equal(firstBytes.length, 1)
  t.ok(firstBytes[0]! >= 0.035 && firstBytes[0]! <= took / 1000, `${firstBytes[0]} s: both attempts, counted in seconds`)
})

test('a success is evidence that the key works for the session\'s chatbot', async (t) => {
  const { messages, options } = service(async () => whole('ok'))
  t.notOk(options.evidence.worksFor(KEY, 'bot'))
  await messages.send(request())
  t.ok(options.evidence.worksFor(KEY, 'bot'))
  t.notOk(options.evidence.worksFor(KEY, 'another-bot'))
})

test('a bug in the client is rethrown as itself, not as a failure made from it', async (t) => {
  const bug = new TypeError('bug')
  const { messages } = service(async () => { throw bug })
  const thrown = await messages.send(request()).catch((error: unknown) => error)
  t.equal(thrown, bug)
})

test('a bug during the half-open probe gives the probe back: the next message probes', async (t) => {
  const clock = manualClock()
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 1000, now: clock.now })
  await t.rejects(service(async () => { throw reset }, { circuit }).messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  clock.advance(1000)
  await t.rejects(service(async () => { throw new TypeError('bug') }, { circuit }).messages.send(request()), TypeError)
  t.equal(circuit.state, 'half_open')
  t.match(await service(async () => whole('ok'), { circuit }).messages.send(request()), { kind: 'answer' }, 'admitted as the probe')
  t.equal(circuit.state, 'closed')
})

test('retries wait random() × UPSTREAM_RETRY_BASE_MS × 2ⁿ', async (t) => {
  const { waits, sleep } = recordedSleeps()
  const { messages } = service(async () => { throw refused }, { random: () => 0.5, retryBaseMs: 100, timeoutMs: 10_000, sleep, circuit: new CircuitBreaker({ threshold: 100, cooldownMs: 60_000 }) })
  await t.rejects(messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.same(waits, [50, 100])
})

test('a retry starts only if its wait plus max(50 ms, the last attempt) still fits in the deadline, to the millisecond', async (t) => {
  // Time stands still, so each attempt takes 0 ms and the 50 ms floor is what counts.
  t.intercept(Date, 'now', { value: () => 1_800_000_000_000 })
  t.intercept(performance, 'now', { value: () => 1000 })
  for (const [retryBaseMs, retried] of [[950, true], [951, false]] as const) {
    const { waits, sleep } = recordedSleeps()
    let calls = 0
    const { messages } = service(async () => { if (++calls === 1) throw refused; return whole('ok') }, { timeoutMs: 1000, retryBaseMs, random: () => 1, retries: 1, sleep })
    const result = await messages.send(request()).catch((error: unknown) => error)
    t.equal(calls, retried ? 2 : 1, `a ${retryBaseMs} ms wait + 50 ms ${retried ? 'fits exactly in' : 'overruns'} 1000 ms`)
    t.same(waits, retried ? [retryBaseMs] : [])
    t.match(result, retried ? { kind: 'answer' } : { code: 'UPSTREAM_UNAVAILABLE' })
  }
})

test('each message counts toward the retry budget, which lets retries add their percent of it', async (t) => {
  let calls = 0
  // 100 % of one message: one retry, no floor.
  const { messages } = service(async () => { calls++; throw refused }, { budget: new RetryBudget({ percent: 100, minPerWindow: 0 }), circuit: new CircuitBreaker({ threshold: 100, cooldownMs: 60_000 }) })
  await t.rejects(messages.send(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(calls, 2, 'the first try and the one retry the message itself earned')
})

test('once a whole answer is back, the deadline and the client no longer reach the attempt\'s signal', async (t) => {
  let signal: AbortSignal | undefined
  const client: AskClient = { ask: async (_request, given) => { signal = given as AbortSignal; return whole('ok') }, close: async () => {} }
  const { messages } = service(async () => whole('unused'), { client })
  const leaving = new AbortController()
  await messages.send(request(false, leaving.signal))
  leaving.abort()
  t.equal(signal?.aborted, false)
})
