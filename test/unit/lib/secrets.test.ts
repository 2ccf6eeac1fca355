import { test } from 'tap'
import { fingerprint, SecretScrubber } from '../../../src/lib/secrets.ts'

test('scrubs every occurrence, raw and JSON-escaped, longest first', async (t) => {
  const scrubber = new SecretScrubber()
  scrubber.add('abc')
  scrubber.add('abc"def')
  scrubber.add('')
  t.equal(scrubber.scrub('x abc y abc'), 'x [REDACTED] y [REDACTED]')
  t.equal(scrubber.scrub('k=abc"def'), 'k=[REDACTED]')
  t.equal(scrubber.scrub(JSON.stringify({ k: 'abc"def' })), '{"k":"[REDACTED]"}')
  t.equal(scrubber.scrub('nothing here'), 'nothing here')
})

test('fingerprints are 8 hex characters of SHA-256', async (t) => {
  t.equal(fingerprint('key'), '2c70e12b')
  t.not(fingerprint('key2'), fingerprint('key'))
})

test('until a secret is added, every text passes unchanged', async (t) => {
  const scrubber = new SecretScrubber()
  // The last sample is the placeholder that mutation tools put into empty lists.
  for (const text of ['', '{"level":30,"msg":"request completed"}\n', '[REDACTED]', 'Stryker was here']) t.equal(scrubber.scrub(text), text)
})
