// `PROFILE_ALLOC=1 npm run bench:profile` (or `npm run bench:alloc`): what each request
// allocates and keeps, ours against the minimal peer, at the slow shape (200 ms upstream,
// 1000 connections, upstream pool 1000) where what a request holds across the upstream
// wait survives a scavenge and is promoted. Every server runs with the same node flags
// (production's) plus V8's GC trace (gc-trace.ts), one after the other against one
// simulated upstream, pinned like the benchmark; each round starts fresh processes and
// alternates the order. Per response over the measured run (ramp included, as the trace
// cannot tell ramp from the rest): bytes allocated, promoted and surviving a scavenge, GC
// pause, CPU, and the peak RSS. Our proxy's logs share the trace file (a file, not
// /dev/null), which costs it a little CPU and nothing in the heap.
//
// Env: PROFILE_TARGETS (minimal,ours), ROUNDS (1), DURATION seconds (10), WARMUP (3),
// PROFILE_DELAY_MS (200), PROFILE_CONNECTIONS (1000), PROFILE_ENV extra variables for
// ours as JSON (switch a feature off to see its share), PROFILE_SCRIPT another checkout's
// server script, run as one more target named after its checkout's folder (ours as it was,
// for an A/B in one run; several, comma-separated, for one feature switched off in each), PROFILE_NODE_ARGS every server's node flags ('' for V8 defaults),
// PROFILE_HEAP=1 V8's sampling heap profiler in every server (heap-sampler.ts), which
// lists the functions that allocate the most per response; it slows the servers, so rates
// and CPU are then not comparable with a run without it. PROFILE_TOP functions listed (25).
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { basename, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GC_TRACE_ARGS, gcTotals } from './gc-trace.ts'
import { allocationReport, perResponse } from './allocation-report.ts'
import type { AllocationRun, AllocationTarget } from './allocation-report.ts'
import { runLoad } from './load.ts'
import { cpuSeconds } from './noise.ts'
import { positive } from './options.ts'
import { summariseHeapProfile } from './profile-report.ts'
import { canPin, freePort, pinSelf, start } from './processes.ts'
import { watchRss } from './rss.ts'
import { SLOW_CONNECTIONS, SLOW_RAMP_S } from './scenarios.ts'
import { ALLOWED_ORIGIN, BODY, oursEnv, peerEnv, PRODUCTION_NODE_ARGS, SERVERS, SIM_KEY, SLOW_POOL, SLOW_UPSTREAM_MS, startSimulator } from './targets.ts'
import type { ServerKind } from './targets.ts'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))
const HEAP_SAMPLER = fileURLToPath(new URL('./heap-sampler.ts', import.meta.url))
/** PROFILE_SCRIPT's servers by target name: `other:<checkout folder>`. */
const OTHERS = new Map<string, string>()

const fileSize = (path: string): number => statSync(path).size

interface Settings { dir: string, simUrl: string, pinned: boolean, flags: string[], durationS: number, warmupS: number, connections: number, heap: boolean }

