// Each upstream attempt is the span @opentelemetry/instrumentation-undici opens for its
// request (so the traceparent the upstream receives is the attempt's own). What undici
// cannot know, which attempt this is and why it is a retry, travels to that span in the
// context the attempt runs in, and is added when undici opens it.
import { context, createContextKey } from '@opentelemetry/api'
import type { Attributes } from '@opentelemetry/api'
import type { AttemptTrace, AttemptTracer } from '../telemetry/events.ts'

export const ATTEMPT_ATTRIBUTE = 'hottask.attempt'
export const RETRY_REASON_ATTRIBUTE = 'hottask.retry_reason'

const ATTEMPT = createContextKey('hottask-proxy upstream attempt')

/** Runs one attempt with its number and retry reason in the active context. */
export const traceAttempt: AttemptTracer = (trace, attempt) =>
  context.with(context.active().setValue(ATTEMPT, trace), attempt)

/** The attributes of the request undici is about to send: the attempt's, when it is one. */
export function attemptAttributes (): Attributes {
  const trace = context.active().getValue(ATTEMPT) as AttemptTrace | undefined
  if (trace === undefined) return {}
  return trace.retryReason === undefined
    ? { [ATTEMPT_ATTRIBUTE]: trace.attempt }
    : { [ATTEMPT_ATTRIBUTE]: trace.attempt, [RETRY_REASON_ATTRIBUTE]: trace.retryReason }
}
