import { test } from 'tap'
import { allocationReport, perResponse } from '../../bench/allocation-report.ts'
import type { AllocationRun } from '../../bench/allocation-report.ts'

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
