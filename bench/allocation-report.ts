// The figures of `bench:alloc` (allocation.ts): per response for one run, and the report
// over the rounds, medians per server, ours over the minimal peer. No process, socket or
// file here, so a unit test can hold the arithmetic.
import type { GcTotals } from './gc-trace.ts'
import { median } from './stats.ts'
import type { ServerKind } from './targets.ts'

/** A server of the benchmark, or ours from another checkout (PROFILE_SCRIPT), by its folder's name. */
export type AllocationTarget = ServerKind | `other:${string}`

export interface AllocationRun {
  kind: AllocationTarget
  round: number
  rps: number
  p99: number
  errors: number
  /** Responses the GC figures are divided by (ramp included). */
  responses: number
  cpuUsPerResponse: number
  peakRssMb: number
  gc: GcTotals
  /** The sampling heap profile's summary (PROFILE_HEAP=1). */
  heap?: string
}

/** Per response, for one run. */
export function perResponse (run: AllocationRun): { allocated: number, promoted: number, survived: number, pauseUs: number } {
  const n = run.responses
  return { allocated: run.gc.allocated / n, promoted: run.gc.promoted / n, survived: run.gc.survived / n, pauseUs: 1000 * run.gc.pauseMs / n }
}

export function allocationReport (runs: AllocationRun[], flags: string[]): string {
  const kinds = [...new Set(runs.map((r) => r.kind))]
  const med = (kind: AllocationTarget, pick: (r: AllocationRun) => number): number => median(runs.filter((r) => r.kind === kind).map(pick))
  const rows = kinds.map((kind) => {
    const values = [
      med(kind, (r) => r.rps), med(kind, (r) => r.p99), med(kind, (r) => r.cpuUsPerResponse),
      med(kind, (r) => perResponse(r).allocated), med(kind, (r) => perResponse(r).promoted), med(kind, (r) => perResponse(r).survived),
      med(kind, (r) => perResponse(r).pauseUs), med(kind, (r) => 1000 * r.gc.scavenges / r.responses), med(kind, (r) => 1000 * r.gc.markCompacts / r.responses),
      med(kind, (r) => r.peakRssMb), med(kind, (r) => r.errors)
    ]
    return { kind, values }
  })
  const head = ['server', 'req/s', 'p99 ms', 'CPU µs/req', 'alloc B/req', 'promoted B/req', 'survived B/req', 'GC pause µs/req', 'scavenges/1k', 'mark-compacts/1k', 'peak RSS MB', 'errors']
  const digits = [0, 0, 0, 0, 0, 0, 1, 2, 3, 1, 0]
  const lines = [head.join(' | '), ...rows.map((row) => [row.kind, ...row.values.map((v, i) => Number.isFinite(v) ? v.toFixed(digits[i]) : '–')].join(' | '))]
  const minimal = rows.find((r) => r.kind === 'minimal')
  const ours = rows.find((r) => r.kind === 'ours')
  if (minimal !== undefined && ours !== undefined) {
    // The last column, errors, has no ratio.
    lines.push(['ours ÷ minimal', ...ours.values.slice(0, -1).map((v, i) => (v / minimal.values[i]!).toFixed(2))].join(' | '))
  }
  const rounds = Math.max(...runs.map((r) => r.round))
  return `${rounds} round(s), medians; node flags: ${flags.length === 0 ? '(V8 defaults)' : flags.join(' ')}\n${lines.join('\n')}`
}
