// What else happened on the machine during a run, so a noisy figure can be told from a
// slow one: CPU used by processes other than the benchmark's (and time stolen by the
// hypervisor), and connections the kernel dropped because a listen queue was full.
// Linux only; elsewhere both read as NaN.
import { readFileSync } from 'node:fs'

export interface Noise {
  /** Cores' worth of CPU used outside the benchmark's processes, e.g. 0.4 = 40 % of a core. */
  foreignCores: number
  /** Idle share of the server's core (when pinned): above ~0.1 the server was not what limited the rate. */
  serverCoreIdle: number
  /** TcpExt ListenOverflows: SYNs dropped because an accept queue was full (machine-wide). */
  listenOverflows: number
}

const TICKS_PER_SECOND = 100

function read (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/** Ticks of one line of /proc/stat ('cpu' for all CPUs, 'cpu1' for one): busy (steal included) and idle. */
function ticks (line: string): { busy: number, idle: number } {
  const fields = read('/proc/stat')?.split('\n').find((l) => l.startsWith(`${line} `))?.trim().split(/\s+/).slice(1).map(Number)
  if (fields === undefined || fields.length < 8) return { busy: NaN, idle: NaN }
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as [number, number, number, number, number, number, number, number]
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait }
}

/** User plus system ticks of one process, all its threads; 0 once it is gone. */
function processTicks (pid: number): number {
  const text = read(`/proc/${pid}/stat`)
  if (text === undefined) return 0
  // The command name may hold spaces and parentheses: count fields after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** CPU seconds one process has used so far (user + system, all threads). */
export function cpuSeconds (pid: number): number {
  return processTicks(pid) / TICKS_PER_SECOND
}

function listenOverflows (): number {
  const lines = read('/proc/net/netstat')?.split('\n').filter((line) => line.startsWith('TcpExt:')) ?? []
  if (lines.length < 2) return NaN
  const names = lines[0]!.split(' ')
  const values = lines[1]!.split(' ')
  const index = names.indexOf('ListenOverflows')
  return index < 0 ? NaN : Number(values[index])
}

/** Starts counting; the returned function gives the noise since the start. */
export function watchNoise (pids: () => number[], serverCpu: number | undefined): () => Noise {
  const ours = (): number => [process.pid, ...pids()].reduce((total, pid) => total + processTicks(pid), 0)
  const core = `cpu${serverCpu ?? ''}`
  const started = performance.now()
  const all = ticks('cpu')
  const server = ticks(core)
  const own = ours()
  const overflows = listenOverflows()
  return () => {
    const seconds = (performance.now() - started) / 1000
    const foreign = (ticks('cpu').busy - all.busy) - (ours() - own)
    const idle = serverCpu === undefined ? NaN : (ticks(core).idle - server.idle) / TICKS_PER_SECOND / seconds
    return {
      foreignCores: Math.max(0, foreign / TICKS_PER_SECOND / seconds),
      serverCoreIdle: Math.min(1, Math.max(0, idle)),
      listenOverflows: listenOverflows() - overflows
    }
  }
}
