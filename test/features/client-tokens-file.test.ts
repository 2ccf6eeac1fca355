// CLIENT_TOKENS_FILE, as an operator rotates it: a change to the file or a SIGHUP swaps the
// whole set (the new token works, the removed one is refused), and a file emptied, deleted or
// broken later keeps the tokens the service has and logs an error that names no token.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { startSimulator } from '../../simulator/server.ts'
import { startServer } from '../helpers/proxy-process.ts'
import { postSession, setup, TEST_KEY } from '../helpers/setup.ts'
import { until } from '../helpers/waiting.ts'

const OLD = 'old-client-token-0123456789'
const NEW = 'new-client-token-9876543210'
const OTHER = 'crm-client-token-abcdefghij'

function tokensFile (text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'client-tokens-')), 'tokens')
  writeFileSync(file, text)
  return file
}

async function appWithFile (t: Test, text: string) {
  const file = tokensFile(text)
  const harness = await setup(t, { CLIENT_TOKENS_FILE: file, REQUIRE_CLIENT_TOKEN: 'true', LOG_LEVEL: 'info' }, { deps: { watchKeyFiles: true } })
  const status = async (token: string): Promise<number> =>
    (await postSession(harness.app, { serialNumber: 'abc' }, { authorization: `Bearer ${token}` })).statusCode
  const reloads = (): number => harness.logs.entries.filter((e) => e.msg === 'client tokens reloaded').length
  const failures = () => harness.logs.entries.filter((e) => e.msg === 'client tokens file unusable; keeping the old tokens')
  return { ...harness, file, status, reloads, failures }
}

test('a change to the file is picked up without a signal: the new token is accepted, the removed one refused', async (t) => {
  const { file, status, reloads, logs } = await appWithFile(t, `# billing service\nbilling:${OLD}\n\ncrm:${OTHER}\n`)
  t.equal(await status(OLD), 201)
  writeFileSync(file, `billing:${NEW}\ncrm:${OTHER}\n`)
  await until(() => reloads() > 0, 'the change is picked up')
  t.equal(await status(NEW), 201, 'the new token')
  t.equal(await status(OLD), 401, 'the removed token')
  t.equal(await status(OTHER), 201, 'an unchanged token')
  t.match(logs.entries.find((e) => e.msg === 'client tokens reloaded'), { level: 30, reason: 'file change', clients: ['billing', 'crm'] })
  t.notOk(logs.text.includes(OLD) || logs.text.includes(NEW) || logs.text.includes(OTHER), 'no token is logged')
})

test('a file emptied, then deleted, keeps the tokens and logs an error each time', async (t) => {
  const { app, file, status, failures, logs } = await appWithFile(t, `billing:${OLD}\n`)
  writeFileSync(file, '# nothing left\n\n')
  app.reloadKeys('SIGHUP')
  t.match(failures().at(-1), { level: 50, reason: 'SIGHUP', problem: 'CLIENT_TOKENS_FILE: the file holds no name:token line' })
  t.equal(await status(OLD), 201, 'kept after the file was emptied')
  rmSync(file)
  app.reloadKeys('SIGHUP')
  t.match(failures().at(-1), { level: 50, problem: 'CLIENT_TOKENS_FILE: cannot read the file (ENOENT)' })
  t.equal(await status(OLD), 201, 'kept after the file was deleted')
  t.notOk(logs.text.includes(OLD))
})

test('attack: a broken line in a reloaded file is logged by its number, and its token never', async (t) => {
  const { app, file, status, failures, logs } = await appWithFile(t, `billing:${OLD}\n`)
  const leaked = 'short-leak'
  writeFileSync(file, `billing:${NEW}\n# the next line is broken\ncrm:${leaked}\nweb:${NEW}\n`)
  app.reloadKeys('SIGHUP')
  t.match(failures().at(-1), { problem: /^CLIENT_TOKENS_FILE: line 3 must be name:token/ })
  writeFileSync(file, `billing:${NEW}\ncrm:${NEW}\n`)
  app.reloadKeys('SIGHUP')
  t.match(failures().at(-1), { problem: 'CLIENT_TOKENS_FILE: line 2 repeats another entry\'s token' })
  t.equal(await status(OLD), 201, 'the old set is kept whole')
  t.equal(await status(NEW), 401, 'nothing of a refused file is taken')
  t.notOk(logs.text.includes(leaked) || logs.text.includes(NEW) || logs.text.includes(OLD), 'no token in any line')
})

test('SIGHUP re-reads the file in the real process', async (t) => {
  const upstream = await startSimulator({ key: [TEST_KEY] })
  t.teardown(() => upstream.close())
  const file = tokensFile(`billing:${OLD}\n`)
  const proxy = await startServer({ HOTTASK_API_KEY: TEST_KEY, HOTTASK_BASE_URL: upstream.url, CLIENT_TOKENS_FILE: file, REQUIRE_CLIENT_TOKEN: 'true' })
  t.teardown(() => { proxy.child.kill('SIGKILL') })
  const post = async (token: string): Promise<number> => {
    const res = await request(`${proxy.url}/sessions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ serialNumber: 'abc' })
    })
    await res.body.dump()
    return res.statusCode
  }
  t.equal(await post(OLD), 201)
  writeFileSync(file, `billing:${NEW}\n`)
  proxy.child.kill('SIGHUP')
  await until(() => /"reason":"SIGHUP"[^\n]*client tokens reloaded/.test(proxy.output()), 'the file is re-read on SIGHUP')
  t.equal(await post(NEW), 201)
  t.equal(await post(OLD), 401)
  writeFileSync(file, '')
  proxy.child.kill('SIGHUP')
  await until(() => /client tokens file unusable; keeping the old tokens/.test(proxy.output()), 'the empty file is refused')
  t.equal(await post(NEW), 201, 'kept')
  t.notOk(proxy.output().includes(OLD) || proxy.output().includes(NEW), 'no token in the process output')
})
