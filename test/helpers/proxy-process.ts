// Runs src/server.ts as a real process (the same Node that runs the tests) and finds
// its port from the "Server listening" log line.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url))

export interface ProxyProcess {
  child: ChildProcess
  url: string
  output: () => string
  exited: Promise<number | null>
}

export interface RunOptions {
  /** Runs the server under this soft open-files limit (`ulimit -n`). */
  openFilesLimit?: number
}

export function runServer (env: Record<string, string>, cwd?: string, nodeArgs: string[] = [], options: RunOptions = {}): { child: ChildProcess, output: () => string, exited: Promise<number | null> } {
  const command = [process.execPath, ...nodeArgs, SERVER]
  const [file, args] = options.openFilesLimit === undefined
    ? [command[0]!, command.slice(1)]
    : ['/bin/sh', ['-c', `ulimit -n ${options.openFilesLimit} && exec "$0" "$@"`, ...command]]
  const child = spawn(file, args, {
    cwd,
    // The simulated upstream speaks plain http on loopback; metrics on a free port of their own.
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', METRICS_PORT: '0', HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

export async function startServer (env: Record<string, string>, cwd?: string, nodeArgs: string[] = [], options: RunOptions = {}): Promise<ProxyProcess> {
  const run = runServer(env, cwd, nodeArgs, options)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${run.output()}`)), 10000)
    const check = (): void => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())
      if (match !== null) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    }
    run.child.stdout?.on('data', check)
    run.exited.then(() => reject(new Error(`server exited:\n${run.output()}`)), () => {})
  })
  return { ...run, url }
}
