// The session service with a scripted client: admission, deadlines and key failover,
// where timing must be exact rather than produced by a real upstream.
import pino from 'pino'
import { test } from 'tap'
import { KeyRing } from '../../../src/keys/key-ring.ts'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import { ChatbotBreakers } from '../../../src/upstream/chatbot-breakers.ts'
import { CircuitBreaker } from '../../../src/upstream/circuit-breaker.ts'
import type { UpstreamClient } from '../../../src/upstream/client.ts'
import { ConcurrencyLimiter } from '../../../src/upstream/concurrency.ts'
import { KeyEvidence } from '../../../src/upstream/key-evidence.ts'
import { RetryBudget } from '../../../src/upstream/retry-budget.ts'
import { createSessionService } from '../../../src/upstream/session-service.ts'
import type { SessionServiceOptions } from '../../../src/upstream/session-service.ts'
import { UpstreamError } from '../../../src/upstream/upstream-error.ts'
import { capturedLog, recordedSleeps } from '../../helpers/recorders.ts'

const log = pino({ level: 'silent' })

function service (client: UpstreamClient, overrides: Partial<SessionServiceOptions> = {}) {
  const overloads: string[] = []
  const options: SessionServiceOptions = {
    client,
    keys: new KeyRing('key-a-000000000000', 'key-b-000000000000', new SecretScrubber()),
    circuit: new CircuitBreaker({ threshold: 100, cooldownMs: 1000 }),
    evidence: new KeyEvidence({ allowedSerialNumbers: undefined, maxChatbots: 100 }),
    chatbots: new ChatbotBreakers({ failureThreshold: 3, cooldownMs: 60000, maxChatbots: 100 }),
    limiter: new ConcurrencyLimiter(10, 10),
    budget: new RetryBudget({ percent: 20, minPerWindow: 3 }),
    timeoutMs: 200,
    retries: 2,
    retryBaseMs: 10,
    observer: { attempt () {}, retry () {}, overloaded: (reason) => { overloads.push(reason) } },
    ...overrides
  }
  return { sessions: createSessionService(options), options, overloads }
}

const request = (signal = new AbortController().signal) => ({ serialNumber: 'abc', requestId: 'r', clientSignal: signal, log })

test('a request still queued at its deadline gets OVERLOADED', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5)
  const hold = await limiter.acquire(new AbortController().signal)
  const { sessions, overloads } = service({ attempt: async () => '1', close: async () => {} }, { limiter })
  const started = Date.now()
  await t.rejects(sessions.createSession(request()), { code: 'OVERLOADED' })
  t.ok(Date.now() - started >= 190, 'waited until the deadline')
  t.same(overloads, ['queue_timeout'])
  t.equal(limiter.queued, 0)
  hold()
})

test('a client leaving while queued leaves the queue', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5)
  const hold = await limiter.acquire(new AbortController().signal)
  const { sessions } = service({ attempt: async () => '1', close: async () => {} }, { limiter })
  const client = new AbortController()
  const pending = sessions.createSession(request(client.signal))
  client.abort()
  await t.rejects(pending, { code: 'CLIENT_GONE' })
  t.equal(limiter.queued, 0)
  hold()
})

test('an auth failure is retried once with the next key, which then becomes current', async (t) => {
  const used: string[] = []
  const client: UpstreamClient = {
    attempt: async ({ key }) => {
      used.push(key)
      if (key === 'key-a-000000000000') throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401 })
      return '42'
    },
    close: async () => {}
  }
  const { sessions, options } = service(client, { budget: new RetryBudget({ percent: 0, minPerWindow: 0 }) })
  t.same(await sessions.createSession(request()), { sessionId: '42', attempts: 2 }, 'failover needs no retry budget')
  t.equal(options.keys.current, 'key-b-000000000000')
  t.equal(options.keys.next, undefined)
  t.ok(options.keys.isRefused('key-a-000000000000'))
  await sessions.createSession(request())
  t.same(used, ['key-a-000000000000', 'key-b-000000000000', 'key-b-000000000000'])
})

test('both keys refused: UPSTREAM_AUTH_FAILED after one failover, no more', async (t) => {
  let calls = 0
  const client: UpstreamClient = {
    attempt: async () => { calls++; throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 403 }) },
    close: async () => {}
  }
  const { sessions, options } = service(client)
  await t.rejects(sessions.createSession(request()), { code: 'UPSTREAM_AUTH_FAILED' })
  t.equal(calls, 2)
  t.equal(options.keys.current, 'key-a-000000000000', 'nothing was promoted')
})

