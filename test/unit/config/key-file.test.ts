// Secret files: only a regular file of bounded size is read, since every read (a SIGHUP
// reload too) runs on the event loop; problems name the variable and never the content.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { MAX_LIST_FILE_BYTES, MAX_SECRET_FILE_BYTES, readKeyFile, readSecretFile, readText } from '../../../src/config/key-file.ts'

const SECRET = 'a-session-token-secret-of-48-bytes-0123456789abcd'

function scratch (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'key-file-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('a regular file is read, trimmed', async (t) => {
  const file = join(scratch(t), 'secret')
  writeFileSync(file, `${SECRET}\n`)
  t.same(readSecretFile(file, 'SESSION_TOKEN_SECRET_FILE'), { secret: SECRET })
  writeFileSync(file, 'key-0123456789\n')
  t.same(readKeyFile(file, 'HOTTASK_API_KEY_FILE'), { key: 'key-0123456789' })
})

test('attack: a FIFO is refused at once instead of blocking the event loop until a writer comes', async (t) => {
  const fifo = join(scratch(t), 'fifo')
  try {
    execFileSync('mkfifo', [fifo])
  } catch {
    t.fail('mkfifo is missing: install coreutils (apt-get install coreutils)')
    return
  }
  // Without O_NONBLOCK and the regular-file check this call never returns and the test times out.
  t.same(readSecretFile(fifo, 'SESSION_TOKEN_SECRET_FILE'), { problem: 'SESSION_TOKEN_SECRET_FILE: not a regular file (a directory, FIFO or device is refused)' })
})

test('a directory and a device are refused, named by the variable', async (t) => {
  t.same(readSecretFile(scratch(t), 'SESSION_TOKEN_SECRET_FILE'), { problem: 'SESSION_TOKEN_SECRET_FILE: not a regular file (a directory, FIFO or device is refused)' })
  t.same(readKeyFile('/dev/zero', 'HOTTASK_API_KEY_FILE'), { problem: 'HOTTASK_API_KEY_FILE: not a regular file (a directory, FIFO or device is refused)' }, '/dev/zero would fill the memory')
})

test('attack: a file over 64 KiB is refused without its content in the problem', async (t) => {
  const file = join(scratch(t), 'big')
  writeFileSync(file, 'S'.repeat(MAX_SECRET_FILE_BYTES + 1))
  const read = readSecretFile(file, 'SESSION_TOKEN_SECRET_FILE')
  t.same(read, { problem: 'SESSION_TOKEN_SECRET_FILE: the file is larger than 64 KiB' })
  t.notMatch(read.problem, /SSSS/)
  writeFileSync(file, 'S'.repeat(MAX_SECRET_FILE_BYTES))
  t.equal(readSecretFile(file, 'SESSION_TOKEN_SECRET_FILE').secret?.length, MAX_SECRET_FILE_BYTES, 'exactly 64 KiB is read whole')
})

test('lists (a CA bundle, client tokens) get a larger bound', async (t) => {
  const file = join(scratch(t), 'list')
  writeFileSync(file, 'x'.repeat(MAX_SECRET_FILE_BYTES * 2))
  t.equal(readText(file, 'CLIENT_TOKENS_FILE', MAX_LIST_FILE_BYTES).value?.length, MAX_SECRET_FILE_BYTES * 2)
  writeFileSync(file, 'x'.repeat(MAX_LIST_FILE_BYTES + 1))
  t.same(readText(file, 'CLIENT_TOKENS_FILE', MAX_LIST_FILE_BYTES), { problem: 'CLIENT_TOKENS_FILE: the file is larger than 1024 KiB' })
})

test('a missing file is a problem naming the variable and the error code', async (t) => {
  t.same(readText(join(scratch(t), 'missing'), 'HOTTASK_API_KEY_FILE'), { problem: 'HOTTASK_API_KEY_FILE: cannot read the file (ENOENT)' })
})
