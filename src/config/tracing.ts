// Whether the service traces, decided once at start from the standard OTEL_* variables:
// only with an OTLP endpoint to send to, and never with OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none. Off, the app loads no OpenTelemetry module at all, so a
// service without a tracing backend pays nothing for the feature.
import type { RawEnv } from './schema.ts'

export interface TracingConfig {
  /** The `service.name` of every span (OTEL_SERVICE_NAME, else hottask-proxy). */
  serviceName: string
  /** Honour every caller's traceparent, not only a client token's (OTEL_TRUST_INBOUND_TRACE). */
  trustInbound: boolean
  /** The values of the exporter's headers (a backend's API key): scrubbed from logs like every secret. */
  headerValues: string[]
}

/** Each value of `name=value,…`, as written and URL-decoded (the SDK decodes them). */
function headerValues (headers: string | undefined): string[] {
  if (headers === undefined) return []
  return headers.split(',').flatMap((pair) => {
    const value = pair.slice(pair.indexOf('=') + 1).trim()
    let decoded = value
    try { decoded = decodeURIComponent(value) } catch {}
    return decoded === value ? [value] : [value, decoded]
  })
}

export function resolveTracing (raw: RawEnv): TracingConfig | undefined {
  if (raw.OTEL_SDK_DISABLED || raw.OTEL_TRACES_EXPORTER === 'none') return undefined
  if (raw.OTEL_EXPORTER_OTLP_ENDPOINT === undefined && raw.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT === undefined) return undefined
  return {
    serviceName: raw.OTEL_SERVICE_NAME,
    trustInbound: raw.OTEL_TRUST_INBOUND_TRACE,
    headerValues: [...headerValues(raw.OTEL_EXPORTER_OTLP_HEADERS), ...headerValues(raw.OTEL_EXPORTER_OTLP_TRACES_HEADERS)]
  }
}
