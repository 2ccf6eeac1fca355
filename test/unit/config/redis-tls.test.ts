// REDIS_TLS_CA_FILE: only with a rediss:// URL, and only a file of PEM certificates; what it
// returns is what the Redis client trusts.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { readRedisCa } from '../../../src/config/redis-tls.ts'
import { makeTestCertificates } from '../../helpers/test-certificates.ts'

const TLS_URL = 'rediss://127.0.0.1:6380/0'
const NOT_PEM = 'REDIS_TLS_CA_FILE: the file must hold one or more PEM certificates (-----BEGIN CERTIFICATE-----)'

function file (text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'redis-ca-')), 'ca.pem')
  writeFileSync(path, text)
  return path
}

test('unset: nothing to read, the system CAs are trusted', async (t) => {
  t.same(readRedisCa(undefined, TLS_URL), { value: undefined })
  t.same(readRedisCa(undefined, undefined), { value: undefined })
})

test('one or several PEM certificates are read, and nothing else of the file', async (t) => {
  const certs = makeTestCertificates(t)
  const ca = readFileSync(certs.ca, 'utf8').trim()
  const other = readFileSync(certs.otherCa, 'utf8').trim()
  t.same(readRedisCa(certs.ca, TLS_URL), { value: ca })
  t.same(readRedisCa(file(`a bundle\n${ca}\n\n# and another\n${other}\n`), TLS_URL), { value: `${ca}\n${other}` })
})

test('a file without a readable certificate is a problem that shows nothing of it', async (t) => {
  const certs = makeTestCertificates(t)
  const key = readFileSync(certs.key, 'utf8')
  t.same(readRedisCa(file(''), TLS_URL), { problem: NOT_PEM })
  t.same(readRedisCa(file(key), TLS_URL), { problem: NOT_PEM }, 'a private key is no certificate')
  t.same(readRedisCa(file('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n'), TLS_URL), { problem: NOT_PEM })
  const ca = readFileSync(certs.ca, 'utf8')
  t.same(readRedisCa(file(`${ca}\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`), TLS_URL), { problem: NOT_PEM }, 'every certificate must be readable')
  t.same(readRedisCa(join(tmpdir(), 'no-such-dir-for-redis-ca', 'ca.pem'), TLS_URL), { problem: 'REDIS_TLS_CA_FILE: cannot read the file (ENOENT)' })
})

test('without a rediss:// REDIS_URL the CA would check nothing: a problem', async (t) => {
  const problem = 'REDIS_TLS_CA_FILE: needs a rediss:// REDIS_URL (the CA checks a TLS connection)'
  t.same(readRedisCa('/nonexistent/ca.pem', 'redis://127.0.0.1:6379'), { problem })
  t.same(readRedisCa('/nonexistent/ca.pem', undefined), { problem })
})
