import { test } from 'tap'
import { ProcessHealth, windowDelayMs } from '../../../src/telemetry/process-health.ts'

test('a reading holds the event-loop delay and the heap in use', async (t) => {
  const health = new ProcessHealth({ intervalMs: 60_000, readDelayMs: () => 42, readHeapUsedBytes: () => 1234 })
  t.teardown(() => health.stop())
  t.same(health.reading, { eventLoopDelayMs: 0, heapUsedBytes: 0 }, 'nothing read before the first sample')
  health.sample()
  t.same(health.reading, { eventLoopDelayMs: 42, heapUsedBytes: 1234 })
})

test('attack: descriptor exhaustion (EMFILE) in a reading never throws; the last reading stands, the streak is reported once', async (t) => {
  let fail = false
  let heap = 100
  const emfile = Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })
  const errors: unknown[] = []
  const health = new ProcessHealth({
    intervalMs: 60_000,
    readDelayMs: () => 5,
    readHeapUsedBytes: () => { if (fail) throw emfile; return heap },
    onError: (error) => { errors.push(error); throw new Error('and the reporter fails too') }
  })
  t.teardown(() => health.stop())
  health.sample()
  fail = true
  heap = 999
  t.doesNotThrow(() => { health.sample(); health.sample(); health.sample() })
  t.same(health.reading, { eventLoopDelayMs: 5, heapUsedBytes: 100 })
  t.same(errors, [emfile], 'one report per streak')
  fail = false
  health.sample()
  t.equal(health.reading.heapUsedBytes, 999)
  fail = true
  health.sample()
  t.equal(errors.length, 2, 'a new streak is reported again')
})

test('the timer samples by itself, and stops', async (t) => {
  let reads = 0
  const health = new ProcessHealth({ intervalMs: 5, readDelayMs: () => ++reads, readHeapUsedBytes: () => 1 })
  await new Promise((resolve) => setTimeout(resolve, 60))
  health.stop()
  t.ok(reads >= 1, `${reads} samples`)
  const after = reads
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(reads, after, 'no sample after stop')
})

test('the default sources: the real event-loop delay, V8\'s heap in use', async (t) => {
  const health = new ProcessHealth({ intervalMs: 60_000 })
  t.teardown(() => health.stop())
  await new Promise((resolve) => setTimeout(resolve, 50)) // the histogram samples every 10 ms
  health.sample()
  t.ok(health.reading.eventLoopDelayMs >= 0 && health.reading.eventLoopDelayMs < 200, `${health.reading.eventLoopDelayMs} ms`)
  t.ok(health.reading.heapUsedBytes > 1_000_000, `${health.reading.heapUsedBytes} bytes`)
  const until = Date.now() + 150
  while (Date.now() < until) { /* stall the loop for a whole window */ }
  health.sample()
  t.equal(health.reading.eventLoopDelayMs, Infinity, 'a window in which the loop never ran is infinite delay')
})

test('a window\'s delay is its mean beyond the 10 ms sampling step, never negative; each reading starts a new window', async (t) => {
  let resets = 0
  const histogram = (count: number, meanNs: number) => ({ count, mean: meanNs, reset: () => { resets++ } })
  t.equal(windowDelayMs(histogram(5, 35e6)), 25)
  t.equal(windowDelayMs(histogram(5, 4e6)), 0, 'a mean under the step is no delay')
  t.equal(windowDelayMs(histogram(0, NaN)), Infinity)
  t.equal(resets, 3)
})

test('a first reading that fails is reported too', async (t) => {
  const errors: unknown[] = []
  const health = new ProcessHealth({ intervalMs: 60_000, readDelayMs: () => { throw new Error('EMFILE') }, readHeapUsedBytes: () => 1, onError: (error) => errors.push(error) })
  t.teardown(() => health.stop())
  health.sample()
  t.equal(errors.length, 1)
})
