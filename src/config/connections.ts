// How many client connections the process may hold: each is a file descriptor, and a
// process out of descriptors cannot open an upstream socket, a key file or a Redis
// connection. The default is what the open-files limit leaves once every other
// descriptor the service needs has its place.
import { readFileSync } from 'node:fs'
import type { Parsed } from './lists.ts'

/** Descriptors kept beyond the upstream sockets: metrics listener, Redis, key files, stdio, the runtime's own. */
export const DESCRIPTOR_HEADROOM = 64
/** Fewer client connections than this is no service. */
export const MIN_CONNECTIONS = 16
/** Where the open-files limit cannot be read (not Linux). */
export const DEFAULT_MAX_CONNECTIONS = 10_000

/** The soft open-files limit from the text of /proc/self/limits; undefined when absent or unlimited. */
export function openFilesLimitOf (limits: string): number | undefined {
  const match = /^Max open files\s+(\d+)\s/m.exec(limits)
  return match === null ? undefined : Number(match[1])
}

/** This process's soft open-files limit (`ulimit -n`), when the system tells it. */
export function readOpenFilesLimit (path = '/proc/self/limits'): number | undefined {
  try {
    return openFilesLimitOf(readFileSync(path, 'utf8'))
  } catch {
    return undefined
  }
}

/** MAX_CONNECTIONS as asked (or its default), or why the limit cannot hold it. */
export function maxConnections (requested: number | undefined, openFilesLimit: number | undefined, upstreamConnections: number): Parsed<number> {
  if (openFilesLimit === undefined) return { value: requested ?? DEFAULT_MAX_CONNECTIONS }
  const room = openFilesLimit - DESCRIPTOR_HEADROOM - upstreamConnections
  const needs = `UPSTREAM_MAX_CONCURRENCY + MESSAGE_MAX_CONCURRENCY (${upstreamConnections}) upstream sockets and ${DESCRIPTOR_HEADROOM} other descriptors`
  if (requested !== undefined && requested > room) {
    return { problem: `MAX_CONNECTIONS: the open-files limit (${openFilesLimit}) leaves room for at most ${Math.max(0, room)} after ${needs}; raise the limit (ulimit -n, the container's nofile) or lower MAX_CONNECTIONS` }
  }
  if (requested === undefined && room < MIN_CONNECTIONS) {
    return { problem: `MAX_CONNECTIONS: the open-files limit (${openFilesLimit}) leaves room for fewer than ${MIN_CONNECTIONS} client connections after ${needs}; raise the limit (ulimit -n, the container's nofile) or lower UPSTREAM_MAX_CONCURRENCY and MESSAGE_MAX_CONCURRENCY` }
  }
  return { value: requested ?? room }
}
