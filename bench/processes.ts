// Child processes of the benchmark: every server under test and every simulated upstream
// runs as its own process, optionally pinned to one core with `taskset`. Every child is
// tracked here so that none outlives the benchmark: stopAll() on the normal path,
// SIGKILL from the 'exit' hook on any other.
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const START_TIMEOUT_MS = 60000
const STOP_TIMEOUT_MS = 5000
const KEPT_STDERR = 8192

export interface Child {
  name: string
  pid: number
  port: number
  url: string
  /** The last few kilobytes of its stderr, for error messages. */
  stderr: () => string
  /** False once it has exited: a server that died mid-run makes its figures void. */
  running: () => boolean
  stop: () => Promise<void>
}

export interface ChildSpec {
  name: string
  /** A script run by this same Node binary. */
  script: string
  /** Node options before the script, for flags NODE_OPTIONS does not accept. */
  nodeArgs?: string[]
  env: Record<string, string>
  cwd: string
  /** The port the child was told to listen on; start() waits until it accepts. */
  port: number
  /** A core to pin the child to, or undefined for no pinning. */
  cpu?: number
  /** A file for the child's stdout (its logs); /dev/null otherwise. */
  stdout?: string
}

const children = new Set<ChildProcess>()

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

/** True when `taskset` exists and this machine has at least `cores` cores to pin to. */
export function canPin (cores: number): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0 && cores >= 2
}

/** Pins this process (every thread: main, libuv pool, V8 helpers) to one core. */
export function pinSelf (cpu: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' }).status === 0
}

const handedOut = new Set<number>()

/** A port that was free a moment ago on loopback, never the same one twice. */
export async function freePort (): Promise<number> {
  for (;;) {
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve) => server.close(() => resolve()))
    if (!handedOut.has(port)) {
      handedOut.add(port)
      return port
    }
  }
}

function accepts (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}

export async function start (spec: ChildSpec): Promise<Child> {
  const node = [process.execPath, ...spec.nodeArgs ?? [], spec.script]
  const command = spec.cpu === undefined ? node : ['taskset', '-c', String(spec.cpu), ...node]
  // By default stdout is /dev/null: the servers' logs are written for real but never kept.
  const out = spec.stdout === undefined ? 'ignore' : openSync(spec.stdout, 'a')
  const child = spawn(command[0]!, command.slice(1), {
    cwd: spec.cwd,
    // Only what the spec says: a developer's shell variables must not change the figures.
    env: { PATH: process.env.PATH ?? '', ...spec.env },
    stdio: ['ignore', out, 'pipe']
  })
  if (typeof out === 'number') closeSync(out)
  children.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-KEPT_STDERR) })
  let exited = false
  // A spawn failure (no taskset, no binary) arrives as 'error', possibly without 'exit'.
  child.once('error', (error) => { stderr += error.message; exited = true; children.delete(child) })
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true
    children.delete(child)
    resolve()
  }))

  const deadline = Date.now() + START_TIMEOUT_MS
  while (!(await accepts(spec.port))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${spec.name} did not start (${exited ? `exit ${child.exitCode}` : 'timeout'}):\n${stderr}`)
    }
    await sleep(50)
  }

  const stop = async (): Promise<void> => {
    if (exited) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exit
    clearTimeout(timer)
  }
  return {
    name: spec.name,
    pid: child.pid!,
    port: spec.port,
    url: `http://127.0.0.1:${spec.port}`,
    stderr: () => stderr,
    running: () => !exited,
    stop
  }
}

/** Processes started at once: starting costs a core-second or more each, on a busy core. */
const START_CONCURRENCY = 2

/** Runs the tasks a few at a time; after a batch with a failure, starts no more and rejects with it. */
export async function inBatches<T> (tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: Array<PromiseSettledResult<T>> = []
  for (let i = 0; i < tasks.length; i += START_CONCURRENCY) {
    results.push(...await Promise.allSettled(tasks.slice(i, i + START_CONCURRENCY).map((task) => task())))
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value)
}
