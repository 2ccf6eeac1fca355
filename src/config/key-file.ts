// Reads a secret from a file: an API key or a session-token secret, at start (config.ts)
// and on every reload. A read failure or a bad value is a problem sentence naming the
// variable, never the value.
import { readFileSync } from 'node:fs'
import type { Parsed } from './lists.ts'
import { API_KEY } from './patterns.ts'
import { VARIABLES } from './schema.ts'
import { hmacSecretProblem } from './secrets.ts'

/** The file's text as written. */
export function readText (path: string, variable: string): Parsed<string> {
  try {
    return { value: readFileSync(path, 'utf8') }
  } catch (error) {
    return { problem: `${variable}: cannot read the file (${String((error as NodeJS.ErrnoException).code)})` }
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
