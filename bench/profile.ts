// `npm run bench:profile`: where a server's CPU goes on the success path. Starts one
// fast simulated upstream and one server (ours by default; PROFILE_TARGET=minimal or
// http-proxy for a peer) with `--cpu-prof`, pinned like the benchmark, loads it with 50
// connections, stops it so the profile is written, and prints its self time grouped by
// package or source file and by function. The .cpuprofile stays in bench/results/ for a
// flame graph (Chrome DevTools → Performance, or speedscope).
//
// Env: PROFILE_TARGET (ours), DURATION seconds of load (10), WARMUP seconds (2),
// PROFILE_TOP functions listed (25), PROFILE_ENV extra server variables as JSON, PROFILE_HEADERS extra request headers as JSON,
// PROFILE_CONNECTIONS (50), PROFILE_DELAY_MS the upstream's delay (0), PROFILE_ORIGIN
// the Origin sent (the allowed one), PROFILE_SCRIPT another checkout's server script,
// PROFILE_NODE_ARGS ours' node flags instead of production's (space-separated; '' for none),
// PROFILE_VISITOR=same|fresh the benchmark's visitor tokens (one token, or a new one per request). E.g. the 429 path:
// PROFILE_ENV='{"RATE_LIMIT_MAX":"1","RATE_LIMIT_WINDOW_MS":"3600000"}'.
// PROFILE_ALLOC=1 (`npm run bench:alloc`): the slow shape's allocation profile instead,
// ours against the minimal peer in one run (bench/allocation.ts has its settings).
import { mkdirSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runLoad } from './load.ts'
import { positive } from './options.ts'
import { canPin, freePort, pinSelf, start } from './processes.ts'
import { cpus } from 'node:os'
import { summariseProfile } from './profile-report.ts'
import { allocationProfile } from './allocation.ts'
import { ALLOWED_ORIGIN, BODY, oursEnv, peerEnv, PRODUCTION_NODE_ARGS, SERVERS, SIM_KEY, startSimulator, visitorIdentity } from './targets.ts'
import type { ServerKind } from './targets.ts'
import { THROUGHPUT_CONNECTIONS } from './scenarios.ts'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))

const number = (name: string, fallback: number): number => positive(process.env, name, fallback, false)

async function main (): Promise<void> {
  if (process.env.PROFILE_ALLOC === '1') return await allocationProfile((text) => process.stdout.write(text))
  const kind = (process.env.PROFILE_TARGET ?? 'ours') as ServerKind
  if (!(kind in SERVERS)) throw new Error(`PROFILE_TARGET: one of ${Object.keys(SERVERS).join(', ')}`)
  const durationS = number('DURATION', 10)
  const warmupS = number('WARMUP', 2)
  const extra = JSON.parse(process.env.PROFILE_ENV ?? '{}') as Record<string, string>
  const pinned = canPin(cpus().length) && pinSelf(0)
  const stamp = new Date().toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')
  const dir = `${RESULTS}profile-${kind}-${stamp}`
  mkdirSync(dir, { recursive: true })

  const sim = await startSimulator({ cwd: dir, delayMs: Number(process.env.PROFILE_DELAY_MS ?? 0), cpu: pinned ? 0 : undefined })
  const port = await freePort()
  const visitorMode = process.env.PROFILE_VISITOR
  const visitor = visitorMode === undefined ? undefined : await visitorIdentity()
  const base = { HOST: '127.0.0.1', PORT: String(port), HOTTASK_BASE_URL: sim.url, HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true', HOTTASK_API_KEY: SIM_KEY, ...visitor?.env, ...extra }
  const profiling = `--cpu-prof --cpu-prof-dir=${dir}`
  const env = kind === 'ours' ? await oursEnv(base, profiling) : { ...peerEnv(base), NODE_OPTIONS: profiling }
  const flags = process.env.PROFILE_NODE_ARGS?.split(' ').filter(Boolean) ?? PRODUCTION_NODE_ARGS
  const nodeArgs = kind === 'ours' ? flags : []
  // PROFILE_SCRIPT: the same kind of server from another checkout, to compare versions.
  const script = process.env.PROFILE_SCRIPT ?? SERVERS[kind]
  const server = await start({ name: kind, script, nodeArgs, cwd: dir, port, cpu: pinned ? 1 : undefined, env })
  const origin = process.env.PROFILE_ORIGIN ?? ALLOWED_ORIGIN
  const connections = number('PROFILE_CONNECTIONS', THROUGHPUT_CONNECTIONS)
  const headers: Record<string, string> = { 'content-type': 'application/json', origin, ...JSON.parse(process.env.PROFILE_HEADERS ?? '{}') as Record<string, string> }
  if (visitorMode === 'same' && visitor !== undefined) headers.authorization = visitor.authorization
  const rotatingHeader = visitorMode === 'fresh' && visitor !== undefined ? { name: 'authorization', values: visitor.fresh } : undefined
  const load = { url: `${server.url}/sessions`, headers, body: BODY, connections, rampS: 0, rotatingHeader }
  let requests = 0
  try {
    const warm = await runLoad({ ...load, durationS: warmupS })
    const result = await runLoad({ ...load, durationS })
    requests = warm.responses + result.responses
    process.stdout.write(`${kind}: ${result.rps.toFixed(0)} req/s under the profiler, statuses ${JSON.stringify(result.statuses)}${pinned ? ' (server pinned to core 1)' : ''}\n`)
  } finally {
    await server.stop()
    await sim.stop()
  }
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no profile written in ${dir}:\n${server.stderr()}`)
  process.stdout.write(`${summariseProfile(`${dir}/${file}`, requests, number('PROFILE_TOP', 25))}\nprofile: ${dir}/${file}\n`)
}

main().then(() => process.exit(0), (error: unknown) => {
  process.stderr.write(`profile failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
