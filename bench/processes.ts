// Child processes of the benchmark: every server under test and every simulated upstream
// runs as its own process, optionally pinned to one core with `taskset`. Every child is
// tracked here so that none outlives the benchmark: stopAll() on the normal path,
// SIGKILL from the 'exit' hook on any other.
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { connect, createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const START_TIMEOUT_MS = 20000
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
  env: Record<string, string>
  /** The port the child was told to listen on; start() waits until it accepts. */
  port: number
  /** A core to pin the child to, or undefined for no pinning. */
  cpu?: number
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

/** A port that was free a moment ago on loopback. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function accepts (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { socket.destroy(); resolve(false) })
  })
}

export async function start (spec: ChildSpec): Promise<Child> {
  const command = spec.cpu === undefined
    ? [process.execPath, spec.script]
    : ['taskset', '-c', String(spec.cpu), process.execPath, spec.script]
  // stdout is /dev/null: the servers' logs are written for real but never kept.
  const child = spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH ?? '', ...spec.env },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  children.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-KEPT_STDERR) })
  let exited = child.exitCode !== null
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
