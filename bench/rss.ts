// Peak resident memory of a child over one measured run. Linux keeps the peak as VmHWM
// in /proc/<pid>/status; writing 5 to /proc/<pid>/clear_refs resets it to the current
// RSS, so each run's peak is its own (not the warm-up's). Where the reset is refused,
// VmRSS is polled instead, which can miss a short spike between two polls.
import { readFileSync, writeFileSync } from 'node:fs'

const POLL_MS = 100

export interface PeakRss {
  mb: number
  source: 'VmHWM' | 'VmRSS polling'
}

function statusKb (pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}

function resetPeak (pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/** Starts watching; the returned function stops and gives the peak since the start. */
export function watchRss (pid: number): () => PeakRss | undefined {
  const reset = resetPeak(pid)
  let polled = statusKb(pid, 'VmRSS') ?? 0
  const timer = setInterval(() => { polled = Math.max(polled, statusKb(pid, 'VmRSS') ?? 0) }, POLL_MS)
  return () => {
    clearInterval(timer)
    const hwm = reset ? statusKb(pid, 'VmHWM') : undefined
    if (hwm !== undefined) return { mb: hwm / 1024, source: 'VmHWM' }
    polled = Math.max(polled, statusKb(pid, 'VmRSS') ?? 0)
    return polled > 0 ? { mb: polled / 1024, source: 'VmRSS polling' } : undefined
  }
}
