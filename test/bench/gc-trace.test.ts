import { test } from 'tap'
import { execFileSync } from 'node:child_process'
import { GC_TRACE_ARGS, gcTotals } from '../../bench/gc-trace.ts'

const scavenge = '[1:0x1:0]       19 ms: pause=3.5 mutator=12.3 gc=s reduce_memory=0 allocated=5000 promoted=200 new_space_survived=600 nodes_promoted=0'
const markCompact = '[1:0x1:0]      448 ms: pause=49.2 mutator=95.9 gc=mc reduce_memory=0 allocated=21000 promoted=22000 new_space_survived=0'

test('sums the collections by kind and ignores every other line', async (t) => {
  const log = [scavenge, '{"level":30,"msg":"request completed gc=s allocated=999"}', scavenge, markCompact, ''].join('\n')
  t.same(gcTotals(log), { scavenges: 2, markCompacts: 1, allocated: 31000, promoted: 22400, survived: 1200, pauseMs: 3.5 + 3.5 + 49.2 })
})

test('reads the figures of this Node\'s own trace', async (t) => {
  const out = execFileSync(process.execPath, [...GC_TRACE_ARGS, '-e', 'let kept = []; for (let i = 0; i < 2e5; i++) kept.push({ i }); kept = null; for (let i = 0; i < 2e5; i++) ({ i })'], { encoding: 'utf8' })
  const totals = gcTotals(out)
  t.ok(totals.scavenges > 0, 'scavenges counted')
  // Two hundred thousand small objects, each at least 16 bytes.
  t.ok(totals.allocated >= 2e5 * 16, `allocated ${totals.allocated} bytes`)
  t.ok(totals.promoted > 0 || totals.survived > 0, 'what the kept array held survived a collection')
})
