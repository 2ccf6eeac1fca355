// Debian's Prometheus for tests: promtool to check and unit-test the rule files, and a real
// prometheus server that scrapes a test's proxy and evaluates the real rule file. Each
// server gets a free loopback port and a private data directory, and is killed when the
// test ends (or, through a parent-death signal, when the test process dies).
//
// Needs the Debian package prometheus (scripts/ci/install-system-packages.sh), or
// PROMETHEUS_PATH / PROMTOOL_PATH pointing at the binaries. If it is missing the test fails.
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { request } from 'undici'
import { freePort } from './ports.ts'
import { findExecutable, requireExecutable } from './system-binaries.ts'
import { until } from './waiting.ts'

const HOST = '127.0.0.1'

export interface PromtoolRun {
  code: number
  output: string
}

/** Runs promtool with these arguments in `cwd`; never rejects on a non-zero exit. */
export function promtool (args: string[], cwd: string): Promise<PromtoolRun> {
  const bin = requireExecutable(process.env.PROMTOOL_PATH ?? 'promtool', 'promtool (Debian package prometheus)', 'PROMTOOL_PATH')
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd }, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== 'number') reject(error)
      else resolve({ code: error === null ? 0 : Number(error.code), output: stdout + stderr })
    })
  })
}

/** One sample of an instant query: its labels and value (`NaN` stays a string, as the API sends it). */
export interface QuerySample {
  metric: Record<string, string>
  value: [number, string]
}

export interface QueryAnswer {
  status: 'success' | 'error'
  data?: { resultType: string, result: unknown[] }
  errorType?: string
  error?: string
}

export interface PrometheusServer {
  url: string
  /** GET /api/v1/<path> with these parameters, as JSON. */
  api: <T = unknown>(path: string, params?: Record<string, string>) => Promise<T>
  /** An instant query through /api/v1/query, answered as Prometheus answered it (errors too). */
  query: (expr: string) => Promise<QueryAnswer>
  output: () => string
  stop: () => Promise<void>
}

/** Starts prometheus with `config` (YAML text) on a free loopback port; stopped on `t`'s teardown. */
export async function startPrometheus (t: Test, config: string): Promise<PrometheusServer> {
  const bin = requireExecutable(process.env.PROMETHEUS_PATH ?? 'prometheus', 'prometheus (Debian package prometheus)', 'PROMETHEUS_PATH')
  const dir = mkdtempSync(join(tmpdir(), 'test-prometheus-'))
  writeFileSync(join(dir, 'prometheus.yml'), config)
  const port = await freePort()
  const args = [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=${HOST}:${port}`,
    '--log.level=warn'
  ]
  // setpriv makes the kernel kill prometheus when this process dies, even by SIGKILL.
  const setpriv = findExecutable('setpriv')
  const child = setpriv === undefined
    ? spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  let exited = false
  const closed = new Promise<void>((resolve) => child.once('close', () => {
    exited = true
    rmSync(dir, { recursive: true, force: true })
    resolve()
  }))
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGKILL')
    await closed
  }
  t.teardown(stop)

  const url = `http://${HOST}:${port}`
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const res = await request(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`)
    return await res.body.json() as T
  }
  await until(async () => {
    if (exited) throw new Error(`prometheus exited before it was ready:\n${out}`)
    try {
      const res = await request(`${url}/-/ready`)
      await res.body.dump()
      return res.statusCode === 200
    } catch {
      return false
    }
  }, 'prometheus is ready', 30000)
  return { url, api, query: (expr) => api<QueryAnswer>('query', { query: expr }), output: () => out, stop }
}
