// The machine and the code the figures came from, printed with every result: figures
// mean little without the cores, the CPU, the Node version and the pinning.
import { spawnSync } from 'node:child_process'
import { cpus, loadavg, release, totalmem } from 'node:os'
import type { Pinning } from './fleet.ts'

export interface Machine {
  cores: number
  cpu: string
  memoryGb: number
  kernel: string
  node: string
  pinning: string
  /** 1-minute load average before the run: other work on the machine skews figures. */
  loadBefore: number
  commit: string
  /** `git status --porcelain` of src/: uncommitted changes were measured. */
  srcChanges: string[]
}

function git (args: string[]): string {
  const result = spawnSync('git', args, { encoding: 'utf8', cwd: new URL('..', import.meta.url) })
  return result.status === 0 ? result.stdout.trim() : ''
}

export function describePinning (pinning: Pinning | undefined): string {
  return pinning === undefined
    ? 'no pinning (taskset missing or fewer than 2 cores)'
    : `servers under test pinned to core ${pinning.servers} with taskset; load generator and simulated upstreams on core ${pinning.load}`
}

export function machine (pinning: Pinning | undefined): Machine {
  return {
    // Not availableParallelism(): that counts the cores this (pinned) process may use.
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: `${process.platform} ${release()}`,
    node: process.version,
    pinning: describePinning(pinning),
    loadBefore: loadavg()[0]!,
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    srcChanges: git(['status', '--porcelain', '--', 'src']).split('\n').filter((line) => line !== '')
  }
}

export function machineLine (m: Machine): string {
  const code = m.srcChanges.length === 0 ? m.commit : `${m.commit} + ${m.srcChanges.length} uncommitted change(s) in src/`
  return `${m.cores} cores (${m.cpu}), ${m.memoryGb} GB, ${m.kernel}, Node ${m.node}; ${m.pinning}; code ${code}; load average before ${m.loadBefore.toFixed(2)}`
}
