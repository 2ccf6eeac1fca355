// The CLIENT_TOKENS_FILE parser: one name:token a line, comments and blank lines skipped, the
// rules of CLIENT_TOKENS, and problems that name a line by number and never show a token.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { parseClientTokenLines, readClientTokensFile } from '../../../src/config/client-tokens-file.ts'

const BILLING = 'billing-token-0123456789'
const CRM = 'crm-token-abcdefghijklmn'

test('one name:token a line; # comments, blank lines and surrounding spaces are skipped', async (t) => {
  const text = `# internal services\n\nbilling:${BILLING}\r\n   # an indented comment\n  crm:${CRM}  \n\n`
  t.same(parseClientTokenLines(text), { value: [{ name: 'billing', token: BILLING }, { name: 'crm', token: CRM }] })
  t.same(parseClientTokenLines(`a.b_c-9:${BILLING}`), { value: [{ name: 'a.b_c-9', token: BILLING }] }, 'names take the characters CLIENT_TOKENS allows')
})

test('a file with no token line is a problem', async (t) => {
  for (const text of ['', '\n\n', '# only a comment\n', '   \n# x\n']) {
    t.same(parseClientTokenLines(text), { problem: 'CLIENT_TOKENS_FILE: the file holds no name:token line' }, JSON.stringify(text))
  }
})

test('a bad line is named by its number in the file, counting comments and blanks, and its token is never shown', async (t) => {
  const shape = 'must be name:token with a name of A-Z a-z 0-9 . _ - and a token of at least 16 visible characters'
  const cases: Array<[string, string]> = [
    [`# c\n\nbilling:${BILLING}\ncrm:short-token\n`, 'line 4'],
    ['no-colon-at-all-0123456789', 'line 1'],
    [`bad name:${BILLING}`, 'line 1'],
    [`:${BILLING}`, 'line 1'],
    [`${'n'.repeat(65)}:${BILLING}`, 'line 1'],
    [`billing:${BILLING},crm:${CRM}`, 'line 1'],
    [`billing:${BILLING} ${CRM}`, 'line 1']
  ]
  for (const [text, line] of cases) {
    const parsed = parseClientTokenLines(text)
    t.same(parsed, { problem: `CLIENT_TOKENS_FILE: ${line} ${shape}` }, text)
    t.notOk(parsed.problem?.includes('short-token') || parsed.problem?.includes(BILLING), 'no token in the problem')
  }
  t.equal(parseClientTokenLines(`n:${'x'.repeat(16)}`).value?.length, 1, '16 characters are enough')
  t.match(parseClientTokenLines(`n:${'x'.repeat(15)}`), { problem: /line 1 must be/ }, '15 are not')
})

test('a name or a token twice, or a token of a JWT\'s shape, is a problem', async (t) => {
  t.same(parseClientTokenLines(`billing:${BILLING}\nbilling:${CRM}`), { problem: 'CLIENT_TOKENS_FILE: the name billing appears twice' })
  t.same(parseClientTokenLines(`billing:${BILLING}\n#\ncrm:${BILLING}`), { problem: 'CLIENT_TOKENS_FILE: line 3 repeats another entry\'s token' })
  t.same(parseClientTokenLines('web:aaaaaaaa.bbbbbbbb.cccccccc'),
    { problem: 'CLIENT_TOKENS_FILE: line 1 has the shape of a JWT (three base64url parts joined by dots), which visitor tokens have: choose another token' })
})

test('the file is read as written (line numbers count leading blank lines); an unreadable file is a problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'client-tokens-file-'))
  const file = join(dir, 'tokens')
  writeFileSync(file, `\n\nbilling:${BILLING}\ncrm:x\n`)
  t.same(readClientTokensFile(file), { problem: 'CLIENT_TOKENS_FILE: line 4 must be name:token with a name of A-Z a-z 0-9 . _ - and a token of at least 16 visible characters' })
  writeFileSync(file, `billing:${BILLING}\n`)
  t.same(readClientTokensFile(file), { value: [{ name: 'billing', token: BILLING }] })
  t.same(readClientTokensFile(join(dir, 'missing')), { problem: 'CLIENT_TOKENS_FILE: cannot read the file (ENOENT)' })
  t.same(readClientTokensFile(dir), { problem: 'CLIENT_TOKENS_FILE: not a regular file (a directory, FIFO or device is refused)' })
})
