import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { test } from 'tap'
import { SecretFiles } from '../../../src/tokens/secret-files.ts'
import { SessionTokens } from '../../../src/tokens/session-tokens.ts'
import { until } from '../../helpers/waiting.ts'

const A = 'first-secret-of-enough-length-0123456789ab'
const B = 'second-secret-of-enough-length-0123456789a'
const C = 'third-secret-of-enough-length-0123456789ab'
const anyone = { clientName: null, visitorId: null, origin: undefined }

function files () {
  const dir = mkdtempSync(join(tmpdir(), 'token-secrets-'))
  const secretFile = join(dir, 'secret')
  const previousFile = join(dir, 'previous')
  writeFileSync(secretFile, A)
  const lines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(line) } })
  const tokens = new SessionTokens({ secret: A, ttlMs: 60_000 })
  const added: string[] = []
  const secretFiles = new SecretFiles({ secret: A, secretFile, previous: undefined, previousFile, tokens, log, onSecret: (secret) => added.push(secret) })
  return { dir, secretFile, previousFile, tokens, secretFiles, lines, added }
}

const issued = (tokens: SessionTokens) => tokens.issue({ sessionId: '1', serialNumber: 'b', binding: { kind: 'none' } })

test('a reload takes the new secret and the previous one; old tokens verify through the previous', async (t) => {
  const { secretFile, previousFile, tokens, secretFiles, lines, added } = files()
  const old = issued(tokens)
  writeFileSync(secretFile, `${B}\n`)
  writeFileSync(previousFile, A)
  secretFiles.reload('SIGHUP')
  t.same(added, [B, A], 'both scrubbed from logs')
  t.equal(tokens.verify(old, '1', anyone).valid, true)
  const fresh = issued(tokens)
  t.equal(new SessionTokens({ secret: B, ttlMs: 60_000 }).verify(fresh, '1', anyone).valid, true, 'signed with the new one')
  const reloaded = lines.filter((line) => line.includes('session-token secret reloaded')).map((line) => JSON.parse(line))
  t.match(reloaded, [{ reason: 'SIGHUP', variable: 'SESSION_TOKEN_SECRET_FILE' }, { reason: 'SIGHUP', variable: 'SESSION_TOKEN_SECRET_PREVIOUS_FILE' }])
  t.notMatch(lines.join(''), B)
})

test('a reload of unchanged files changes nothing: no secret added, the signer untouched, nothing logged', async (t) => {
  const { secretFile, previousFile, tokens, secretFiles, lines, added } = files()
  writeFileSync(secretFile, B)
  writeFileSync(previousFile, A)
  secretFiles.reload('SIGHUP')
  let setSecrets = 0
  const original = tokens.setSecrets.bind(tokens)
  tokens.setSecrets = (...args) => { setSecrets++; original(...args) }
  const logged = lines.length
  secretFiles.reload('SIGHUP')
  t.same(added, [B, A])
  t.equal(setSecrets, 0)
  t.equal(lines.length, logged)
})

test('an unreadable or too short file keeps the old secret and says so', async (t) => {
  const { secretFile, tokens, secretFiles, lines } = files()
  const before = issued(tokens)
  writeFileSync(secretFile, 'short')
  secretFiles.reload('SIGHUP')
  t.equal(tokens.verify(before, '1', anyone).valid, true)
  t.match(lines.join(''), /session-token secret file unusable; keeping the old secret/)
  t.match(lines.join(''), /SESSION_TOKEN_SECRET_FILE: must hold at least 32 bytes/)
  t.notMatch(lines.join(''), 'short"')
})

test('a change in the directory (a symlink swap, a rename) is seen without a signal', async (t) => {
  const { dir, secretFile, tokens, secretFiles, lines } = files()
  secretFiles.watch()
  t.teardown(() => secretFiles.close())
  const staged = join(dir, 'staged')
  writeFileSync(staged, C)
  renameSync(staged, secretFile)
  const signedWithC = () => new SessionTokens({ secret: C, ttlMs: 60_000 }).verify(issued(tokens), '1', anyone).valid
  t.equal(signedWithC(), false, 'not before the change is seen')
  await until(signedWithC, 'the new secret signs')
  t.equal(signedWithC(), true)
  await until(() => lines.some((line) => line.includes('session-token secret reloaded')), 'the reload log line')
  t.match(JSON.parse(lines.find((line) => line.includes('session-token secret reloaded'))!), { reason: 'file change' })
})

test('after close, a change in the directory is no longer seen', async (t) => {
  const { dir, secretFile, tokens, secretFiles, lines } = files()
  secretFiles.watch()
  secretFiles.close()
  // A second watcher of the same files, left open: once it has seen the change, so would have the first.
  const seen: string[] = []
  const control = new SecretFiles({ secret: A, secretFile, previous: undefined, previousFile: join(dir, 'previous'), tokens: new SessionTokens({ secret: A, ttlMs: 60_000 }), log: pino({ level: 'silent' }), onSecret: (secret) => seen.push(secret) })
  control.watch()
  t.teardown(() => control.close())
  const staged = join(dir, 'staged')
  writeFileSync(staged, C)
  renameSync(staged, secretFile)
  await until(() => seen.includes(C), 'the open watcher saw the change')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(new SessionTokens({ secret: C, ttlMs: 60_000 }).verify(issued(tokens), '1', anyone).valid, false, 'still signing with the old secret')
  t.same(lines, [])
})
