// The figures as text: one table per scenario (absolute numbers next to ratios), the
// issue's targets with what was measured, and the same tables as Markdown for docs/performance.md.
import type { Machine } from './machine.ts'
import { machineLine } from './machine.ts'
import { FIXED_RATE, OVERHEAD_CONNECTIONS, SLOW_IDEAL_RPS } from './scenarios.ts'
import type { ScenarioId } from './scenarios.ts'
import { find } from './summary.ts'
import type { ScenarioSummary, TargetSummary } from './summary.ts'
import { SLOW_POOL } from './targets.ts'
import type { Verdict } from './verdicts.ts'

type Row = string[]

const STATE: Record<Verdict['state'], string> = { met: 'met   ', missed: 'MISSED', unsure: 'unsure' }
interface Table { title: string, head: Row, rows: Row[], notes: string[] }

const num = (value: number, digits = 0): string => Number.isFinite(value) ? value.toFixed(digits) : '–'
const ratio = (a: number, b: number): string => num(a / b, 2)
const percent = (share: number): string => Number.isFinite(share) ? `${(100 * share).toFixed(0)} %` : '–'
const signed = (value: number): string => Number.isFinite(value) ? `${value >= 0 ? '+' : ''}${value.toFixed(2)}` : '–'

function statusMix (t: TargetSummary): string {
  const parts = Object.entries(t.statuses).sort(([, a], [, b]) => b - a).map(([status, count]) => `${status}:${count}`)
  return parts.length === 0 ? 'none' : parts.join(' ')
}

const failures = (t: TargetSummary): string => t.timeouts > 0 ? `${t.errors} (${t.timeouts} timeouts)` : String(t.errors)

function throughput (s: ScenarioSummary): Table {
  const direct = find([s], s.id, 'direct')
  const ours = find([s], s.id, 'ours')
  const vs = (id: string): string => {
    const peer = find([s], s.id, id)
    return `${ratio(ours.rps, peer.rps)} by req/s, ${ratio(peer.cpuUsPerRequest, ours.cpuUsPerRequest)} by CPU per request`
  }
  return {
    title: s.title,
    head: ['target', 'req/s', '× direct', 'p50 ms', 'p99 ms', 'CPU µs/req', 'core use', 'core idle', 'peak RSS MB', 'statuses', 'errors'],
    rows: s.targets.map((t) => [
      t.label, num(t.rps), ratio(t.rps, direct.rps), num(t.p50, 2), num(t.p99, 2), num(t.cpuUsPerRequest), num(t.coreUse, 2), percent(t.coreIdle),
      num(t.peakRssMb, 1), statusMix(t), failures(t)
    ]),
    notes: [
      `hottask-proxy ÷ minimal = ${vs('minimal')} (target ≥ 0.95); hottask-proxy ÷ @fastify/http-proxy = ${vs('http-proxy')} (target ≥ 1.6); ` +
      `÷ minimal at V8 defaults = ${vs('minimal-defaults')} (target ≥ 0.80)`,
      'every Node server runs with production\'s node flags except the two "V8 defaults" lines, the peers as their authors ship them',
      'CPU µs/req = the server process\'s CPU time over responses; core use = its CPU time over wall time; core idle = idle share of its core ' +
      '(near 0: the server, or other processes on its core, limited the rate)'
    ]
  }
}

function overhead (s: ScenarioSummary): Table {
  const direct = find([s], s.id, 'direct')
  return {
    title: s.title,
    head: ['target', 'req/s', 'p50 ms', 'p99 ms', 'p50 added ms', 'p99 added ms', 'statuses', 'errors'],
    rows: s.targets.map((t) => [t.label, num(t.rps), num(t.p50, 2), num(t.p99, 2), signed(t.p50 - direct.p50), signed(t.p99 - direct.p99), statusMix(t), failures(t)]),
    notes: [
      'added = proxy minus the upstream called directly, same round conditions (target: p99 added ≤ 1 ms)',
      ...s.targets.filter((t) => t.rps < 0.95 * FIXED_RATE).map((t) =>
        `${t.label} did not reach ${FIXED_RATE} req/s: its requests took longer than ${OVERHEAD_CONNECTIONS} connections allow`)
    ]
  }
}

function slow (s: ScenarioSummary): Table {
  const direct = find([s], s.id, 'direct-slow')
  const ours = find([s], s.id, 'ours-slow')
  const minimal = find([s], s.id, 'minimal-slow')
  return {
    title: s.title,
    head: ['target', 'req/s', '÷ ideal', '× direct', 'p50 ms', 'p99 ms', 'CPU µs/req', 'core use', 'core idle', 'peak RSS MB', 'upstream conns', 'statuses', 'errors'],
    rows: s.targets.map((t) => [
      t.label, num(t.rps), ratio(t.rps, SLOW_IDEAL_RPS), ratio(t.rps, direct.rps), num(t.p50, 1), num(t.p99, 1),
      num(t.cpuUsPerRequest), num(t.coreUse, 2), percent(t.coreIdle), num(t.peakRssMb, 1), num(t.upstreamPeakConnections), statusMix(t), failures(t)
    ]),
    notes: [
      `hottask-proxy ÷ minimal (same node flags): ${ratio(ours.rps, minimal.rps)} by req/s (target ≥ 0.95), ${ratio(ours.p99, minimal.p99)} by p99 (target ≤ 1.15), ` +
      `${signed(ours.peakRssMb - minimal.peakRssMb)} MB peak RSS (target ≤ +25)`,
      `every proxy was started with UPSTREAM_MAX_CONCURRENCY=${SLOW_POOL} (the peers size their undici pool with it)`,
      'upstream conns = most connections the simulated upstream had open at once; the direct row is the most this harness reaches (load generator and upstream share a core)'
    ]
  }
}

