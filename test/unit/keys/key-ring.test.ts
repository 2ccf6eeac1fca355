import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { KeyFiles } from '../../../src/keys/key-files.ts'
import { KeyRing } from '../../../src/keys/key-ring.ts'
import { SecretScrubber } from '../../../src/lib/secrets.ts'
import { LogCapture } from '../../helpers/setup.ts'
import pino from 'pino'

test('the ring: reloads, failover, refused keys are not taken back, all scrubbed', async (t) => {
  const scrubber = new SecretScrubber()
  const seen: string[] = []
  const ring = new KeyRing('key-one-0000000000', 'key-two-0000000000', scrubber, { onCurrent: (key) => seen.push(key) })
  t.equal(ring.current, 'key-one-0000000000')
  t.equal(ring.next, 'key-two-0000000000')
  ring.promote('key-one-0000000000', 'key-two-0000000000')
  t.equal(ring.current, 'key-two-0000000000')
  t.equal(ring.next, undefined)
  t.ok(ring.isRefused('key-one-0000000000'))
  t.notOk(ring.setCurrent('key-one-0000000000'), 'a refused key is not taken back')
  t.notOk(ring.setNext('key-one-0000000000'))
  t.ok(ring.setCurrent('key-three-00000000'))
  t.notOk(ring.setCurrent('key-three-00000000'), 'unchanged')
  t.same(seen, ['key-two-0000000000', 'key-three-00000000'])
  t.equal(scrubber.scrub('key-one-0000000000 key-two-0000000000 key-three-00000000'), '[REDACTED] [REDACTED] [REDACTED]')
  t.match(ring.fingerprints(), { current: /^[0-9a-f]{8}$/, next: undefined })
})

test('key files: reload on demand and on change (symlink swaps too); bad files keep the old key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Kubernetes swaps a symlink atomically; the watched directory sees the rename.
  const file = join(dir, 'key')
  writeFileSync(join(dir, 'k1'), 'file-key-one-000000')
  symlinkSync(join(dir, 'k1'), file)

  const logs = new LogCapture()
  const log = pino({ level: 'trace' }, logs)
  const ring = new KeyRing('file-key-one-000000', undefined, new SecretScrubber())
  const files = new KeyFiles({ currentFile: file, nextFile: undefined, ring, log })
  t.teardown(() => files.close())

  writeFileSync(join(dir, 'k1'), '  \n')
  files.reload('SIGHUP')
  t.equal(ring.current, 'file-key-one-000000', 'an empty file keeps the old key')
  t.ok(logs.entries.some((e) => e.level === 50 && e.msg === 'API key file unusable; keeping the old key'))

  files.watch()
  writeFileSync(join(dir, 'k2'), 'file-key-two-000000\n')
  symlinkSync(join(dir, 'k2'), join(dir, 'key.tmp'))
  renameSync(join(dir, 'key.tmp'), file)
  const deadline = Date.now() + 3000
  while (ring.current !== 'file-key-two-000000' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(ring.current, 'file-key-two-000000', 'the watched directory saw the symlink swap')
  t.ok(logs.entries.some((e) => e.msg === 'API key reloaded' && e.reason === 'file change'))
  t.notOk(logs.text.includes('file-key-two-000000'), 'logs name keys by fingerprint only')
})
