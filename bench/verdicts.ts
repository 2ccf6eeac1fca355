// Issue 6's targets, raised by issue 17 (every Node server under the same node flags), each checked against the figures. A goal is "unsure" when the run
// broke one of its premises: a server that was not the bottleneck, or a busy machine.
import { FIXED_RATE, SLOW_IDEAL_RPS } from './scenarios.ts'
import { find } from './summary.ts'
import type { ScenarioSummary, TargetSummary } from './summary.ts'
import { SLOW_POOL } from './targets.ts'

export interface Verdict {
  goal: string
  measured: string
  /** unsure: the run broke a premise of the goal (a server not saturated, a busy machine). */
  state: 'met' | 'missed' | 'unsure'
}

/** A server whose core was idle more than this was not what limited the rate. */
const SPARE = 0.1
/** Other processes using more than this many cores make latencies and rates doubtful. */
const NOISY_CORES = 0.25

const fixed = (value: number, digits: number): string => Number.isFinite(value) ? value.toFixed(digits) : 'n/a'

/** Statuses other than the expected one, e.g. "201 × 5120": a refusal that did not refuse. */
function otherStatuses (t: TargetSummary): string {
  return Object.entries(t.statuses).filter(([s]) => Number(s) !== t.expectedStatus).map(([s, n]) => `${s} × ${n}`).join(', ')
}

/** A throughput ratio, with the same ratio from CPU per request (robust to other load). */
function versus (ours: TargetSummary, peer: TargetSummary): string {
  return `${fixed(ours.rps / peer.rps, 2)} × (by CPU per request: ${fixed(peer.cpuUsPerRequest / ours.cpuUsPerRequest, 2)} ×)`
}

/**
 * A doubt about a ratio of rates: a server's core had time to spare (the load generator
 * set the rate), or other processes took CPU (they may have taken more from one run).
 * Without pinning, core use stands in for the idle share.
 */
function unsaturated (...targets: TargetSummary[]): string | undefined {
  const idle = targets.filter((t) => Number.isFinite(t.coreIdle) ? t.coreIdle > SPARE : !(t.coreUse >= 1 - SPARE))
  if (idle.length > 0) return `${idle.map((t) => `${t.id}'s core idle ${fixed(100 * (Number.isFinite(t.coreIdle) ? t.coreIdle : 1 - t.coreUse), 0)} %`).join(', ')}: the load, not the server, set the rate`
  const busy = targets.find((t) => t.foreignCores.median > NOISY_CORES)
  return busy === undefined ? undefined : `other processes used ${fixed(busy.foreignCores.median, 2)} cores (median) during ${busy.id}'s runs: trust the CPU-per-request ratio more`
}

/** Judged on the median run: one disturbed round out of three does not move a median. */
function noisy (t: TargetSummary): string | undefined {
  return t.foreignCores.median > NOISY_CORES ? `other processes used ${fixed(t.foreignCores.median, 2)} cores (median) meanwhile` : undefined
}

/** A doubt voids a ratio either way; it only voids an absolute miss (noise never helps). */
function judge (goal: string, measured: string, ok: boolean, doubt?: string, evenIfMet = false): Verdict {
  const unsure = doubt !== undefined && (evenIfMet || !ok)
  return { goal, measured: unsure ? `${measured}; ${doubt}` : measured, state: unsure ? 'unsure' : ok ? 'met' : 'missed' }
}

function refusal (summaries: ScenarioSummary[], id: string, status: number, success: TargetSummary): Verdict[] {
  const t = find(summaries, 'refusal', id)
  const wrong = t.unexpected > 0 ? `; answered ${otherStatuses(t)} (expected ${status} only)` : ''
  return [
    judge(`${status} path ≥ 2 × success path throughput`, `${versus(t, success)}${wrong}`, t.rps / success.rps >= 2 && t.unexpected === 0,
      t.unexpected > 0 ? undefined : unsaturated(t, success), true),
    judge(`${status} path: 0 upstream calls`, `${t.upstreamRequests} upstream calls`, t.upstreamRequests === 0)
  ]
}