test('the circuit opening between attempts ends the retries with the last answer', async (t) => {
  const circuit = new CircuitBreaker({ threshold: 1, cooldownMs: 10000 })
  let attempts = 0
  const client: UpstreamClient = {
    // The retry would succeed: only the open circuit stops it.
    attempt: async () => { if (++attempts === 1) throw new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true, cause: 'ECONNREFUSED' }); return '7' },
    close: async () => {}
  }
  const { sessions } = service(client, { circuit, sleep: async () => {} })
  await t.rejects(sessions.createSession(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(circuit.state, 'open')
  t.equal(attempts, 1)
})

/** A client that fails with `error` for the first `failures` attempts, then creates session 7. */
function failing (error: () => UpstreamError, failures = Infinity) {
  let attempts = 0
  const client: UpstreamClient = {
    attempt: async () => {
      attempts++
      if (attempts <= failures) throw error()
      return '7'
    },
    close: async () => {}
  }
  return { client, attempts: () => attempts }
}

test('a connection that never opened is retried with exponential backoff: UPSTREAM_RETRY_BASE_MS × 2ⁿ, full jitter', async (t) => {
  const notSent = () => new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true, cause: 'ECONNREFUSED' })
  const { client, attempts } = failing(notSent, 3)
  const { waits, sleep } = recordedSleeps()
  // random() = 1 is the top of the jitter range, so each wait is the whole backoff.
  const { sessions } = service(client, { retries: 3, retryBaseMs: 100, timeoutMs: 10000, random: () => 1, sleep })
  t.match(await sessions.createSession(request()), { sessionId: '7', attempts: 4 })
  t.same(waits, [100, 200, 400])
  t.equal(attempts(), 4)

  const half = recordedSleeps()
  const again = service(failing(notSent, 2).client, { retries: 3, retryBaseMs: 100, timeoutMs: 10000, random: () => 0.5, sleep: half.sleep })
  await again.sessions.createSession(request())
  t.same(half.waits, [50, 100], 'the jitter scales the backoff')
})

test('only HTTP 429 and 503 with a Retry-After are retried; other 5xx with one are not', async (t) => {
  for (const [httpStatus, code, retried] of [
    [503, 'UPSTREAM_ERROR', true], [429, 'UPSTREAM_RATE_LIMITED', true],
    [500, 'UPSTREAM_ERROR', false], [502, 'UPSTREAM_ERROR', false], [504, 'UPSTREAM_TIMEOUT', false]
  ] as const) {
    const { waits, sleep } = recordedSleeps()
    const { client, attempts } = failing(() => new UpstreamError(code, { httpStatus, retryAfter: 2 }), 1)
    const { sessions } = service(client, { timeoutMs: 10000, sleep })
    if (retried) {
      t.match(await sessions.createSession(request()), { attempts: 2 }, `HTTP ${httpStatus} is retried`)
      t.same(waits, [2000], `after exactly its Retry-After (HTTP ${httpStatus})`)
    } else {
      await t.rejects(sessions.createSession(request()), { code }, `HTTP ${httpStatus} is answered`)
      t.equal(attempts(), 1, `HTTP ${httpStatus}: one attempt`)
    }
  }
  const { client, attempts } = failing(() => new UpstreamError('UPSTREAM_ERROR', { httpStatus: 503 }), 1)
  await t.rejects(service(client, { sleep: recordedSleeps().sleep }).sessions.createSession(request()), { code: 'UPSTREAM_ERROR' })
  t.equal(attempts(), 1, 'a 503 without Retry-After is answered')
})

test('a retry starts only if its wait plus max(50 ms, the last attempt) still fits in the deadline', async (t) => {
  const notSent = () => new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true })
  // The wait alone (950 ms) fits in 1000 ms; with the 50 ms an attempt needs, it does not.
  const tight = failing(notSent)
  const { waits, sleep } = recordedSleeps()
  await t.rejects(service(tight.client, { timeoutMs: 1000, retryBaseMs: 960, random: () => 1, sleep }).sessions.createSession(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(tight.attempts(), 1)
  t.same(waits, [])

  const roomy = failing(notSent, 1)
  const room = recordedSleeps()
  t.match(await service(roomy.client, { timeoutMs: 1000, retryBaseMs: 800, random: () => 1, sleep: room.sleep }).sessions.createSession(request()), { attempts: 2 })
  t.same(room.waits, [800])
})

