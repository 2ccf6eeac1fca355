import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { LogBatch } from '../../../src/telemetry/log-batch.ts'

class Sink {
  readonly writes: string[] = []
  synced = 0
  write (text: string): void { this.writes.push(text) }
  flushSync (): void { this.synced++ }
}

test('lines wait until a batch is full, then go out in one write', async (t) => {
  const sink = new Sink()
  const batch = new LogBatch(sink, { bytes: 12, flushMs: 60000 })
  batch.write('abcd\n')
  batch.write('efgh\n')
  t.same(sink.writes, [], 'under the threshold: nothing written yet')
  batch.write('i\n')
  t.same(sink.writes, ['abcd\nefgh\ni\n'])
  batch.write('a line longer than the batch\n')
  t.same(sink.writes, ['abcd\nefgh\ni\n', 'a line longer than the batch\n'], 'a long line goes out on its own')
})

test('a light trickle of lines still goes out within flushMs', async (t) => {
  const sink = new Sink()
  const batch = new LogBatch(sink, { bytes: 4096, flushMs: 20 })
  batch.write('one\n')
  await sleep(100)
  t.same(sink.writes, ['one\n'])
})

test('flushSync writes what is pending and has the sink write synchronously', async (t) => {
  const sink = new Sink()
  const batch = new LogBatch(sink, { bytes: 4096, flushMs: 60000 })
  batch.flushSync()
  t.same(sink.writes, [], 'nothing pending: no empty write')
  batch.write('last words\n')
  batch.flushSync()
  t.same(sink.writes, ['last words\n'])
  t.equal(sink.synced, 2)
})
