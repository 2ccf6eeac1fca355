import { test } from 'tap'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { groupOf, summariseHeapProfile, summariseProfile } from '../../bench/profile-report.ts'

const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber, scriptId: '0', columnNumber: 0 })

function file (name: string, content: unknown): string {
  const path = join(tmpdir(), `${name}-${process.pid}`)
  writeFileSync(path, JSON.stringify(content))
  return path
}

test('a frame is grouped by package, by our own file, by Node module, or as itself', async (t) => {
  t.equal(groupOf(frame('f', 'file:///app/node_modules/@fastify/cors/index.js', 1)), '@fastify/cors')
  t.equal(groupOf(frame('f', 'file:///app/node_modules/undici/lib/x.js', 1)), 'undici')
  t.equal(groupOf(frame('f', 'file:///app/src/upstream/client.ts', 1)), 'src/upstream/client.ts')
  t.equal(groupOf(frame('f', 'node:internal/streams/writable', 1)), 'node:internal/streams')
  t.equal(groupOf(frame('(garbage collector)', '', 0)), '(garbage collector)')
  t.equal(groupOf(frame('writev', '', 0)), '(native)')
  t.equal(groupOf(frame('f', 'file:///elsewhere/x.js', 1)), 'file:///elsewhere/x.js')
})

test('a CPU profile: self time by group and by function, idle apart, per response', async (t) => {
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', '', -1) },
      { id: 2, callFrame: frame('(idle)', '', -1) },
      { id: 3, callFrame: frame('attempt', 'file:///app/src/upstream/client.ts', 64) },
      { id: 4, callFrame: frame('(garbage collector)', '', -1) }
    ],
    samples: [2, 3, 3, 4],
    timeDeltas: [5000, 3000, 1000, 1000],
    startTime: 0,
    endTime: 10000
  }
  const lines = summariseProfile(file('cpu', profile), 10, 5).split('\n')
  t.equal(lines[0], '0.0 s profiled, 0.0 s not idle, 10 responses (500 µs/req, start-up included); shares below are of the not-idle time')
  t.match(lines[3], /^\s+4 ms\s+80\.0 %\s+400\.0 µs\/req {2}src\/upstream\/client\.ts$/)
  t.match(lines[4], /^\s+1 ms\s+20\.0 %\s+100\.0 µs\/req {2}\(garbage collector\)$/)
  t.notOk(lines.some((line) => line.includes('(idle)')), 'idle is not listed')
  t.ok(lines.some((line) => /attempt {2}src\/upstream\/client\.ts:65$/.test(line)), 'a function with its line')
})

test('a sampling heap profile is summed by package or file and by function, per response', async (t) => {
  const frame = (functionName: string, url: string, lineNumber: number) => ({ functionName, url, lineNumber, scriptId: '0', columnNumber: 0 })
  const profile = {
    head: {
      callFrame: frame('(root)', '', -1),
      selfSize: 0,
      children: [
        { callFrame: frame('attempt', 'file:///app/src/upstream/client.ts', 64), selfSize: 3000, children: [] },
        {
          callFrame: frame('applyRateLimit', 'file:///app/node_modules/@fastify/rate-limit/index.js', 244),
          selfSize: 1000,
          children: [
            { callFrame: frame('attempt', 'file:///app/src/upstream/client.ts', 64), selfSize: 1000, children: [] }
          ]
        }
      ]
    }
  }
  const file = join(tmpdir(), `heap-${process.pid}.heapprofile`)
  writeFileSync(file, JSON.stringify(profile))
  const summary = summariseHeapProfile(file, 10, 5).split('\n')
  t.equal(summary[0], '500 bytes allocated per response (sampled), 10 responses')
  t.match(summary[2], /^\s+400 B\/resp\s+80\.0 %\s+src\/upstream\/client\.ts$/)
  t.match(summary[3], /^\s+100 B\/resp\s+20\.0 %\s+@fastify\/rate-limit$/)
  t.match(summary[5], /^\s+400 B\/resp\s+80\.0 %\s+attempt\s+src\/upstream\/client\.ts:65$/)
})
