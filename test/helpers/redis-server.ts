// Real redis-server processes for tests. Each one gets its own loopback port and a private
// working directory, keeps nothing on disk, and is killed when the test ends (or, through
// a parent-death signal, when the test process itself dies). `stop()` and `restart()` on
// the same port let a test take Redis away from a running app and give it back.
//
// With `tls`, the server speaks only TLS (Debian's redis-server is built with it), with the
// given certificate, and its url is rediss://.
//
// Needs the Debian package redis-server (scripts/ci/install-system-packages.sh), or
// REDIS_SERVER_PATH pointing at a redis-server binary. If it is missing the test fails.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import type { Socket } from 'node:net'
import { connect as connectTls } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Redis } from 'ioredis'
import pino from 'pino'
import { createRedis } from '../../src/redis/connection.ts'
import { findExecutable, requireExecutable } from './system-binaries.ts'
import { until } from './waiting.ts'

const HOST = '127.0.0.1'
const START_TIMEOUT_MS = 10_000

export interface RedisServer {
  /** redis://127.0.0.1:<port>/0, or rediss:// with TLS */
  url: string
  port: number
  /** What the last redis-server process printed, for assertion messages. */
  output: () => string
  /** Kills the server (SIGKILL: clients see the connection drop) and waits for it to exit. */
  stop: () => Promise<void>
  /** Stops the server if it is running and starts an empty one on the same port. */
  restart: () => Promise<void>
}

interface Running {
  child: ChildProcess
  dir: string
  exited: Promise<void>
  output: () => string
}

class PortInUse extends Error {}

// Working directories are named after the test process, so ones left behind by a test
// process that was killed can be recognised and removed by a later one.
const DIR_PREFIX = `test-redis-${process.pid}-`
let swept = false

// Processes still alive if the test process exits without running its teardowns.
const live = new Map<ChildProcess, string>()
process.once('exit', () => {
  for (const [child, dir] of live) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A TLS server's certificate, its key and the CA that signed it (PEM files). */
export interface RedisTlsFiles { cert: string, key: string, ca: string }

/** Starts a redis-server on a free loopback port; stopped on `t`'s teardown if given. */
export async function startRedis (t?: Test, options: { tls?: RedisTlsFiles } = {}): Promise<RedisServer> {
  const { tls } = options
  const bin = requireExecutable(process.env.REDIS_SERVER_PATH ?? 'redis-server', 'redis-server', 'REDIS_SERVER_PATH')
  if (!swept) sweepOrphanDirs()
  let running: Running | undefined
  let port = 0
  for (let attempt = 1; running === undefined; attempt++) {
    port = await freePort()
    try {
      running = await launch(bin, port, tls)
    } catch (error) {
      // Another process took the port between the probe and redis binding it.
      if (!(error instanceof PortInUse) || attempt === 5) throw error
    }
  }

  let current: Running | undefined = running
  let last: Running = running
  const stop = async (): Promise<void> => {
    const was = current
    current = undefined
    if (was !== undefined) await kill(was)
  }
  const restart = async (): Promise<void> => {
    await stop()
    // The port was just released; something may hold it briefly (a client's ephemeral
    // port cannot, see freePort), so retry rather than fail.
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      try {
        current = last = await launch(bin, port, tls)
        return
      } catch (error) {
        if (!(error instanceof PortInUse) || Date.now() > deadline) throw error
        await sleep(100)
      }
    }
  }
  const server: RedisServer = {
    url: `${tls === undefined ? 'redis' : 'rediss'}://${HOST}:${port}/0`,
    port,
    output: () => last.output(),
    stop,
    restart
  }
  t?.teardown(stop)
  return server
}

async function launch (bin: string, port: number, tls: RedisTlsFiles | undefined): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX))
  const listen = tls === undefined
    ? ['--port', String(port)]
    : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no']
  const args = [
    ...listen,
    '--bind', HOST,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--dir', dir,
    '--logfile', ''
  ]
  // setpriv (util-linux, always on Debian) makes the kernel kill redis when this process
  // dies, even by SIGKILL (tap's timeout), so no orphan keeps running.
  const setpriv = findExecutable('setpriv')
  const child = setpriv === undefined
    ? spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  live.set(child, dir)
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  let hasExited = false
  const exited = new Promise<void>((resolve) => {
    const finish = (): void => {
      if (hasExited) return
      hasExited = true
      live.delete(child)
      rmSync(dir, { recursive: true, force: true })
      resolve()
    }
    child.once('close', finish)
    child.once('error', (error) => {
      out += `cannot run ${bin}: ${error.message}\n`
      finish()
    })
  })
  const running: Running = { child, dir, exited, output: () => out }

  // Ready when the server on the port answers and is this process: if another server
  // took the port first, ours exits with "Address already in use" while that one answers.
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const pid = await serverPid(port, tls !== undefined)
    if (hasExited) {
      const message = `redis-server on port ${port} exited before answering:\n${out}`
      throw /already in use/i.test(out) ? new PortInUse(message) : new Error(message)
    }
    if (pid === child.pid) return running
    if (Date.now() > deadline) {
      await kill(running)
      throw new Error(`redis-server on port ${port} did not answer within ${START_TIMEOUT_MS} ms:\n${out}`)
    }
    await sleep(20)
  }
}

