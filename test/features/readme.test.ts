// The README is part of the code: its error table must match the registry, every
// configuration variable must be documented in it and in .env.example, and its Layout
// must name every folder of src/.
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'tap'
import { CONFIG_VARIABLES } from '../../src/config/config.ts'
import { ERRORS } from '../../src/http/errors.ts'
import { README, tableAfter, unquote } from '../helpers/readme.ts'

test('the README error table and src/http/errors.ts agree', async (t) => {
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

test('the README\'s Layout lists every folder of src/, and no folder that is gone', async (t) => {
  const src = new URL('../../src/', import.meta.url)
  const folders = readdirSync(src, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => `src/${entry.name}/`)
  const layout = README.slice(README.indexOf('## Layout'))
  const block = layout.slice(layout.indexOf('```'), layout.indexOf('```', layout.indexOf('```') + 3))
  const listed = [...block.matchAll(/^(src\/[a-z-]+\/)/gm)].map((match) => match[1])
  t.ok(folders.length >= 10, 'the folders were found')
  t.same([...listed].sort(), [...folders].sort())
})
