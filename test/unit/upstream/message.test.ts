import { test } from 'tap'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import { safeMessage } from '../../../src/upstream/message.ts'

test('upstream messages are made safe for browsers', async (t) => {
  const scrubber = new SecretScrubber()
  scrubber.add('SECRETKEY')
  t.equal(safeMessage('Chatbot not found.', scrubber), 'Chatbot not found.')
  t.equal(safeMessage('a\u0000b\u001b[1mc\r\nd\te\u202Ef', scrubber), 'ab[1mc d ef')
  t.equal(safeMessage('key SECRETKEY and SECRET\u200bKEY', scrubber), 'key [REDACTED] and [REDACTED]')
  t.equal(safeMessage('x'.repeat(300), scrubber)?.length, 200)
  t.equal(Array.from(safeMessage('😀'.repeat(250), scrubber)!).length, 200, 'cut by characters, not code units')
  t.equal(safeMessage('Vertical\vtab, form\ffeed', scrubber), 'Vertical tab, form feed', 'every line break is a space, and only those')
  t.equal(safeMessage('spaced  out   words', scrubber), 'spaced out words', 'runs of spaces become one')
  t.equal(safeMessage('   ', scrubber), undefined)
  t.equal(safeMessage(42, scrubber), undefined)
})
