// The layout is part of the design: docs/architecture.md's table says which folder of src/
// may import which, and this test holds the code to it. Unit tests mirror src/ one file
// per module, so a reader finds a module's test by its path.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { tableAfter, unquote } from '../helpers/readme.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SRC = join(ROOT, 'src')
const ARCHITECTURE = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8')

/** Every file below `dir`, as paths relative to it. */
function walk (dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path, base) : [relative(base, path)]
  })
}

/** The room of a module: its folder, with plugins split into external and app. */
function roomOf (module: string): string {
  const parts = module.split('/')
  if (parts.length === 1) return module
  return parts[0] === 'plugins' ? `plugins/${parts[1]}` : parts[0]!
}

const rows = tableAfter('| folder |', ARCHITECTURE)
const allowed = new Map(rows.map(([folder, , imports]) => [
  unquote(folder!),
  new Set(imports === '—' ? [] : imports!.split(', ').map(unquote))
]))
const modules = walk(SRC).filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))

function importsOf (module: string): string[] {
  const text = readFileSync(join(SRC, module), 'utf8')
  return [...text.matchAll(/^(?:import|export)\s[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)]
    .map((match) => normalize(join(dirname(module), match[1]!)))
    .filter((target) => !target.startsWith('..'))
}

test('src/ holds only folders, the process (server.ts) and the composition root (app.ts)', async (t) => {
  const files = readdirSync(SRC).filter((name) => !statSync(join(SRC, name)).isDirectory())
  t.same(files.sort(), ['app.ts', 'server.ts'])
})

test('every folder of src/ has its row in docs/architecture.md', async (t) => {
  const rooms = new Set(modules.filter((m) => m.includes('/')).map(roomOf))
  rooms.add('types')
  t.same([...allowed.keys()].sort(), [...rooms].sort())
})

test('no module imports from a folder its row does not list', async (t) => {
  const violations: string[] = []
  for (const module of modules) {
    const room = roomOf(module)
    if (room === 'app.ts') continue
    for (const target of importsOf(module)) {
      const to = roomOf(target)
      if (to === room) continue
      const ok = room === 'server.ts' ? ['app.ts', 'config', 'http', 'telemetry'].includes(to) : allowed.get(room)?.has(to) === true
      if (!ok) violations.push(`${module} imports ${target}`)
    }
  }
  t.same(violations, [])
})

test('the leaves import nothing of the upstream client, the routes or idempotency', async (t) => {
  const leaves = new Set(['lib', 'config', 'http', 'telemetry'])
  const above = new Set(['upstream', 'routes', 'idempotency'])
  const found = modules.filter((m) => leaves.has(roomOf(m)))
    .flatMap((m) => importsOf(m).filter((target) => above.has(roomOf(target))).map((target) => `${m} imports ${target}`))
  t.same(found, [])
  t.ok(modules.filter((m) => leaves.has(roomOf(m))).length >= 20, 'the leaves were found')
})

test('test/unit/ mirrors src/: each unit test file is named after the module it tests', async (t) => {
  const unit = walk(join(ROOT, 'test/unit'))
  t.ok(unit.length >= 20, 'the unit tests were found')
  const orphans = unit.filter((file) => !modules.includes(file.replace(/\.test\.ts$/, '.ts')))
  t.same(orphans, [], 'no unit test file without its module')
})
