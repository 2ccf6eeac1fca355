import { test } from 'tap'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { allocationReport, perResponse } from '../../bench/allocation.ts'
import type { AllocationRun } from '../../bench/allocation.ts'
import { summariseHeapProfile } from '../../bench/profile-report.ts'

const run = (kind: AllocationRun['kind'], round: number, allocated: number, promoted: number, rps: number): AllocationRun => ({
  kind,
  round,
  rps,
  p99: 300,
  errors: 0,
  responses: 1000,
  cpuUsPerResponse: 200,
  peakRssMb: 150,
  gc: { scavenges: 5, markCompacts: 1, allocated, promoted, survived: promoted / 2, pauseMs: 40 }
})

test('per response: the GC totals over the responses the window saw', async (t) => {
  t.same(perResponse(run('ours', 1, 30e6, 10e6, 1)), { allocated: 30000, promoted: 10000, survived: 5000, pauseUs: 40 })
})

test('the report gives medians per server over the rounds, and ours over the minimal peer', async (t) => {
  const report = allocationReport([
    run('minimal', 1, 20e6, 8e6, 4000), run('ours', 1, 30e6, 12e6, 3000),
    run('minimal', 2, 22e6, 8e6, 4400), run('ours', 2, 36e6, 12e6, 3600),
    run('minimal', 3, 21e6, 8e6, 4200), run('ours', 3, 33e6, 12e6, 3300)
  ], ['--max-semi-space-size=8'])
  const lines = report.split('\n')
  t.match(lines[0], /^3 round\(s\), medians; node flags: --max-semi-space-size=8$/)
  t.match(lines[2], /^minimal \| 4200 \| 300 \| 200 \| 21000 \| 8000 \| 4000 /)
  t.match(lines[3], /^ours \| 3300 \| 300 \| 200 \| 33000 \| 12000 \| 6000 /)
  t.match(lines[4], /^ours ÷ minimal \| 0\.79 \| 1\.00 \| 1\.00 \| 1\.57 \| 1\.50 /)
  t.notMatch(lines[4], /NaN/, 'no ratio of the errors column')
  t.match(allocationReport([run('ours', 1, 1, 1, 1)], []), /node flags: \(V8 defaults\)/)
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
