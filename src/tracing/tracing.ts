// OpenTelemetry tracing, imported (dynamically, by app.ts) only when config/tracing.ts
// turned it on. The SDK (@opentelemetry/sdk-node) reads the standard OTEL_* variables
// itself: exporter, protocol, endpoint, headers, sampler, batch processor. Each request's
// span comes from @fastify/otel, registered as a plugin (nothing is patched); each upstream
// attempt's from @opentelemetry/instrumentation-undici, which listens on undici's
// diagnostics channels and so sees the pools' own dispatches and injects their
// traceparent. The SDK's state is global: one traced app per process at a time.
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { context, diag, DiagLogLevel, isSpanContextValid, propagation, trace } from '@opentelemetry/api'
import type { DiagLogFunction, SpanContext } from '@opentelemetry/api'
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici'
import { NodeSDK } from '@opentelemetry/sdk-node'
import type { FastifyBaseLogger, FastifyPluginCallback, FastifyRequest } from 'fastify'
import type { TracingConfig } from '../config/config.ts'
import type { AttemptTracer } from '../telemetry/events.ts'
import { attemptAttributes, traceAttempt } from './attempt-spans.ts'
import { TrustedTraceContext } from './trusted-propagator.ts'

export const ERROR_CODE_ATTRIBUTE = 'hottask.error_code'

/** Probes hit these every few seconds; their spans would drown the traffic's. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz'])

export interface TraceIds { traceId: string, spanId: string }

export interface TracingOptions extends TracingConfig {
  /** Whether an Authorization header presents a valid client token (the guard's own check). */
  isClient: (authorization: string) => boolean
}

export interface Tracing {
  /** Registered before every other hook and route: opens each request's span from the (trusted) inbound context. */
  plugin: FastifyPluginCallback
  /** pino's mixin: the active span's trace_id and span_id on every line written inside one. */
  logFields: () => Record<string, string>
  /** The ids of a request's own span, for its completion line. */
  idsOf: (request: FastifyRequest) => TraceIds | undefined
  attempt: AttemptTracer
  /** Records on the request's span the problem it is answered with. */
  recordProblem: (request: FastifyRequest, code: string) => void
  /** Sends the SDK's own warnings (an unreachable collector, say) to the app's log. */
  reportTo: (log: FastifyBaseLogger) => void
  /** Exports the spans still buffered, then stops tracing. */
  shutdown: () => Promise<void>
}

const NO_FIELDS: Record<string, string> = {}

/** A path without its query string, which may carry anything a caller put there. */
const pathOf = (url: string): string => {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** `POST /sessions/:sessionId/messages`; the method alone where no route matched. */
const spanName = (request: FastifyRequest): string =>
  request.routeOptions.url === undefined ? request.method : `${request.method} ${request.routeOptions.url}`

const idsOf = (spanContext: SpanContext | undefined): TraceIds | undefined =>
  spanContext !== undefined && isSpanContextValid(spanContext) ? { traceId: spanContext.traceId, spanId: spanContext.spanId } : undefined

export function startTracing (options: TracingOptions): Tracing {
  const undici = new UndiciInstrumentation({
    // Only requests made while serving one (the upstream's, the identity checks'); never a test's or a probe's own.
    requireParentforSpans: true,
    startSpanHook: attemptAttributes
  })
  const fastify = new FastifyOtelInstrumentation({
    // One span per request and one for its handler (which keeps the request's context across
    // the body's parsing); none per hook.
    instrumentHooks: false,
    ignorePaths: (route) => UNTRACED_PATHS.has(route.url),
    // Named as HTTP's conventions say (`POST /sessions`), not `request`; the path without its query.
    requestHook: (span, request) => {
      span.updateName(spanName(request))
      span.setAttribute('url.path', pathOf(request.url))
    },
    lifecycleHook: (span, { request }) => { span.updateName(`handler ${spanName(request)}`) }
  })
  const trusts = options.trustInbound ? () => true : (authorization: string | undefined) => authorization !== undefined && options.isClient(authorization)
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    textMapPropagator: new TrustedTraceContext(trusts),
    instrumentations: [undici, fastify],
    // Traces only: metrics have their own port, logs their own lines.
    metricReaders: [],
    logRecordProcessors: []
  })
  sdk.start()

  return {
    plugin: fastify.plugin(),
    logFields: () => {
      const ids = idsOf(trace.getActiveSpan()?.spanContext())
      return ids === undefined ? NO_FIELDS : { trace_id: ids.traceId, span_id: ids.spanId }
    },
    idsOf: (request) => {
      const requestContext = request.opentelemetry().context
      return requestContext == null ? undefined : idsOf(trace.getSpanContext(requestContext))
    },
    attempt: traceAttempt,
    recordProblem: (request, code) => { request.opentelemetry().span?.setAttribute(ERROR_CODE_ATTRIBUTE, code) },
    reportTo: (log) => {
      const warn: DiagLogFunction = (message, ...details) => {
        log.warn({ details: details.map((detail) => detail instanceof Error ? detail.message : String(detail)) }, `OpenTelemetry: ${message}`)
      }
      const ignore: DiagLogFunction = () => {}
      diag.setLogger({ error: warn, warn, info: ignore, debug: ignore, verbose: ignore }, DiagLogLevel.WARN)
    },
    shutdown: async () => {
      await sdk.shutdown()
      undici.disable()
      fastify.disable()
      trace.disable()
      propagation.disable()
      context.disable()
      diag.disable()
    }
  }
}
