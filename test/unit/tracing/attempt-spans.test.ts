// An attempt's number and retry reason travel in the context it runs in, to the attributes
// of the span undici opens for its request; outside an attempt there are none.
import { context, createContextKey } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { test } from 'tap'
import { attemptAttributes, traceAttempt } from '../../../src/tracing/attempt-spans.ts'

// What the SDK installs when tracing is on: without a context manager no context travels.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

test('inside an attempt, its number and why it is a retry; after an await too', async (t) => {
  const first = await traceAttempt({ attempt: 1, retryReason: undefined }, async () => attemptAttributes())
  t.same(first, { 'hottask.attempt': 1 })
  const retry = await traceAttempt({ attempt: 3, retryReason: 'retry_after' }, async () => {
    await new Promise((resolve) => setImmediate(resolve))
    return attemptAttributes()
  })
  t.same(retry, { 'hottask.attempt': 3, 'hottask.retry_reason': 'retry_after' })
})

test('outside an attempt (a JWKS fetch, say), no attempt attributes', async (t) => {
  t.same(attemptAttributes(), {})
  await traceAttempt({ attempt: 2, retryReason: 'not_sent' }, async () => {})
  t.same(attemptAttributes(), {}, 'nothing leaks out of an attempt that ended')
})

test('the attempt travels under a key of its own: a context key made elsewhere, even without a name, does not see it', async (t) => {
  // OpenTelemetry's keys are registered symbols: two keys of the same description are one key.
  const seen = await traceAttempt({ attempt: 2, retryReason: 'retry_after' }, async () =>
    [createContextKey(''), createContextKey('attempt')].map((key) => context.active().getValue(key)))
  t.same(seen, [undefined, undefined])
})