function refusal (s: ScenarioSummary, success: TargetSummary): Table {
  return {
    title: s.title,
    head: ['target', 'req/s', '× success path', 'p50 ms', 'p99 ms', 'CPU µs/req', 'core use', 'core idle', 'peak RSS MB', 'statuses', 'upstream calls'],
    rows: s.targets.map((t) => [
      `${t.label} ${t.id === 'ours-429' ? '429 flood' : '403 origin'}`, num(t.rps), ratio(t.rps, success.rps), num(t.p50, 2), num(t.p99, 2),
      num(t.cpuUsPerRequest), num(t.coreUse, 2), percent(t.coreIdle), num(t.peakRssMb, 1), statusMix(t), String(t.upstreamRequests)
    ]),
    notes: [
      `success path = hottask-proxy in scenario 1 (${num(success.rps)} req/s, ${num(success.cpuUsPerRequest)} CPU µs/req); 429: RATE_LIMIT_MAX=1 in a 1-hour window, the warm-up spends the one allowed request; ` +
      '403: Origin not in CORS_ORIGINS. Upstream calls = requests the simulated upstream received during the measured runs'
    ]
  }
}

/** Other work on the machine and kernel drops during the scenario's runs, when any. */
function noise (s: ScenarioSummary): string[] {
  const foreign = Math.max(...s.targets.map((t) => t.foreignCores.max))
  const drops = s.targets.reduce((total, t) => total + t.listenOverflows, 0)
  return [
    ...(foreign >= 0.05 ? [`noise: other processes used up to ${num(foreign, 2)} cores during these runs (${s.targets.map((t) => `${t.id} ${num(t.foreignCores.median, 2)}`).join(', ')}; medians)`] : []),
    ...(drops > 0 ? [`kernel: ${drops} SYNs dropped on full listen queues (TcpExt ListenOverflows) during these runs`] : [])
  ]
}

export function tables (summaries: ScenarioSummary[]): Table[] {
  const success = find(summaries, 'throughput', 'ours')
  const byId = (id: ScenarioId): ScenarioSummary => summaries.find((s) => s.id === id)!
  const withNoise = (table: Table, id: ScenarioId): Table => ({ ...table, notes: [...table.notes, ...noise(byId(id))] })
  return [
    withNoise(throughput(byId('throughput')), 'throughput'),
    withNoise(overhead(byId('overhead')), 'overhead'),
    withNoise(slow(byId('slow')), 'slow'),
    withNoise(refusal(byId('refusal'), success), 'refusal')
  ]
}

function text (table: Table): string {
  const all = [table.head, ...table.rows]
  const widths = table.head.map((_, i) => Math.max(...all.map((row) => row[i]!.length)))
  const line = (row: Row): string => row.map((cell, i) => i === 0 || i >= row.length - 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join('  ').trimEnd()
  return [table.title, line(table.head), ...table.rows.map(line), ...table.notes.map((n) => `  ${n}`)].join('\n')
}

function markdown (table: Table): string {
  const line = (row: Row): string => `| ${row.join(' | ')} |`
  const rule = `|${table.head.map((_, i) => i === 0 ? ' --- ' : ' ---: ').join('|')}|`
  return [`**${table.title}**`, '', line(table.head), rule, ...table.rows.map(line), '', ...table.notes.map((n) => `- ${n}`)].join('\n')
}

export function textReport (machine: Machine, settings: string, summaries: ScenarioSummary[], goals: Verdict[]): string {
  const width = Math.max(...goals.map((g) => g.goal.length))
  return [
    `machine: ${machineLine(machine)}`,
    `settings: ${settings}`,
    '',
    ...tables(summaries).flatMap((t) => [text(t), '']),
    'Targets of issues 6 and 17',
    ...goals.map((g) => `  ${STATE[g.state]}  ${g.goal.padEnd(width)}  ${g.measured}`),
    '  (unsure: a premise of the goal did not hold in this run, e.g. a busy machine; see the figures above)'
  ].join('\n')
}

export function markdownReport (machine: Machine, settings: string, summaries: ScenarioSummary[]): string {
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machineLine(machine)}. ${settings}.`,
    '',
    ...tables(summaries).flatMap((t) => [markdown(t), ''])
  ].join('\n').trimEnd()
}
