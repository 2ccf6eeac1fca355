// Reads an API key from a file: at start (config.ts) and on every reload (keys/). A read
// failure or a bad value is a problem sentence naming the variable, never the value.
import { readFileSync } from 'node:fs'
import { API_KEY } from './patterns.ts'
import { VARIABLES } from './schema.ts'

export function readKeyFile (path: string, variable: string): { key?: string, problem?: string } {
  let key: string
  try {
    key = readFileSync(path, 'utf8').trim()
  } catch (error) {
    return { problem: `${variable}: cannot read the file (${String((error as NodeJS.ErrnoException).code)})` }
  }
  if (!API_KEY.test(key)) return { problem: `${variable}: the file must hold one key of ${VARIABLES.HOTTASK_API_KEY.expected}` }
  return { key }
}
