// The streaming scenario (issue 14): STREAMS concurrent streamed replies of 20 chunks
// 50 ms apart, sent again as soon as each ends, against the simulated upstream itself,
// the minimal relay (fastify + undici, `reply.send(upstreamBody)`) and our proxy, each
// server run with the production node flags. Measured: chunks per second delivered to
// the clients (server-sent events counted, so TCP coalescing does not matter), the time
// to first byte (p50/p99, and what a proxy adds to the upstream's own) and peak RSS.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from 'undici'
import { freePort, start } from './processes.ts'
import type { Child } from './processes.ts'
import { watchRss } from './rss.ts'
import { max, median, percentile } from './stats.ts'
import { oursEnv, peerEnv, PRODUCTION_NODE_ARGS, SERVERS, SIM_KEY, SIMULATOR } from './targets.ts'

export const STREAMS = 500
export const CHUNKS = 20
export const GAP_MS = 50
const CONTENT = `sim:chunks-${CHUNKS}-${GAP_MS}`
const EVENT = /^data: /gm

export type StreamTargetId = 'direct' | 'minimal' | 'ours'
export const STREAM_TARGETS: StreamTargetId[] = ['direct', 'minimal', 'ours']
const LABELS: Record<StreamTargetId, string> = { direct: 'direct (simulator)', minimal: 'minimal relay (reply.send)', ours: 'hottask-proxy' }

interface StreamTarget { id: StreamTargetId, origin: string, path: string, headers: Record<string, string>, body: string, server?: Child }

export interface StreamRun {
  target: StreamTargetId
  round: number
  chunksPerS: number
  streams: number
  errors: number
  ttfbMs: { p50: number, p99: number }
  peakRssMb: number | undefined
}

export interface StreamSummary {
  target: StreamTargetId
  label: string
  chunksPerS: number
  ttfbP50Ms: number
  ttfbP99Ms: number
  peakRssMb: number
  errors: number
}

/** Streams `target` with STREAMS concurrent clients for `durationS` seconds. */
async function measureStreams (target: StreamTarget, durationS: number, round: number): Promise<StreamRun> {
  const pool = new Pool(target.origin, { connections: STREAMS, pipelining: 1 })
  const stopRss = target.server === undefined ? undefined : watchRss(target.server.pid)
  const ttfb: number[] = []
  let events = 0
  let streams = 0
  let errors = 0
  const started = performance.now()
  const endAt = started + durationS * 1000
  const client = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const sent = performance.now()
      try {
        const res = await pool.request({ path: target.path, method: 'POST', headers: target.headers, body: target.body })
        let first = true
        for await (const chunk of res.body) {
          if (first) {
            ttfb.push(performance.now() - sent)
            first = false
          }
          events += (String(chunk).match(EVENT) ?? []).length
        }
        if (res.statusCode === 200) streams++
        else errors++
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: STREAMS }, client))
  const elapsedS = (performance.now() - started) / 1000
  await pool.close()
  const sorted = Float64Array.from(ttfb).sort()
  return {
    target: target.id,
    round,
    chunksPerS: events / elapsedS,
    streams,
    errors,
    ttfbMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) },
    peakRssMb: stopRss?.()?.mb
  }
}