async function one (kind: AllocationTarget, round: number, settings: Settings): Promise<AllocationRun> {
  const port = await freePort()
  const base = {
    HOST: '127.0.0.1',
    PORT: String(port),
    HOTTASK_BASE_URL: settings.simUrl,
    HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true',
    HOTTASK_API_KEY: SIM_KEY,
    UPSTREAM_MAX_CONCURRENCY: String(SLOW_POOL)
  }
  const other = kind.startsWith('other:') ? OTHERS.get(kind) : undefined
  const isOurs = kind === 'ours' || other !== undefined
  const extra = isOurs ? JSON.parse(process.env.PROFILE_ENV ?? '{}') as Record<string, string> : {}
  const env = isOurs ? await oursEnv({ ...base, ...extra }) : peerEnv(base)
  const file = `${settings.dir}/${kind.replace(':', '-')}-round${round}`
  const trace = `${file}.log`
  const heapFile = `${file}.heapprofile`
  const heapStart = `${file}.measuring`
  const sampler = settings.heap ? ['--import', HEAP_SAMPLER] : []
  const heapEnv: Record<string, string> = settings.heap ? { HEAP_SAMPLE_FILE: heapFile, HEAP_SAMPLE_START: heapStart } : {}
  const script = other ?? SERVERS[kind as ServerKind]
  const server = await start({
    name: kind, script, nodeArgs: [...settings.flags, ...GC_TRACE_ARGS, ...sampler], cwd: settings.dir, port, cpu: settings.pinned ? 1 : undefined, env: { ...env, ...heapEnv }, stdout: trace
  })
  const load = { url: `${server.url}/sessions`, headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN }, body: BODY, connections: settings.connections }
  try {
    await runLoad({ ...load, durationS: settings.warmupS, rampS: 0 })
    if (settings.heap) writeFileSync(heapStart, '')
    const from = fileSize(trace)
    const cpuBefore = cpuSeconds(server.pid)
    const stopRss = watchRss(server.pid)
    const result = await runLoad({ ...load, durationS: SLOW_RAMP_S + settings.durationS, rampS: SLOW_RAMP_S })
    const peak = stopRss()
    const cpu = cpuSeconds(server.pid) - cpuBefore
    const to = fileSize(trace)
    const responses = result.responses + result.rampResponses
    const gc = gcTotals(readFileSync(trace).subarray(from, to).toString('latin1'))
    await server.stop()
    const heap = settings.heap ? summariseHeapProfile(heapFile, responses, positive(process.env, 'PROFILE_TOP', 25, true)) : undefined
    return { kind, round, rps: result.rps, p99: result.latencyMs.p99, errors: result.errors, responses, cpuUsPerResponse: 1e6 * cpu / responses, peakRssMb: peak?.mb ?? NaN, gc, heap }
  } finally {
    await server.stop()
  }
}

export async function allocationProfile (write: (text: string) => void): Promise<void> {
  const kinds: AllocationTarget[] = (process.env.PROFILE_TARGETS ?? 'minimal,ours').split(',').map((k) => k.trim()) as ServerKind[]
  for (const kind of kinds) if (!(kind in SERVERS)) throw new Error(`PROFILE_TARGETS: each one of ${Object.keys(SERVERS).join(', ')}`)
  for (const script of process.env.PROFILE_SCRIPT?.split(',') ?? []) {
    const name = `other:${basename(dirname(dirname(script)))}` as const
    OTHERS.set(name, script)
    kinds.push(name)
  }
  const rounds = positive(process.env, 'ROUNDS', 1, true)
  const flags = process.env.PROFILE_NODE_ARGS?.split(' ').filter(Boolean) ?? PRODUCTION_NODE_ARGS
  const pinned = canPin(cpus().length) && pinSelf(0)
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')
  const dir = `${RESULTS}alloc-${stamp}`
  mkdirSync(dir, { recursive: true })
  const sim = await startSimulator({ cwd: dir, delayMs: positive(process.env, 'PROFILE_DELAY_MS', SLOW_UPSTREAM_MS, true), cpu: pinned ? 0 : undefined })
  const settings = {
    dir,
    simUrl: sim.url,
    pinned,
    flags,
    durationS: positive(process.env, 'DURATION', 10, false),
    warmupS: positive(process.env, 'WARMUP', 3, false),
    connections: positive(process.env, 'PROFILE_CONNECTIONS', SLOW_CONNECTIONS, true),
    heap: process.env.PROFILE_HEAP === '1'
  }
  const runs: AllocationRun[] = []
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? kinds : [...kinds].reverse()
      for (const kind of order) {
        const run = await one(kind, round, settings)
        const per = perResponse(run)
        write(`round ${round} ${kind}: ${run.rps.toFixed(0)} req/s, p99 ${run.p99.toFixed(0)} ms, ${per.allocated.toFixed(0)} B allocated and ${per.promoted.toFixed(0)} B promoted per response, ${run.errors} errors\n`)
        if (run.heap !== undefined) write(`${run.heap}\n\n`)
        runs.push(run)
      }
    }
  } finally {
    await sim.stop()
  }
  write(`\n${allocationReport(runs, flags)}\nGC traces: ${dir}\n`)
}
