// The one line every request logs, built by hand in exactly the shape pino would write
// for `request.log.info({ req, res, responseTime, ...outcome }, 'request completed')`.
// pino's generic path (a serializer and JSON.stringify per nested object, asString per
// value, the redaction check per key) was a large share of a refused request's whole
// cost; building the line directly is a fraction of it (the commit that introduced this
// module has the measurement). A test builds the same line through pino and requires
// the two to be equal.
import pino from 'pino'

const INFO = pino.levels.values.info!
const MESSAGE = '"msg":"request completed"}\n'

export interface CompletionFields {
  /** The logger's own bindings as pino writes them, e.g. `,"pid":1,"hostname":"h"` (or ''). */
  bindings: string
  time: number
  requestId: string
  client: string | null
  /** A verified visitor's identity (a digest, never the subject itself). */
  visitor?: string | null
  /** The request span's ids, when tracing is on (where pino's mixin puts them: after the bindings). */
  traceId?: string
  spanId?: string
  method: string
  url: string
  host: string | undefined
  remoteAddress: string | undefined
  remotePort: number | undefined
  statusCode: number
  responseTime: number
  sessionId?: string
  attempts?: number
  code?: string
  detail?: string
  streamEnd?: string
}

/** Characters JSON.stringify would escape (a surrogate may be a valid pair: it decides). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** A JSON string; JSON.stringify only when something needs escaping (it rarely does). */
const quote = (value: string): string => NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`

/** `,"name":value` for a value present, '' for one that is not (pino leaves those out). */
const text = (name: string, value: string | undefined): string =>
  value === undefined ? '' : `,"${name}":${quote(value)}`
const number = (name: string, value: number | undefined): string =>
  value === undefined ? '' : `,"${name}":${Number.isFinite(value) ? value : 'null'}`

export function completionLine (f: CompletionFields): string {
  // pino writes the first request field without a leading comma after `"req":{`.
  const req = `{"method":${quote(f.method)},"url":${quote(f.url)}` +
    text('host', f.host) + text('remoteAddress', f.remoteAddress) + number('remotePort', f.remotePort) + '}'
  return `{"level":${INFO},"time":${f.time}${f.bindings}` +
    text('requestId', f.requestId) + (f.client === null ? '' : text('client', f.client)) +
    (f.visitor === undefined || f.visitor === null ? '' : text('visitor', f.visitor)) +
    text('trace_id', f.traceId) + text('span_id', f.spanId) +
    `,"req":${req},"res":{"statusCode":${f.statusCode}}` + number('responseTime', f.responseTime) +
    text('sessionId', f.sessionId) + number('attempts', f.attempts) + text('code', f.code) + text('detail', f.detail) + text('streamEnd', f.streamEnd) +
    ',' + MESSAGE
}
