// The four scenarios of issue 6, and one measured run of a scenario against a target:
// reset the upstream's counters and the server's peak RSS, apply the load, read both.
import { SLOW_UPSTREAM_MS } from './targets.ts'
import type { Target } from './targets.ts'
import { runLoad } from './load.ts'
import type { LoadResult } from './load.ts'
import { cpuSeconds, watchNoise } from './noise.ts'
import type { Noise } from './noise.ts'
import { watchRss } from './rss.ts'
import type { PeakRss } from './rss.ts'
import type { UpstreamStats } from './upstream-stats.ts'

export type ScenarioId = 'throughput' | 'overhead' | 'slow' | 'refusal'

export interface Scenario {
  id: ScenarioId
  title: string
  /** Target ids, in the order of the first round (later rounds rotate it). */
  targets: string[]
  connections: number
  overallRate?: number
  /** Seconds not counted at the start of each run (see load.ts). */
  rampS: number
}

/** Seconds of load before the counted part of a run (connection set-up, see load.ts). */
export const RAMP_S = 1
export const THROUGHPUT_CONNECTIONS = 50
export const FIXED_RATE = 1000
/**
 * autocannon's overallRate gives each connection rate/connections requests a second and
 * sends them back to back from the start of each second: the load comes in bursts as
 * wide as the connection count, and with 10 connections the latency measured is mostly
 * queueing behind the burst (10 × the server's CPU per request). Two connections keep
 * each latency close to one request's own path through the proxy (the overhead asked
 * about) and still reach the rate while a request takes under 2 ms.
 */
export const OVERHEAD_CONNECTIONS = 2
export const SLOW_CONNECTIONS = 1000
/** 1000 connects at once overflow a 511-deep listen queue (Node's default): wait out the 1 s and 3 s SYN retries. */
export const SLOW_RAMP_S = 3
/** Requests per second if every client got an answer exactly every SLOW_UPSTREAM_MS. */
export const SLOW_IDEAL_RPS = SLOW_CONNECTIONS / (SLOW_UPSTREAM_MS / 1000)

const PEERS = ['direct', 'minimal', 'http-proxy', 'ours']
/** The peers at V8's defaults: a reference line next to the like-for-like one. */
const REFERENCE = ['minimal-defaults', 'http-proxy-defaults']

export const SCENARIOS: Scenario[] = [
  {
    id: 'throughput',
    title: `1. Throughput: fast upstream, ${THROUGHPUT_CONNECTIONS} connections`,
    targets: [...PEERS, 'ours-visitor', 'ours-visitor-fresh', ...REFERENCE],
    connections: THROUGHPUT_CONNECTIONS,
    rampS: RAMP_S
  },
  {
    id: 'overhead',
    title: `2. Overhead at a fixed ${FIXED_RATE} req/s (overallRate, ${OVERHEAD_CONNECTIONS} connections)`,
    targets: PEERS,
    connections: OVERHEAD_CONNECTIONS,
    overallRate: FIXED_RATE,
    rampS: RAMP_S
  },
  {
    id: 'slow',
    title: `3. Slow upstream: ${SLOW_UPSTREAM_MS} ms per answer, ${SLOW_CONNECTIONS} connections (ideal ${SLOW_IDEAL_RPS} req/s)`,
    targets: [...PEERS, ...REFERENCE].map((id) => `${id}-slow`),
    connections: SLOW_CONNECTIONS,
    rampS: SLOW_RAMP_S
  },
  {
    id: 'refusal',
    title: `4. Refusals: ${THROUGHPUT_CONNECTIONS} connections, rate-limited (429) and disallowed origin (403)`,
    targets: ['ours-429', 'ours-403'],
    connections: THROUGHPUT_CONNECTIONS,
    rampS: RAMP_S
  }
]

export interface RunRecord extends LoadResult {
  scenario: ScenarioId
  target: string
  /** 0 for the warm-up. */
  round: number
  /** Responses whose status is not the one the target should answer. */
  unexpected: number
  peakRss?: PeakRss
  /** CPU the server under test used during the whole run (ramp included), in seconds. */
  serverCpuS?: number
  /** Wall-clock length of the whole run, ramp included. */
  wallS: number
  /** What the simulated upstream saw during the run. */
  upstream: UpstreamStats
  noise: Noise
}

/** One run: `durationS` counted seconds after the scenario's ramp (a warm-up has none). */
export interface RunSettings {
  durationS: number
  warmUp: boolean
  round: number
  /** The benchmark's processes, for CPU accounting. */
  pids: () => number[]
  /** The core the servers are pinned to, if they are. */
  serverCpu?: number
}

export async function measure (scenario: Scenario, target: Target, run: RunSettings): Promise<RunRecord> {
  const rampS = run.warmUp ? 0 : scenario.rampS
  await target.upstream.reset()
  const stopWatch = target.server === undefined ? undefined : watchRss(target.server.pid)
  const stopNoise = watchNoise(run.pids, target.server === undefined ? undefined : run.serverCpu)
  const cpuBefore = target.server === undefined ? undefined : cpuSeconds(target.server.pid)
  const started = performance.now()
  const load = await runLoad({
    url: target.url,
    headers: target.headers,
    body: target.body,
    connections: scenario.connections,
    durationS: rampS + run.durationS,
    rampS,
    overallRate: scenario.overallRate,
    rotatingHeader: target.rotatingHeader
  })
  const noise = stopNoise()
  const wallS = (performance.now() - started) / 1000
  const serverCpuS = cpuBefore === undefined ? undefined : cpuSeconds(target.server!.pid) - cpuBefore
  const peakRss = stopWatch?.()
  const upstream = await target.upstream.stats()
  if (target.server !== undefined && !target.server.running()) {
    throw new Error(`${target.server.name} exited during the run:\n${target.server.stderr()}`)
  }
  const expected = load.statuses[target.expectedStatus] ?? 0
  return { scenario: scenario.id, target: target.id, round: run.round, ...load, unexpected: load.responses - expected, peakRss, serverCpuS, wallS, upstream, noise }
}
