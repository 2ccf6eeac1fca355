// `npm run bench`: issue 6's benchmark. Starts the simulated upstreams, two reference
// proxies and our proxy as real processes, warms each up, then runs the four scenarios
// (then the streaming scenario of issue 14, bench/streaming.ts, with processes of its own)
// in interleaved rounds (the target order rotates every round) and prints medians with
// ratios to the baselines, the targets, and a Markdown block for docs/performance.md.
// The JSON with every run goes to bench/results/<timestamp>.json.
//
// Env: ROUNDS (3), DURATION seconds per run (5), WARMUP seconds (2), BENCH_QUICK=1
// (1 round × 3 s, 1 s warm-up), BENCH_FRESH=0 (one process per server for every round,
// instead of new processes each round), BENCH_CPU_PROF=1 (our proxy writes .cpuprofile files
// to bench/results/ on exit; profiling slows it, so those figures are not comparable),
// BENCH_LOGS=1 (our proxy logs to bench/results/logs-<time>/ instead of /dev/null, to
// see why a request failed; writing a file costs more than /dev/null).
import { mkdirSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Fleet } from './fleet.ts'
import type { Pinning } from './fleet.ts'
import { describePinning, machine } from './machine.ts'
import { benchOptions, OptionsError } from './options.ts'
import type { BenchOptions } from './options.ts'
import { canPin, pinSelf } from './processes.ts'
import { markdownReport, textReport } from './report.ts'
import { measure, RAMP_S, SCENARIOS, SLOW_CONNECTIONS, SLOW_RAMP_S } from './scenarios.ts'
import type { RunRecord } from './scenarios.ts'
import { summarise } from './summary.ts'
import { verdicts } from './verdicts.ts'
import { runStreaming, streamingReport } from './streaming.ts'

/** Pause between runs: sockets of the last run close, in-flight upstream calls finish. */
const SETTLE_MS = 300
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))

const progress = (message: string): void => { process.stderr.write(`${message}\n`) }

function rotate<T> (items: T[], by: number): T[] {
  const k = by % items.length
  return [...items.slice(k), ...items.slice(0, k)]
}

function runLine (r: RunRecord): string {
  const extra = r.unexpected > 0 ? `, ${r.unexpected} unexpected statuses` : ''
  return `${r.rps.toFixed(0)} req/s, p99 ${r.latencyMs.p99.toFixed(2)} ms, ${r.errors} errors${extra}`
}

/** One short run per target, recorded as round 0 (which no summary counts). */
async function warmUp (fleet: Fleet, options: BenchOptions, context: { pids: () => number[], serverCpu: number | undefined }): Promise<RunRecord[]> {
  const records: RunRecord[] = []
  const warmed = new Set<string>()
  for (const scenario of SCENARIOS) {
    for (const id of scenario.targets.filter((t) => !warmed.has(t))) {
      warmed.add(id)
      progress(`warm-up   ${scenario.id} ${id}`)
      records.push(await measure(scenario, fleet.target(id), { durationS: options.warmupS, warmUp: true, round: 0, ...context }))
      await sleep(SETTLE_MS)
    }
  }
  return records
}

async function runAll (fleet: Fleet, options: BenchOptions, serverCpu: number | undefined): Promise<RunRecord[]> {
  const records: RunRecord[] = []
  const pids = (): number[] => fleet.pids()
  for (let round = 1; round <= options.rounds; round++) {
    const restart = round > 1 && options.fresh
    if (restart) {
      progress(`round ${round}/${options.rounds}: starting every server afresh`)
      await fleet.restartServers()
    }
    if (round === 1 || restart) records.push(...await warmUp(fleet, options, { pids, serverCpu }))
    for (const scenario of SCENARIOS) {
      for (const id of rotate(scenario.targets, round - 1)) {
        const record = await measure(scenario, fleet.target(id), { durationS: options.durationS, warmUp: false, round, pids, serverCpu })
        progress(`round ${round}/${options.rounds} ${scenario.id} ${id}: ${runLine(record)}`)
        records.push(record)
        await sleep(SETTLE_MS)
      }
    }
  }
  return records
}

async function main (): Promise<void> {
  let options: BenchOptions
  try {
    options = benchOptions(process.env)
  } catch (error) {
    if (!(error instanceof OptionsError)) throw error
    progress(`bench: ${error.message}`)
    process.exit(2)
  }
  const before = machine(undefined)
  const pinning: Pinning | undefined = canPin(before.cores) && pinSelf(0) ? { load: 0, servers: 1 } : undefined
  mkdirSync(RESULTS, { recursive: true })
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')
  const logDir = process.env.BENCH_LOGS === '1' ? `${RESULTS}logs-${stamp}` : undefined
  if (logDir !== undefined) mkdirSync(logDir)
  const fleet = new Fleet({
    pinning,
    progress,
    oursNodeOptions: process.env.BENCH_CPU_PROF === '1' ? `--cpu-prof --cpu-prof-dir=${RESULTS}profiles-${stamp}` : undefined,
    logDir
  })
  const stop = (signal: string): void => {
    progress(`bench: ${signal}, stopping the servers`)
    fleet.stop().finally(() => process.exit(130))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)

  const host = { ...before, pinning: describePinning(pinning) }
  try {
    progress('starting simulated upstreams and servers…')
    await fleet.start()
    const records = await runAll(fleet, options, pinning?.servers)
    await fleet.stop()
    progress('streaming scenario: starting its own upstream and servers…')
    const streaming = await runStreaming({ rounds: options.rounds, durationS: options.durationS, progress })
    const rss = [...new Set(records.map((r) => r.peakRss?.source).filter((source) => source !== undefined))].join(' or ')
    const settings = `${options.rounds} round(s); each run counts ${options.durationS} s after a ramp of ${RAMP_S} s ` +
      `(${SLOW_RAMP_S} s with ${SLOW_CONNECTIONS} connections); ${options.fresh && options.rounds > 1 ? 'new server processes every round, ' : ''}${options.warmupS} s of warm-up per process; ` +
      `medians of rounds (peak RSS and upstream connections: maximum); latencies from every counted response; peak RSS from ${rss}, reset before each run`
    const summaries = summarise(SCENARIOS, records, (id) => fleet.target(id))
    const goals = verdicts(summaries)
    const file = `${RESULTS}${stamp}.json`
    writeFileSync(file, JSON.stringify({ machine: host, options, summaries, goals, runs: records, streaming }, null, 2) + '\n')
    process.stdout.write(`\n${textReport(host, settings, summaries, goals)}\n\n${streamingReport(streaming.summaries)}\n\nresults: ${file}\n`)
    process.stdout.write(`\nMarkdown for docs/performance.md:\n\n${markdownReport(host, settings, summaries)}\n`)
  } finally {
    await fleet.stop()
  }
}

// Exit explicitly: a child or socket left behind must not keep the benchmark alive
// (the 'exit' hook in processes.ts kills any child still running).
main().then(() => process.exit(0), (error: unknown) => {
  progress(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}`)
  process.exit(1)
})
