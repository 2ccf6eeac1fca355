// Reads a secret from a file: an API key or a session-token secret, at start (config.ts)
// and on every reload. A read failure or a bad value is a problem sentence naming the
// variable, never the value. Reads run on the event loop (a SIGHUP reload too), so only a
// regular file of bounded size is read: a FIFO would block the process, /dev/zero would
// fill its memory.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import type { Parsed } from './lists.ts'
import { API_KEY } from './patterns.ts'
import { VARIABLES } from './schema.ts'
import { hmacSecretProblem } from './secrets.ts'

/** A secret file is a few hundred bytes; anything far larger is not one. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024
/** A CA bundle or a client-token list may hold many entries: a larger bound, still a bound. */
export const MAX_LIST_FILE_BYTES = 1024 * 1024

/** The file's text as written: a regular file of at most `maxBytes`. */
export function readText (path: string, variable: string, maxBytes = MAX_SECRET_FILE_BYTES): Parsed<string> {
  let fd: number | undefined
  try {
    // O_NONBLOCK: opening a FIFO for reading waits for a writer otherwise, before fstat can refuse it.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
    if (!fstatSync(fd).isFile()) return { problem: `${variable}: not a regular file (a directory, FIFO or device is refused)` }
    // Read to the end, never past the cap: the size fstat gave may change while reading.
    const buffer = Buffer.alloc(maxBytes + 1)
    let length = 0
    for (let read = -1; read !== 0 && length <= maxBytes;) {
      read = readSync(fd, buffer, length, buffer.length - length, null)
      length += read
    }
    if (length > maxBytes) return { problem: `${variable}: the file is larger than ${maxBytes / 1024} KiB` }
    return { value: buffer.toString('utf8', 0, length) }
  } catch (error) {
    return { problem: `${variable}: cannot read the file (${String((error as NodeJS.ErrnoException).code)})` }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** The file's text, surrounding whitespace trimmed. */
export function readTrimmed (path: string, variable: string): { text?: string, problem?: string } {
  const read = readText(path, variable)
  return read.problem === undefined ? { text: read.value.trim() } : { problem: read.problem }
}

export function readKeyFile (path: string, variable: string): { key?: string, problem?: string } {
  const { text: key, problem } = readTrimmed(path, variable)
  if (key === undefined) return { problem }
  if (!API_KEY.test(key)) return { problem: `${variable}: the file must hold one key of ${VARIABLES.HOTTASK_API_KEY.expected}` }
  return { key }
}

/** An HMAC secret (a session-token secret) from a file. */
export function readSecretFile (path: string, variable: string): { secret?: string, problem?: string } {
  const { text: secret, problem } = readTrimmed(path, variable)
  if (secret === undefined) return { problem }
  const short = hmacSecretProblem(secret, variable)
  return short === undefined ? { secret } : { problem: short }
}