/** Starts the processes, runs `rounds` interleaved rounds, stops everything. */
export async function runStreaming (options: { rounds: number, durationS: number, progress: (message: string) => void }): Promise<{ runs: StreamRun[], summaries: StreamSummary[] }> {
  const cwd = mkdtempSync(join(tmpdir(), 'hottask-bench-stream-'))
  const children: Child[] = []
  try {
    const simPort = await freePort()
    const simulator = await start({ name: 'simulator-stream', script: SIMULATOR, cwd, port: simPort, env: { SIM_PORT: String(simPort), SIM_HOST: '127.0.0.1', SIM_API_KEY: SIM_KEY } })
    children.push(simulator)
    const base = { HOST: '127.0.0.1', HOTTASK_BASE_URL: simulator.url, HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true', HOTTASK_API_KEY: SIM_KEY, UPSTREAM_MAX_CONCURRENCY: String(STREAMS) }
    const minimalPort = await freePort()
    const minimal = await start({ name: 'minimal-stream', script: SERVERS.minimal, nodeArgs: PRODUCTION_NODE_ARGS, cwd, port: minimalPort, env: peerEnv({ ...base, PORT: String(minimalPort) }) })
    children.push(minimal)
    const oursPort = await freePort()
    const ours = await start({
      name: 'ours-stream',
      script: SERVERS.ours,
      nodeArgs: PRODUCTION_NODE_ARGS,
      cwd,
      port: oursPort,
      env: await oursEnv({ ...base, PORT: String(oursPort), MESSAGE_MAX_CONCURRENCY: String(STREAMS), MESSAGE_RATE_LIMIT_MAX: '100000000', SESSION_TOKEN_SECRET: 'bench-session-token-secret-0123456789abcdef' })
    })
    children.push(ours)
    // One session for every stream: the per-session limit is set out of the way.
    const created = await fetch(`${ours.url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serialNumber: 'abc' }) })
    const { sessionToken } = await created.json() as { sessionToken: string }
    const sessionId = '100001'
    const json = { 'content-type': 'application/json' }
    const message = JSON.stringify({ content: CONTENT, stream: true })
    const targets: Record<StreamTargetId, StreamTarget> = {
      direct: { id: 'direct', origin: simulator.url, path: '/chat/Chat/ClientAsk', headers: { ...json, authorization: SIM_KEY }, body: JSON.stringify({ sessionID: Number(sessionId), content: CONTENT, stream: true }) },
      minimal: { id: 'minimal', origin: minimal.url, path: `/sessions/${sessionId}/messages`, headers: json, body: message, server: minimal },
      ours: { id: 'ours', origin: ours.url, path: `/sessions/${sessionId}/messages`, headers: { ...json, 'session-token': sessionToken }, body: message, server: ours }
    }
    for (const id of STREAM_TARGETS) await measureStreams(targets[id], 1, 0) // warm-up
    const runs: StreamRun[] = []
    for (let round = 1; round <= options.rounds; round++) {
      for (const id of rotate(STREAM_TARGETS, round - 1)) {
        const run = await measureStreams(targets[id], options.durationS, round)
        options.progress(`round ${round}/${options.rounds} streaming ${id}: ${run.chunksPerS.toFixed(0)} chunks/s, TTFB p99 ${run.ttfbMs.p99.toFixed(2)} ms, ${run.errors} errors`)
        runs.push(run)
      }
    }
    const summaries = STREAM_TARGETS.map((id): StreamSummary => {
      const mine = runs.filter((run) => run.target === id)
      return {
        target: id,
        label: LABELS[id],
        chunksPerS: median(mine.map((run) => run.chunksPerS)),
        ttfbP50Ms: median(mine.map((run) => run.ttfbMs.p50)),
        ttfbP99Ms: median(mine.map((run) => run.ttfbMs.p99)),
        peakRssMb: max(mine.map((run) => run.peakRssMb ?? NaN)),
        errors: mine.reduce((total, run) => total + run.errors, 0)
      }
    })
    return { runs, summaries }
  } finally {
    await Promise.allSettled(children.map((child) => child.stop()))
    rmSync(cwd, { recursive: true, force: true })
  }
}

function rotate<T> (items: T[], by: number): T[] {
  const k = by % items.length
  return [...items.slice(k), ...items.slice(0, k)]
}

/** The table and the two targets, as text. */
export function streamingReport (summaries: StreamSummary[]): string {
  const of = (id: StreamTargetId): StreamSummary => summaries.find((s) => s.target === id)!
  const ours = of('ours')
  const minimal = of('minimal')
  const direct = of('direct')
  const rows = summaries.map((s) => `| ${s.label} | ${s.chunksPerS.toFixed(0)} | ${s.ttfbP50Ms.toFixed(2)} | ${s.ttfbP99Ms.toFixed(2)} | ${Number.isFinite(s.peakRssMb) ? s.peakRssMb.toFixed(0) : '–'} | ${s.errors} |`)
  const ratio = ours.chunksPerS / minimal.chunksPerS
  const added = ours.ttfbP99Ms - direct.ttfbP99Ms
  return [
    `5. Streaming: ${STREAMS} concurrent streamed replies of ${CHUNKS} chunks ${GAP_MS} ms apart`,
    '',
    '| target | chunks/s | TTFB p50 ms | TTFB p99 ms | peak RSS MB | errors |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `chunks/s: hottask-proxy ÷ minimal relay = ${ratio.toFixed(2)} (target ≥ 0.90: ${ratio >= 0.9 ? 'met' : 'missed'})`,
    `TTFB p99 added to the upstream's own: hottask-proxy ${added.toFixed(2)} ms (target ≤ 5 ms: ${added <= 5 ? 'met' : 'missed'}), minimal relay ${(minimal.ttfbP99Ms - direct.ttfbP99Ms).toFixed(2)} ms`
  ].join('\n')
}
