// The client-token file reloader alone: a good file swaps the set (and hands each token to
// the scrubber), a bad one keeps it and logs an error, a change in the directory is seen.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { test } from 'tap'
import { ClientTokenSet } from '../../../src/guards/client-token.ts'
import { ClientTokenFile } from '../../../src/guards/client-token-file.ts'
import { until } from '../../helpers/waiting.ts'

const A = 'first-client-token-0123456789'
const B = 'second-client-token-987654321'

function reloader (withFile = true) {
  const file = withFile ? join(mkdtempSync(join(tmpdir(), 'client-token-file-')), 'tokens') : undefined
  if (file !== undefined) writeFileSync(file, `svc:${A}\n`)
  const clients = new ClientTokenSet([{ name: 'svc', token: A }])
  const lines: string[] = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(line) } })
  const scrubbed: string[] = []
  const tokensFile = new ClientTokenFile({ file, initial: [{ name: 'svc', token: A }], clients, log, onToken: (token) => scrubbed.push(token) })
  const entries = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { file: file!, clients, tokensFile, scrubbed, entries, text: () => lines.join('') }
}

test('a reload swaps the whole set, hands each token to the scrubber and logs the names', async (t) => {
  const { file, clients, tokensFile, scrubbed, entries, text } = reloader()
  writeFileSync(file, `# rotated\nsvc:${B}\nother:${A}\n`)
  tokensFile.reload('SIGHUP')
  t.same([clients.match(B), clients.match(A), clients.size], ['svc', 'other', 2])
  t.same(scrubbed, [B, A])
  t.match(entries(), [{ level: 30, reason: 'SIGHUP', variable: 'CLIENT_TOKENS_FILE', clients: ['svc', 'other'], msg: 'client tokens reloaded' }])
  t.notOk(text().includes(A) || text().includes(B), 'no token logged')
})

test('a reload that reads the tokens the set already has changes nothing and logs nothing', async (t) => {
  const { file, clients, tokensFile, scrubbed, entries } = reloader()
  const replace = clients.replace.bind(clients)
  let replaced = 0
  clients.replace = (tokens) => { replaced++; replace(tokens) }
  writeFileSync(file, `# the same token, reformatted\n\nsvc:${A}\n`)
  tokensFile.reload('file change')
  t.same([replaced, scrubbed, entries()], [0, [], []], 'the start\'s own tokens')
  writeFileSync(file, `svc:${B}\n`)
  tokensFile.reload('SIGHUP')
  tokensFile.reload('SIGHUP')
  t.same([replaced, scrubbed, entries().length], [1, [B], 1], 'one change, one reload')
})

test('an empty, broken or missing file keeps the set and logs an error naming no token', async (t) => {
  const { file, clients, tokensFile, scrubbed, entries, text } = reloader()
  const problems: string[] = []
  for (const [change, problem] of [
    [() => writeFileSync(file, '\n# nothing\n'), 'CLIENT_TOKENS_FILE: the file holds no name:token line'],
    [() => writeFileSync(file, `svc:${B}\nweb:${B.slice(0, 10)}\n`), 'CLIENT_TOKENS_FILE: line 2 must be name:token with a name of A-Z a-z 0-9 . _ - and a token of at least 16 visible characters'],
    [() => rmSync(file), 'CLIENT_TOKENS_FILE: cannot read the file (ENOENT)']
  ] as const) {
    change()
    tokensFile.reload('file change')
    problems.push(problem)
    t.same([clients.match(A), clients.match(B), clients.size], ['svc', undefined, 1], problem)
  }
  t.same(entries().map((e) => [e.level, e.reason, e.problem, e.msg]), problems.map((problem) => [50, 'file change', problem, 'client tokens file unusable; keeping the old tokens']))
  t.same(scrubbed, [], 'nothing of a refused file is taken')
  t.notOk(text().includes(B.slice(0, 10)), 'not even a broken line\'s token')
})

test('without a file, reload and watch do nothing', async (t) => {
  const { clients, tokensFile, entries } = reloader(false)
  tokensFile.watch()
  tokensFile.reload('SIGHUP')
  tokensFile.close()
  t.same([clients.size, entries()], [1, []])
})

test('a change in the directory (a symlink swap, a rename) is seen without a signal', async (t) => {
  const { file, clients, tokensFile, entries } = reloader()
  tokensFile.watch()
  t.teardown(() => tokensFile.close())
  const staged = `${file}.new`
  writeFileSync(staged, `svc:${B}\n`)
  renameSync(staged, file)
  await until(() => clients.match(B) === 'svc', 'the new token is taken')
  t.equal(clients.match(A), undefined)
  t.match(entries().at(-1), { reason: 'file change', msg: 'client tokens reloaded' })
})

test('after close, a change in the directory is no longer seen', async (t) => {
  const { file, clients, tokensFile, entries } = reloader()
  tokensFile.watch()
  tokensFile.close()
  // A second reloader of the same file, left open: once it has seen the change, so would have the first.
  const seen: string[] = []
  const openClients = new ClientTokenSet([{ name: 'svc', token: A }])
  const control = new ClientTokenFile({ file, initial: [{ name: 'svc', token: A }], clients: openClients, log: pino({ level: 'silent' }), onToken: (token) => seen.push(token) })
  control.watch()
  t.teardown(() => control.close())
  const staged = `${file}.new`
  writeFileSync(staged, `svc:${B}\n`)
  renameSync(staged, file)
  await until(() => seen.includes(B), 'the open watcher saw the change')
  // Past the watcher's 100 ms debounce after the open one reloaded.
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(clients.match(A), 'svc', 'the closed one kept the old set')
  t.same(entries(), [])
})