/** Removes the working directories of test processes that no longer exist. */
function sweepOrphanDirs (): void {
  swept = true
  for (const name of readdirSync(tmpdir())) {
    const match = /^test-redis-(\d+)-/.exec(name)
    if (match === null || Number(match[1]) === process.pid || isAlive(Number(match[1]))) continue
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function kill (running: Running): Promise<void> {
  running.child.kill('SIGKILL')
  await running.exited
}

/** The process id of the Redis answering on the port (INFO server), or undefined; never rejects. */
function serverPid (port: number, tls: boolean): Promise<number | undefined> {
  return new Promise((resolve) => {
    // Only the answer matters here, not who signed the certificate: the tests check that.
    const socket: Socket = tls ? connectTls({ host: HOST, port, rejectUnauthorized: false }) : createConnection({ host: HOST, port })
    let reply = ''
    const done = (pid: number | undefined): void => {
      socket.destroy()
      resolve(pid)
    }
    socket.setTimeout(1000, () => done(undefined))
    socket.once('error', () => done(undefined))
    socket.once('end', () => done(undefined))
    socket.once(tls ? 'secureConnect' : 'connect', () => socket.write('INFO server\r\n'))
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString()
      if (reply.startsWith('-')) done(undefined) // e.g. -LOADING
      const match = /\r\nprocess_id:(\d+)\r\n/.exec(reply)
      if (match !== null) done(Number(match[1]))
    })
  })
}

/**
 * A loopback port that is free now, chosen below the kernel's ephemeral range. Outgoing
 * connections take their local port from that range, so none of them can sit on the
 * port while Redis is stopped (which would make restart() fail) and a client that keeps
 * reconnecting to a stopped Redis can never end up connected to itself (TCP self-connect).
 */
async function freePort (): Promise<number> {
  const [ephemeralLow] = ephemeralRange()
  const low = 10_000
  const high = ephemeralLow - 1
  if (high - low < 1000) return await listenProbe(0)
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1))
    try {
      return await listenProbe(port)
    } catch {
      // taken; try another
    }
  }
  throw new Error(`no free loopback port between ${low} and ${high}`)
}

function ephemeralRange (): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high)) return [low, high]
  } catch {
    // not Linux: assume the usual range
  }
  return [32768, 60999]
}

function listenProbe (port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host: HOST, port, exclusive: true }, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : port
      server.close(() => resolve(bound))
    })
  })
}

function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A client as the app makes it (no offline queue, short command timeout), ready, and closed on `t`'s teardown. */
export async function connectRedis (t: Test, url: string): Promise<Redis> {
  const redis = createRedis(url, pino({ level: 'silent' }))
  t.teardown(() => redis.disconnect())
  await until(() => redis.status === 'ready', 'redis ready')
  return redis
}
