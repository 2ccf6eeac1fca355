import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cancel } from '../../../src/lib/cancel.ts'
import { Deadline } from '../../../src/lib/deadlines.ts'
import { ClientGoneError, DeadlineExceeded } from '../../../src/lib/abort-reasons.ts'
import { until } from '../../helpers/waiting.ts'

/**
 * The deadline's reason once it aborts; fails after `capMs`. The cap's own timer keeps the
 * process alive, so a deadline whose timer was lost fails here instead of leaving the
 * event loop empty (a test runner may read that as a pass).
 */
async function aborted (deadline: Deadline, capMs = 5000): Promise<unknown> {
  let cap: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      new Promise((resolve) => deadline.addEventListener('abort', () => resolve(deadline.reason))),
      new Promise((_resolve, reject) => { cap = setTimeout(() => reject(new Error('the deadline never aborted')), capMs) })
    ])
  } finally {
    clearTimeout(cap)
  }
}

test('a deadline aborts with DeadlineExceeded once its time has passed, never before', async (t) => {
  const client = new Cancel()
  const before = Date.now()
  const started = performance.now()
  const deadline = new Deadline(40, client)
  t.ok(deadline.at >= before + 40 && deadline.at <= Date.now() + 40, 'at: epoch ms of the deadline')
  t.equal(deadline.aborted, false)
  t.type(await aborted(deadline), DeadlineExceeded)
  t.ok(performance.now() - started >= 39, `aborted after ${(performance.now() - started).toFixed(1)} ms`)
  deadline.dispose()
})

test('deadlines of one length end in order, each at its own time, under one timer', async (t) => {
  const client = new Cancel()
  const order: string[] = []
  const first = new Deadline(30, client)
  await sleep(15)
  const second = new Deadline(30, client)
  const third = new Deadline(30, client)
  for (const [name, d] of [['first', first], ['second', second], ['third', third]] as const) d.addEventListener('abort', () => order.push(name))
  await until(() => first.aborted, 'the first deadline ended')
  t.equal(second.aborted, false, 'the later one is not due yet when the first ends')
  await until(() => third.aborted, 'the third deadline ended')
  t.same(order, ['first', 'second', 'third'])
  for (const d of [first, second, third]) d.dispose()
})

test('a disposed deadline never aborts, and the ones after it still do', async (t) => {
  const client = new Cancel()
  const gone = new Deadline(20, client)
  const kept = new Deadline(25, client)
  const later = new Deadline(20, client)
  gone.dispose()
  gone.dispose()
  t.type(await aborted(later), DeadlineExceeded)
  t.type(await aborted(kept), DeadlineExceeded, 'another length has its own list')
  await sleep(10)
  t.equal(gone.aborted, false)
  kept.dispose()
  later.dispose()
})

test('the middle, the first and the last of a list can each leave it', async (t) => {
  const client = new Cancel()
  const all = Array.from({ length: 5 }, () => new Deadline(20, client))
  all[2]!.dispose()
  all[0]!.dispose()
  all[4]!.dispose()
  await until(() => all[1]!.aborted && all[3]!.aborted, 'the listed deadlines ended')
  t.same(all.map((d) => d.aborted), [false, true, false, true, false])
  for (const d of all) d.dispose()
})

test('the client leaving aborts with ClientGoneError at once; a client already gone, at birth', async (t) => {
  const client = new Cancel()
  const deadline = new Deadline(60_000, client)
  client.abort(new Error('socket closed'))
  t.equal(deadline.aborted, true)
  t.type(deadline.reason, ClientGoneError)
  deadline.dispose()
  const born = new Deadline(60_000, client)
  t.type(born.reason, ClientGoneError)
  born.dispose()
})

test('dispose stops listening to the client, and a list left empty holds no timer', async (t) => {
  const client = new Cancel()
  const deadline = new Deadline(60_000, client)
  deadline.dispose()
  client.abort(new Error('late'))
  t.equal(deadline.aborted, false, 'no longer listening')
  // With its timer cleared, nothing of the deadline keeps the event loop alive: a child
  // process that makes and disposes of one exits at once, not a minute later.
  const { spawnSync } = await import('node:child_process')
  const script = `import { Cancel } from ${JSON.stringify(new URL('../../../src/lib/cancel.ts', import.meta.url).href)};
import { Deadline } from ${JSON.stringify(new URL('../../../src/lib/deadlines.ts', import.meta.url).href)};
new Deadline(60000, new Cancel()).dispose()`
  const started = Date.now()
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 })
  t.equal(run.status, 0, run.stderr)
  t.ok(Date.now() - started < 15_000, 'exited without waiting for the deadline')
})

test('a timer that fires before a fractional due time is set again, and the deadline still ends', async (t) => {
  const client = new Cancel()
  // Made a fraction of a millisecond apart: Node's whole-millisecond timer may wake for
  // the first while the second is a hair from due.
  const a = new Deadline(5, client)
  const b = new Deadline(5, client)
  await until(() => a.aborted && b.aborted, 'both deadlines ended')
  t.type(b.reason, DeadlineExceeded)
  a.dispose()
  b.dispose()
})

test('a deadline disposed of after it expired leaves the later ones of its list waiting', async (t) => {
  const client = new Cancel()
  const expired = new Deadline(10, client)
  await sleep(5)
  const later = new Deadline(10, client)
  t.type(await aborted(expired), DeadlineExceeded)
  t.equal(later.aborted, false, 'not due yet')
  expired.dispose()
  t.type(await aborted(later), DeadlineExceeded, 'still ends: the list was not emptied by the late dispose')
  later.dispose()
})

test('deadlines of one length share one timer, which goes when the last of them does', async (t) => {
  const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
  const client = new Cancel()
  const before = timers()
  // A length no other test uses: its list is made here.
  const all = [new Deadline(61_000, client), new Deadline(61_000, client), new Deadline(61_000, client)]
  t.teardown(() => { for (const d of all) d.dispose() })
  t.equal(timers(), before + 1, 'one timer for three deadlines of the same length')
  const other = new Deadline(62_000, client)
  t.teardown(() => { other.dispose() })
  t.equal(timers(), before + 2, 'another length has its own')
  all[0]!.dispose()
  all[1]!.dispose()
  t.equal(timers(), before + 2, 'kept while one of its deadlines is waiting')
  all[2]!.dispose()
  t.equal(timers(), before + 1, 'gone with the last')
  other.dispose()
  t.equal(timers(), before)
  const again = new Deadline(61_000, client)
  t.equal(timers(), before + 1, 'a timer set again when a deadline of its length comes back')
  again.dispose()
})
