// One load run with autocannon's programmatic API. autocannon's own histogram keeps
// whole milliseconds, too coarse for sub-millisecond overheads, so every response time
// is also recorded here as a float and the percentiles are computed from those. The
// first `rampS` seconds are not counted: autocannon opens every connection at once, and
// with hundreds of them a full listen queue drops SYNs that the kernel only retries 1 s
// and 3 s later; that measures connection set-up, not a server. Rates count responses
// that arrive after the ramp; latencies, requests that were sent after it.
import autocannon from 'autocannon'
import { percentile } from './stats.ts'

export interface LoadSpec {
  url: string
  headers: Record<string, string>
  body: string
  connections: number
  durationS: number
  /** Seconds at the start of the run whose responses are not counted. */
  rampS: number
  /** Requests per second over all connections (autocannon's overallRate). */
  overallRate?: number
  /** A header whose value changes with every request, cycling through these values. */
  rotatingHeader?: { name: string, values: string[] }
}

export interface LoadResult {
  /** The counted part of the run, after the ramp. */
  durationS: number
  responses: number
  /** Responses during the ramp, not counted anywhere else. */
  rampResponses: number
  /** Responses whose latency is in latencyMs: requests sent after the ramp. */
  timed: number
  rps: number
  latencyMs: { p50: number, p99: number, mean: number, max: number }
  /** Responses by HTTP status. */
  statuses: Record<string, number>
  /** Requests without a response: socket errors plus timeouts (autocannon counts both). */
  errors: number
  timeouts: number
}

const REQUEST_TIMEOUT_S = 10

/** autocannon's per-request hook that gives each request the next value of the header. */
function rotating (headers: Record<string, string>, header: { name: string, values: string[] }) {
  let next = 0
  return (request: { headers?: Record<string, string> }) => ({ ...request, headers: { ...headers, [header.name]: header.values[next++ % header.values.length]! } })
}

export async function runLoad (spec: LoadSpec): Promise<LoadResult> {
  const times: number[] = []
  const statuses: Record<string, number> = {}
  let responses = 0
  let rampResponses = 0
  const started = performance.now()
  const counted = started + spec.rampS * 1000
  const instance = autocannon({
    url: spec.url,
    method: 'POST',
    headers: spec.headers,
    body: spec.body,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: REQUEST_TIMEOUT_S,
    ...(spec.overallRate === undefined ? {} : { overallRate: spec.overallRate }),
    ...(spec.rotatingHeader === undefined ? {} : { requests: [{ setupRequest: rotating(spec.headers, spec.rotatingHeader) }] })
  })
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    const now = performance.now()
    if (now < counted) {
      rampResponses++
      return
    }
    responses++
    statuses[status] = (statuses[status] ?? 0) + 1
    if (now - ms >= counted) times.push(ms)
  })
  const result = await instance
  const durationS = (performance.now() - counted) / 1000
  const sorted = Float64Array.from(times).sort()
  return {
    durationS,
    responses,
    rampResponses,
    timed: times.length,
    rps: responses / durationS,
    latencyMs: {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      mean: times.length === 0 ? NaN : times.reduce((a, b) => a + b, 0) / times.length,
      max: sorted.length === 0 ? NaN : sorted[sorted.length - 1]!
    },
    statuses,
    errors: result.errors,
    timeouts: result.timeouts
  }
}
