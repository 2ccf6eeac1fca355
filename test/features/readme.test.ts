// The README is part of the code: its error table must match the registry, and every
// configuration variable must be documented in it and in .env.example.
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { CONFIG_VARIABLES } from '../../src/config/config.ts'
import { ERRORS } from '../../src/http/errors.ts'
import { tableAfter, unquote } from '../helpers/readme.ts'

test('the README error table and src/errors.ts agree', async (t) => {
  const rows = tableAfter('### Errors')
  const documented = Object.fromEntries(rows.map(([code, status]) => [unquote(code!), Number(status)]))
  const registry = Object.fromEntries(Object.entries(ERRORS).map(([code, entry]) => [code, entry.status]))
  t.same(documented, registry)
})

test('every configuration variable is in the README and .env.example', async (t) => {
  const documented = tableAfter('## Configuration').map(([name]) => unquote(name!))
  t.same([...documented].sort(), [...CONFIG_VARIABLES].sort())
  const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
  const listed = [...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1])
  t.same([...listed].sort(), [...CONFIG_VARIABLES].sort())
})
