// CLIENT_TOKENS_FILE: client tokens kept in a file (a mounted Kubernetes Secret) rather than
// the environment, so they can change without a restart. Read at start (config.ts) and on
// every reload; one `name:token` a line, with the rules of CLIENT_TOKENS. A problem names
// the line, never a token.
import { MAX_LIST_FILE_BYTES, readText } from './key-file.ts'
import { parseClientTokenEntries } from './lists.ts'
import type { ClientToken, Parsed } from './lists.ts'

export const CLIENT_TOKENS_FILE = 'CLIENT_TOKENS_FILE'

/** The file's text: `#` comment lines and blank lines are skipped, lines are counted from 1. */
export function parseClientTokenLines (text: string): Parsed<ClientToken[]> {
  const entries = text.split(/\r?\n/)
    .map((line, index) => ({ label: `line ${index + 1}`, text: line.trim() }))
    .filter((entry) => entry.text !== '' && !entry.text.startsWith('#'))
  if (entries.length === 0) return { problem: `${CLIENT_TOKENS_FILE}: the file holds no name:token line` }
  return parseClientTokenEntries(entries, CLIENT_TOKENS_FILE)
}

export function readClientTokensFile (path: string): Parsed<ClientToken[]> {
  const read = readText(path, CLIENT_TOKENS_FILE, MAX_LIST_FILE_BYTES)
  return read.problem === undefined ? parseClientTokenLines(read.value) : read
}