export function verdicts (summaries: ScenarioSummary[]): Verdict[] {
  const ours = find(summaries, 'throughput', 'ours')
  const minimal = find(summaries, 'throughput', 'minimal')
  const httpProxy = find(summaries, 'throughput', 'http-proxy')
  const minimalDefaults = find(summaries, 'throughput', 'minimal-defaults')
  const visitor = find(summaries, 'throughput', 'ours-visitor')
  const fresh = find(summaries, 'throughput', 'ours-visitor-fresh')
  const overDirect = find(summaries, 'overhead', 'direct')
  const overOurs = find(summaries, 'overhead', 'ours')
  const slow = find(summaries, 'slow', 'ours-slow')
  const slowMinimal = find(summaries, 'slow', 'minimal-slow')
  const addedP99 = overOurs.p99 - overDirect.p99
  const success = (['throughput', 'overhead', 'slow'] as const).map((s) => find(summaries, s, s === 'slow' ? 'ours-slow' : 'ours'))
  const wrong = success.filter((t) => t.unexpected > 0).map((t) => otherStatuses(t))
  const connections = slow.upstreamPeakConnections
  return [
    judge('success path answers 201 only', wrong.length === 0 ? 'all 201' : `also ${wrong.join('; ')}`, wrong.length === 0),
    judge('throughput ≥ 0.95 × minimal proxy (same node flags)', versus(ours, minimal), ours.rps / minimal.rps >= 0.95, unsaturated(ours, minimal), true),
    judge('throughput ≥ 1.6 × @fastify/http-proxy (same node flags)', versus(ours, httpProxy), ours.rps / httpProxy.rps >= 1.6, unsaturated(ours, httpProxy), true),
    judge('throughput ≥ 0.80 × minimal proxy at V8 defaults', versus(ours, minimalDefaults), ours.rps / minimalDefaults.rps >= 0.8, unsaturated(ours, minimalDefaults), true),
    judge('visitor tokens on, one RS256 verification per request: throughput ≥ 0.85 × off', versus(fresh, ours),
      fresh.rps / ours.rps >= 0.85 && fresh.unexpected === 0, unsaturated(fresh, ours), true),
    judge('visitor tokens on, a widget\'s token (the same each request): throughput ≥ 0.85 × off', versus(visitor, ours),
      visitor.rps / ours.rps >= 0.85 && visitor.unexpected === 0, unsaturated(visitor, ours), true),
    judge('throughput: peak RSS ≤ 150 MB', `${fixed(ours.peakRssMb, 1)} MB`, ours.peakRssMb <= 150),
    judge(`overhead at ${FIXED_RATE} req/s: p99 added ≤ 1 ms`, `${fixed(addedP99, 2)} ms`, addedP99 <= 1,
      overOurs.rps < 0.95 * FIXED_RATE ? `the rate reached was ${fixed(overOurs.rps, 0)} req/s` : noisy(overOurs) ?? noisy(overDirect)),
    judge('slow upstream: rate ≥ 0.95 × minimal proxy (same node flags)', versus(slow, slowMinimal), slow.rps >= 0.95 * slowMinimal.rps, noisy(slow) ?? noisy(slowMinimal), true),
    judge('slow upstream: p99 ≤ 1.15 × minimal proxy', `${fixed(slow.p99, 0)} ms against ${fixed(slowMinimal.p99, 0)} ms (${fixed(slow.p99 / slowMinimal.p99, 2)} ×)`,
      slow.p99 <= 1.15 * slowMinimal.p99, noisy(slow) ?? noisy(slowMinimal), true),
    judge('slow upstream: peak RSS ≤ minimal proxy + 25 MB', `${fixed(slow.peakRssMb, 1)} MB against ${fixed(slowMinimal.peakRssMb, 1)} MB (${fixed(slow.peakRssMb - slowMinimal.peakRssMb, 1)} MB more)`,
      slow.peakRssMb <= slowMinimal.peakRssMb + 25),
    judge('slow upstream: ≥ 90 % of ideal', `${fixed((100 * slow.rps) / SLOW_IDEAL_RPS, 1)} %`, slow.rps >= 0.9 * SLOW_IDEAL_RPS, noisy(slow)),
    judge('slow upstream: 0 errors', `${slow.errors} errors, ${slow.unexpected} non-201`, slow.errors === 0 && slow.unexpected === 0),
    judge('slow upstream: peak RSS ≤ 200 MB', `${fixed(slow.peakRssMb, 1)} MB`, slow.peakRssMb <= 200),
    // As many clients as the setting: a pool sized by it reaches it and goes no further.
    judge(`slow upstream: pool sized by UPSTREAM_MAX_CONCURRENCY (= ${SLOW_POOL})`, `${connections} upstream connections at peak`,
      connections <= SLOW_POOL && connections >= 0.9 * SLOW_POOL, connections < 0.9 * SLOW_POOL ? noisy(slow) : undefined),
    ...refusal(summaries, 'ours-429', 429, ours),
    ...refusal(summaries, 'ours-403', 403, ours)
  ]
}
