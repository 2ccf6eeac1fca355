// REDIS_TLS_CA_FILE: the certificates a rediss:// server's certificate must chain to, for a
// Redis behind a private CA (a cluster's own, a managed service's). Unset, the system's CAs
// are trusted, as by any TLS client. Read once at start, and checked then: a file that holds
// no certificate would otherwise only show as a Redis that never becomes ready.
import { X509Certificate } from 'node:crypto'
import { MAX_LIST_FILE_BYTES, readText } from './key-file.ts'
import type { Parsed } from './lists.ts'

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g

/** The PEM text of the CA file, or undefined when none is set. */
export function readRedisCa (file: string | undefined, redisUrl: string | undefined): Parsed<string | undefined> {
  if (file === undefined) return { value: undefined }
  if (redisUrl?.startsWith('rediss://') !== true) return { problem: 'REDIS_TLS_CA_FILE: needs a rediss:// REDIS_URL (the CA checks a TLS connection)' }
  const read = readText(file, 'REDIS_TLS_CA_FILE', MAX_LIST_FILE_BYTES)
  if (read.problem !== undefined) return read
  const certificates = read.value.match(PEM_CERTIFICATE) ?? []
  const readable = certificates.every((pem) => {
    try { return new X509Certificate(pem).raw.length > 0 } catch { return false }
  })
  if (certificates.length === 0 || !readable) return { problem: 'REDIS_TLS_CA_FILE: the file must hold one or more PEM certificates (-----BEGIN CERTIFICATE-----)' }
  return { value: certificates.join('\n') }
}
