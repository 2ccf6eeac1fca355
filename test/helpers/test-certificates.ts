// Test-only certificates, made afresh by the openssl CLI for each test: a CA, a server
// certificate it signs for 127.0.0.1, one it signs for another host (what a client sees when
// the URL's host is not the certificate's), and a second CA that signed nothing here (what a
// client holding the wrong CA sees). Nothing is committed; the keys live in a temporary
// directory. Needs openssl (scripts/ci/install-system-packages.sh): a missing binary fails.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { requireExecutable } from './system-binaries.ts'

export interface TestCertificates {
  /** The CA that signed `cert` (PEM file). */
  ca: string
  /** A CA that signed nothing used here. */
  otherCa: string
  /** The server's certificate (SAN IP:127.0.0.1) and its key. */
  cert: string
  key: string
  /** A certificate from `ca`, with the same key, for redis.elsewhere.example only. */
  otherHostCert: string
}

/** Makes the files in a temporary directory, removed on `t`'s teardown. */
export function makeTestCertificates (t: Test): TestCertificates {
  const openssl = requireExecutable(process.env.OPENSSL_PATH ?? 'openssl', 'openssl', 'OPENSSL_PATH')
  const dir = mkdtempSync(join(tmpdir(), 'test-certs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string): string => join(dir, name)
  const run = (...args: string[]): void => { execFileSync(openssl, args, { stdio: ['ignore', 'ignore', 'pipe'] }) }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  for (const name of ['ca', 'other-ca']) {
    run('req', '-x509', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.pem`), '-days', '2', '-subj', `/CN=hottask-proxy test ${name}`)
  }
  run('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1')
  for (const [name, san] of [['server', 'IP:127.0.0.1'], ['other-host', 'DNS:redis.elsewhere.example']]) {
    writeFileSync(file(`${name}.ext`), `subjectAltName = ${san}\nextendedKeyUsage = serverAuth\n`)
    run('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
      '-out', file(`${name}.pem`), '-days', '2', '-extfile', file(`${name}.ext`))
  }
  return { ca: file('ca.pem'), otherCa: file('other-ca.pem'), cert: file('server.pem'), key: file('server.key'), otherHostCert: file('other-host.pem') }
}