test('retries stop at UPSTREAM_RETRIES, and the answer is the last attempt\'s', async (t) => {
  let n = 0
  const client: UpstreamClient = { attempt: async () => { n++; throw new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true, cause: `E${n}` }) }, close: async () => {} }
  const { sleep } = recordedSleeps()
  const error = await service(client, { retries: 2, timeoutMs: 10000, sleep }).sessions.createSession(request()).catch((e: unknown) => e)
  t.match((error as UpstreamError).facts, { cause: 'E3', attempts: 3 })
  t.equal(n, 3)
})

test('a client leaving during a retry\'s wait ends the request as CLIENT_GONE', async (t) => {
  const { client, attempts } = failing(() => new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true }))
  const waiting = Promise.withResolvers<void>()
  // A wait that ends only when its signal aborts, with the signal's reason.
  const sleep = (_ms: number, signal: { addEventListener: (type: 'abort', listener: () => void) => void, reason: unknown }) =>
    new Promise<void>((_resolve, reject) => { waiting.resolve(); signal.addEventListener('abort', () => reject(signal.reason)) })
  const { sessions } = service(client, { timeoutMs: 10000, sleep })
  const clientSignal = new AbortController()
  const pending = sessions.createSession(request(clientSignal.signal))
  await waiting.promise
  clientSignal.abort()
  await t.rejects(pending, { code: 'CLIENT_GONE' })
  t.equal(attempts(), 1)
})

test('the deadline passing during a retry\'s wait answers with the last attempt\'s error', async (t) => {
  const { client, attempts } = failing(() => new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true, cause: 'ECONNREFUSED' }))
  const sleep = (_ms: number, signal: { addEventListener: (type: 'abort', listener: () => void) => void, reason: unknown }) =>
    new Promise<void>((_resolve, reject) => { signal.addEventListener('abort', () => reject(signal.reason)) })
  const { sessions } = service(client, { timeoutMs: 100, retryBaseMs: 1, sleep })
  await t.rejects(sessions.createSession(request()), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(attempts(), 1)
})

test('what each attempt reports: the outcome and its duration to the observer, a debug line, the refused key by fingerprint', async (t) => {
  const outcomes: Array<[string, number]> = []
  const retries: string[] = []
  const { logger, lines } = capturedLog()
  const { client } = failing(() => new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true, cause: 'ECONNREFUSED' }), 1)
  const { sessions } = service(client, {
    sleep: async () => {},
    observer: { attempt: (outcome, ms) => { outcomes.push([outcome, ms]) }, retry: (reason) => { retries.push(reason) }, overloaded () {} }
  })
  t.same(await sessions.createSession({ ...request(), log: logger }), { sessionId: '7', attempts: 2 })
  t.same(outcomes.map(([outcome]) => outcome), ['UPSTREAM_UNAVAILABLE', 'success'])
  t.ok(outcomes.every(([, ms]) => ms >= 0 && ms < 1000), 'durations are elapsed times')
  t.same(retries, ['not_sent'])
  t.same(lines.filter((l) => l.msg === 'upstream attempt').map((l) => [l.attempt, l.outcome, l.cause]), [[1, 'UPSTREAM_UNAVAILABLE', 'ECONNREFUSED'], [2, 'success', undefined]])

  const refused = service({ attempt: async ({ key }) => { if (key === 'key-a-000000000000') throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401 }); return '9' }, close: async () => {} })
  const promoted = capturedLog()
  await refused.sessions.createSession({ ...request(), log: promoted.logger })
  t.match(promoted.lines.find((l) => l.level === 40), { refused: /^[0-9a-f]{8}$/, current: /^[0-9a-f]{8}$/, msg: /the next key worked and is now current/ })
})

test('an auth failure carries the refused key\'s fingerprint', async (t) => {
  const { sessions } = service({ attempt: async () => { throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401 }) }, close: async () => {} },
    { keys: new KeyRing('key-a-000000000000', undefined, new SecretScrubber()) })
  const error = await sessions.createSession(request()).catch((e: unknown) => e as UpstreamError)
  t.match(error, { code: 'UPSTREAM_AUTH_FAILED' })
  t.match((error as UpstreamError).facts.keyFingerprint, /^[0-9a-f]{8}$/)
})

