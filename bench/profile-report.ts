// Reads a V8 .cpuprofile and tells where the time went: self time by package (or by
// file of our own code, or by Node internals) and the functions with the most self time.
// Idle and GC are listed on their own lines, so the shares of the rest are CPU shares.
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

const SPECIAL = new Set(['(idle)', '(garbage collector)', '(program)', '(root)'])

/** `fastify`, `@fastify/cors`, `src/upstream/client.ts`, `node:internal/http`… */
export function groupOf (frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName)) return frame.functionName
  const url = frame.url
  if (url === '') return '(native)'
  const modules = url.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/')
  const src = url.search(/\/(src|simulator|bench)\//)
  return src >= 0 ? url.slice(src + 1) : url
}

function table (rows: Array<[string, number]>, total: number, requests: number, top: number): string {
  return rows.sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)} % ${(us / requests).toFixed(1).padStart(7)} µs/req  ${name}`)
    .join('\n')
}

/** `requests`: responses during the profile, so each line also reads as CPU per request. */
export function summariseProfile (file: string, requests: number, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))

  const groups = new Map<string, number>()
  const functions = new Map<string, number>()
  let busy = 0
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame
    const group = groupOf(frame)
    groups.set(group, (groups.get(group) ?? 0) + us)
    if (group !== '(idle)') busy += us
    const name = `${frame.functionName || '(anonymous)'}  ${group}:${frame.lineNumber + 1}`
    functions.set(name, (functions.get(name) ?? 0) + us)
  }
  const wall = profile.endTime - profile.startTime
  return [
    `${(wall / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s not idle, ${requests} responses (${(busy / requests).toFixed(0)} µs/req, start-up included); shares below are of the not-idle time`,
    '',
    'self time by package or file:',
    table([...groups].filter(([name]) => name !== '(idle)'), busy, requests, top),
    '',
    'self time by function:',
    table([...functions].filter(([name]) => !name.startsWith('(idle)')), busy, requests, top)
  ].join('\n')
}

interface HeapNode { callFrame: CallFrame, selfSize: number, children: HeapNode[] }

/**
 * Reads a sampling heap profile (heap-sampler.ts) and tells which functions allocated
 * the most, in bytes per response; sampled, so a line under a few hundred bytes per
 * response is within the sampling's noise.
 */
export function summariseHeapProfile (file: string, responses: number, top: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode }
  const groups = new Map<string, number>()
  const functions = new Map<string, number>()
  let total = 0
  const visit = (node: HeapNode): void => {
    if (node.selfSize > 0) {
      const frame = node.callFrame
      const group = groupOf(frame)
      groups.set(group, (groups.get(group) ?? 0) + node.selfSize)
      const name = `${frame.functionName || '(anonymous)'}  ${group}:${frame.lineNumber + 1}`
      functions.set(name, (functions.get(name) ?? 0) + node.selfSize)
      total += node.selfSize
    }
    for (const child of node.children) visit(child)
  }
  visit(profile.head)
  const rows = (map: Map<string, number>): string => [...map].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, bytes]) => `${(bytes / responses).toFixed(0).padStart(8)} B/resp ${(100 * bytes / total).toFixed(1).padStart(5)} %  ${name}`).join('\n')
  return [
    `${(total / responses).toFixed(0)} bytes allocated per response (sampled), ${responses} responses`,
    'by package or file:',
    rows(groups),
    'by function:',
    rows(functions)
  ].join('\n')
}
