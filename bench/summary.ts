// From the runs to the figures: per scenario and target, the median of the rounds for
// rates and latencies, the maximum for peak memory and upstream connections, sums for
// counts.
import type { RunRecord, Scenario, ScenarioId } from './scenarios.ts'
import { max, median, sum } from './stats.ts'
import type { Target } from './targets.ts'

export interface TargetSummary {
  id: string
  label: string
  expectedStatus: number
  rounds: number
  rps: number
  p50: number
  p99: number
  peakRssMb: number
  rssSource: string | undefined
  /** Server CPU per response, microseconds: what a request costs, whatever else ran. */
  cpuUsPerRequest: number
  /** Share of one core the server used. */
  coreUse: number
  /** Idle share of the server's core (pinned runs only): the server had CPU to spare. */
  coreIdle: number
  responses: number
  unexpected: number
  errors: number
  timeouts: number
  statuses: Record<string, number>
  upstreamRequests: number
  upstreamPeakConnections: number
  /** Median and maximum over the rounds of CPU used by other processes, in cores. */
  foreignCores: { median: number, max: number }
  listenOverflows: number
}

export interface ScenarioSummary {
  id: ScenarioId
  title: string
  targets: TargetSummary[]
}

function summariseTarget (target: Target, runs: RunRecord[]): TargetSummary {
  const statuses: Record<string, number> = {}
  for (const run of runs) {
    for (const [status, count] of Object.entries(run.statuses)) statuses[status] = (statuses[status] ?? 0) + count
  }
  return {
    id: target.id,
    label: target.label,
    expectedStatus: target.expectedStatus,
    rounds: runs.length,
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.latencyMs.p50)),
    p99: median(runs.map((r) => r.latencyMs.p99)),
    peakRssMb: max(runs.map((r) => r.peakRss?.mb ?? NaN)),
    rssSource: runs.find((r) => r.peakRss !== undefined)?.peakRss?.source,
    cpuUsPerRequest: median(runs.map((r) => r.serverCpuS === undefined ? NaN : (1e6 * r.serverCpuS) / (r.responses + r.rampResponses))),
    coreUse: median(runs.map((r) => r.serverCpuS === undefined ? NaN : r.serverCpuS / r.wallS)),
    coreIdle: median(runs.map((r) => r.noise.serverCoreIdle)),
    responses: sum(runs.map((r) => r.responses)),
    unexpected: sum(runs.map((r) => r.unexpected)),
    errors: sum(runs.map((r) => r.errors)),
    timeouts: sum(runs.map((r) => r.timeouts)),
    statuses,
    upstreamRequests: sum(runs.map((r) => r.upstream.requests)),
    upstreamPeakConnections: max(runs.map((r) => r.upstream.peakConnections)),
    foreignCores: { median: median(runs.map((r) => r.noise.foreignCores)), max: max(runs.map((r) => r.noise.foreignCores)) },
    listenOverflows: sum(runs.map((r) => r.noise.listenOverflows))
  }
}

export function summarise (scenarios: Scenario[], records: RunRecord[], targetOf: (id: string) => Target): ScenarioSummary[] {
  return scenarios.map((scenario) => ({
    id: scenario.id,
    title: scenario.title,
    targets: scenario.targets.map((id) => summariseTarget(
      targetOf(id),
      records.filter((r) => r.round > 0 && r.scenario === scenario.id && r.target === id)
    ))
  }))
}

export function find (summaries: ScenarioSummary[], scenario: ScenarioId, target: string): TargetSummary {
  const found = summaries.find((s) => s.id === scenario)?.targets.find((t) => t.id === target)
  if (found === undefined) throw new Error(`no figures for ${target} in ${scenario}`)
  return found
}
