import { test } from 'tap'
import { StreamScrubber } from '../../../src/lib/stream-scrubber.ts'

const run = (scrubber: StreamScrubber, chunks: string[]): string[] => [...chunks.map((chunk) => scrubber.push(Buffer.from(chunk)).toString()), scrubber.flush().toString()]

test('a chunk without any secret, or any start of one, goes out whole and at once', async (t) => {
  const scrubber = new StreamScrubber(['SECRET-KEY'])
  t.same(run(scrubber, ['data: hello\n\n', 'data: world\n\n']), ['data: hello\n\n', 'data: world\n\n', ''])
})

test('a clean chunk after a released tail goes out as the very buffer that came in, never copied', async (t) => {
  // A streamed answer is mostly clean chunks: they must cost no copy.
  const scrubber = new StreamScrubber(['SECRET-KEY'])
  const clean = Buffer.from('data: hello\n\n')
  t.equal(scrubber.push(clean), clean, 'the same buffer, not an equal copy')
  t.equal(scrubber.push(Buffer.from('xSE')).toString(), 'x', 'SE may start the secret')
  t.equal(scrubber.push(Buffer.from('!')).toString(), 'SE!', 'released with the next chunk')
  const next = Buffer.from('data: world\n\n')
  t.equal(scrubber.push(next), next, 'nothing held any more: again the same buffer')
})

test('every whole secret is replaced, each of several', async (t) => {
  const scrubber = new StreamScrubber(['SECRET-KEY', 'NEXT-KEY-1'])
  t.same(run(scrubber, ['a SECRET-KEY b SECRET-KEY c NEXT-KEY-1 d']), ['a [REDACTED] b [REDACTED] c [REDACTED] d', ''])
})

test('attack: a secret split across chunks, at every point, is replaced', async (t) => {
  const secret = 'SECRET-KEY'
  for (let cut = 1; cut < secret.length; cut++) {
    const scrubber = new StreamScrubber([secret])
    const out = run(scrubber, [`key=${secret.slice(0, cut)}`, `${secret.slice(cut)} end`]).join('')
    t.equal(out, 'key=[REDACTED] end', `cut at ${cut}`)
  }
  const scrubber = new StreamScrubber([secret])
  t.equal(run(scrubber, [...secret].map((c) => c)).join(''), '[REDACTED]', 'one byte per chunk')
})

test('only a possible start of a secret is held back, and released when it is not one', async (t) => {
  const scrubber = new StreamScrubber(['SECRET-KEY'])
  t.equal(scrubber.push(Buffer.from('abc SEC')).toString(), 'abc ', 'SEC may begin the secret')
  t.equal(scrubber.push(Buffer.from('OND')).toString(), 'SECOND', 'it did not')
  t.equal(scrubber.push(Buffer.from('tail S')).toString(), 'tail ')
  t.equal(scrubber.flush().toString(), 'S', 'held bytes go out at the end')
  t.equal(scrubber.flush().toString(), '', 'once')
})

test('no secrets, or empty ones: the chunk itself, untouched', async (t) => {
  const chunk = Buffer.from('x')
  t.equal(new StreamScrubber([]).push(chunk), chunk)
  t.equal(new StreamScrubber(['']).push(chunk), chunk)
})

test('multi-byte characters around a secret survive', async (t) => {
  const scrubber = new StreamScrubber(['KEY-ÄÖ-1'])
  const bytes = Buffer.from('😀KEY-ÄÖ-1😀')
  const out = Buffer.concat([scrubber.push(bytes.subarray(0, 7)), scrubber.push(bytes.subarray(7)), scrubber.flush()])
  t.equal(out.toString(), '😀[REDACTED]😀')
})

test('a secret that contains another is replaced whole, whatever order they come in', async (t) => {
  for (const secrets of [['KEY-1', 'KEY-1-NEXT'], ['KEY-1-NEXT', 'KEY-1']]) {
    const scrubber = new StreamScrubber(secrets)
    t.equal(run(scrubber, ['a KEY-1-NEXT b KEY-1 c']).join(''), 'a [REDACTED] b [REDACTED] c', secrets.join(' then '))
  }
})

test('a tail is held only while it may still grow into a secret, never more than the secret less one byte', async (t) => {
  const scrubber = new StreamScrubber(['ABCD'])
  t.equal(scrubber.push(Buffer.from('xxABC')).toString(), 'xx', 'ABC may become ABCD')
  t.equal(scrubber.push(Buffer.from('A')).toString(), 'ABC', 'ABCA cannot: only the last A is held')
  t.equal(scrubber.flush().toString(), 'A')
})