test('a next key equal to the current one is not tried again', async (t) => {
  let attempts = 0
  const { sessions } = service({ attempt: async () => { attempts++; throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401 }) }, close: async () => {} },
    { keys: new KeyRing('key-a-000000000000', 'key-a-000000000000', new SecretScrubber()) })
  await t.rejects(sessions.createSession(request()), { code: 'UPSTREAM_AUTH_FAILED' })
  t.equal(attempts, 1)
})

test('a spent retry budget ends the retries, and says so at debug', async (t) => {
  const { client, attempts } = failing(() => new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true }), 1)
  const { logger, lines } = capturedLog()
  const { sessions } = service(client, { budget: new RetryBudget({ percent: 0, minPerWindow: 0 }), sleep: async () => {} })
  await t.rejects(sessions.createSession({ ...request(), log: logger }), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal(attempts(), 1)
  t.ok(lines.some((l) => l.msg === 'retry budget spent'))
})

test('each request counts toward the budget: with 100 % and no floor, one request earns one retry', async (t) => {
  const { client, attempts } = failing(() => new UpstreamError('UPSTREAM_UNAVAILABLE', { notSent: true }), 1)
  const { sessions } = service(client, { budget: new RetryBudget({ percent: 100, minPerWindow: 0 }), sleep: async () => {} })
  t.same(await sessions.createSession(request()), { sessionId: '7', attempts: 2 })
  t.equal(attempts(), 2)
})

test('a client gone before the call aborts it at once; one gone during it too; both are reported as client_gone', async (t) => {
  const gone = new AbortController()
  gone.abort()
  let attempts = 0
  const outcomes: string[] = []
  const observer = { attempt: (outcome: string) => { outcomes.push(outcome) }, retry () {}, overloaded () {} }
  const never: UpstreamClient = {
    attempt: (_request, signal) => {
      attempts++
      if (signal.aborted) return Promise.reject(signal.reason)
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
    },
    close: async () => {}
  }
  const { sessions } = service(never, { observer })
  await t.rejects(sessions.createSession(request(gone.signal)), { code: 'CLIENT_GONE' })
  t.same(outcomes, ['client_gone'], 'aborted at once')
  const leaving = new AbortController()
  const pending = sessions.createSession(request(leaving.signal))
  await new Promise((resolve) => setImmediate(resolve))
  leaving.abort()
  await t.rejects(pending, { code: 'CLIENT_GONE' })
  t.same(outcomes, ['client_gone', 'client_gone'])
  t.equal(attempts, 2)
})

test('a client leaving the queue is no queue_full overload', async (t) => {
  const limiter = new ConcurrencyLimiter(1, 5)
  const hold = await limiter.acquire(new AbortController().signal)
  const { sessions, overloads } = service({ attempt: async () => '1', close: async () => {} }, { limiter })
  const client = new AbortController()
  const pending = sessions.createSession(request(client.signal))
  client.abort()
  await t.rejects(pending, { code: 'CLIENT_GONE' })
  t.same(overloads, [])
  hold()
})

test('with tracing, each attempt runs inside its trace: its number, and why it is a retry', async (t) => {
  const traces: Array<[number, string | undefined]> = []
  let inside: number | undefined
  let calls = 0
  const client: UpstreamClient = {
    attempt: async ({ key }) => {
      const seen = inside
      calls++
      if (seen !== calls) throw new Error(`attempt ${calls} ran outside its trace`)
      if (key === 'key-a-000000000000') throw new UpstreamError('UPSTREAM_AUTH_FAILED', { httpStatus: 401 })
      if (calls === 2) throw new UpstreamError('UPSTREAM_UNAVAILABLE', { httpStatus: 503, retryAfter: 0 })
      return '9'
    },
    close: async () => {}
  }
  const traceAttempt: SessionServiceOptions['traceAttempt'] = async (trace, attempt) => {
    traces.push([trace.attempt, trace.retryReason])
    inside = trace.attempt
    try { return await attempt() } finally { inside = undefined }
  }
  const { sessions } = service(client, { traceAttempt, timeoutMs: 10000, sleep: async () => {} })
  t.same(await sessions.createSession(request()), { sessionId: '9', attempts: 3 })
  t.same(traces, [[1, undefined], [2, 'next_key'], [3, 'retry_after']])
})
