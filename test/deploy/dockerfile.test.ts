// Static checks of the Dockerfile and .dockerignore: the rules of issue 5 that a build
// alone would not catch. The last stage is what ships, so its instructions are the ones
// that count. scripts/container-test.sh proves the same image by building and running it.
import { existsSync, readFileSync } from 'node:fs'
import { test } from 'tap'
import packageJson from '../../package.json' with { type: 'json' }
import { PRODUCTION_ENV, PRODUCTION_NODE_ARGS } from '../../deploy/production.ts'

const root = new URL('../../', import.meta.url)
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8')

interface Instruction { keyword: string, args: string }
interface Stage { from: string, name: string | undefined, instructions: Instruction[] }

/** Splits a Dockerfile into the global ARGs and its stages; enough syntax for ours. */
function parseDockerfile (text: string): { globals: Instruction[], stages: Stage[] } {
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  const globals: Instruction[] = []
  const stages: Stage[] = []
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line)!
    const instruction = { keyword: match[1]!.toUpperCase(), args: match[2]!.replace(/\s+/g, ' ') }
    if (instruction.keyword === 'FROM') {
      const [from, as, name] = instruction.args.split(' ')
      stages.push({ from: from!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else if (stages.length === 0) {
      globals.push(instruction)
    } else {
      stages.at(-1)!.instructions.push(instruction)
    }
  }
  return { globals, stages }
}

const all = (stage: Stage, keyword: string): string[] =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args)
const last = (stage: Stage, keyword: string): string | undefined => all(stage, keyword).at(-1)

/** `KEY=value KEY2="v 2"` (or the legacy `KEY value`) as pairs. */
function envPairs (args: string): Record<string, string> {
  if (!/^\w+=/.test(args)) return Object.fromEntries([args.split(/ (.*)/s).slice(0, 2) as [string, string]])
  const pairs = args.match(/\w+=("[^"]*"|\S*)/g) ?? []
  return Object.fromEntries(pairs.map((pair) => {
    const [key, value] = pair.split(/=(.*)/s) as [string, string]
    return [key, value.replace(/^"|"$/g, '')]
  }))
}

const { globals, stages } = parseDockerfile(read('Dockerfile'))
const final = stages.at(-1)!
const lockedNodeVersion = (JSON.parse(read('package-lock.json')) as {
  packages: Record<string, { version: string }>
}).packages['node_modules/node']!.version

test('the base image is pinned to the exact Node version of the lockfile', async (t) => {
  const arg = globals.find((i) => i.keyword === 'ARG' && i.args.startsWith('NODE_IMAGE='))
  t.ok(arg, 'a global ARG NODE_IMAGE with a default')
  const image = arg!.args.slice('NODE_IMAGE='.length)
  t.match(image, /^node:\d+\.\d+\.\d+-[a-z]+(-slim)?(@sha256:[0-9a-f]{64})?$/, 'exact x.y.z tag, optionally a digest')
  t.equal(image.split(':')[1]!.split('-')[0], lockedNodeVersion, 'same Node as the `node` devDependency')
  const stageNames = new Set(stages.map((s) => s.name))
  for (const stage of stages) {
    t.ok(/^\$\{NODE_IMAGE\}$/.test(stage.from) || stageNames.has(stage.from), `FROM ${stage.from} goes through the pinned argument`)
  }
})

test('the final stage ships the service: non-root, exec-form node src/server.ts', async (t) => {
  t.equal(final.name, 'runtime')
  const user = last(final, 'USER')
  t.ok(user, 'USER is set')
  t.notMatch(user!, /^(root|0)(:|$)/, 'USER is not root')
  t.equal(all(final, 'ENTRYPOINT').length, 0, 'no ENTRYPOINT wraps the command')
  t.same(JSON.parse(last(final, 'CMD')!), ['node', ...PRODUCTION_NODE_ARGS, 'src/server.ts'], 'exec-form CMD, so SIGTERM reaches node')
  t.equal(last(final, 'STOPSIGNAL'), 'SIGTERM')
  t.same(all(final, 'EXPOSE'), ['3000'])
  const env = Object.assign({}, ...all(final, 'ENV').map(envPairs)) as Record<string, string>
  t.equal(env.NODE_ENV, 'production')
  for (const [name, value] of Object.entries(PRODUCTION_ENV)) t.equal(env[name], value, `${name}, as the benchmark runs it`)
})

test('npm start and the benchmark run node with the image\'s flags', async (t) => {
  t.equal(packageJson.scripts.start, `node ${PRODUCTION_NODE_ARGS.join(' ')} src/server.ts`)
  t.ok(PRODUCTION_NODE_ARGS.every((flag) => flag.startsWith('--')))
})

test('the HEALTHCHECK runs the Node script, no curl or wget', async (t) => {
  const healthcheck = last(final, 'HEALTHCHECK')
  t.ok(healthcheck, 'HEALTHCHECK is set')
  t.notMatch(healthcheck!, /\b(curl|wget)\b/)
  const command = JSON.parse(healthcheck!.slice(healthcheck!.indexOf('CMD ') + 4)) as string[]
  t.same(command, ['node', 'scripts/healthcheck.ts'], 'exec form, no shell needed')
  t.ok(existsSync(new URL('scripts/healthcheck.ts', root)))
})

test('the final stage copies only what runs', async (t) => {
  const copies = all(final, 'COPY').map((args) => args.split(' ').filter((word) => !word.startsWith('--chown')))
  t.same(copies.map((words) => words.slice(0, -1).join(' ')).sort(), [
    '--from=deps /app/node_modules',
    'package.json package-lock.json',
    'scripts/healthcheck.ts',
    'src/'
  ])
  t.equal(all(final, 'ADD').length, 0)
  t.equal(all(final, 'RUN').length, 0, 'nothing is installed or changed in the shipped stage')
})

test('dependencies come from the lockfile, production only', async (t) => {
  const deps = stages.find((s) => s.name === 'deps')!
  const install = all(deps, 'RUN').join(' ')
  t.match(install, /\bnpm ci\b/)
  t.match(install, /--omit=dev\b/)
})

test('every stage that runs something runs it as a non-root user', async (t) => {
  for (const stage of stages.filter((s) => all(s, 'CMD').length > 0)) {
    t.notMatch(last(stage, 'USER') ?? 'root', /^(root|0)(:|$)/, `stage ${stage.name}`)
  }
})

test('no ENV or ARG carries a secret-looking name', async (t) => {
  const instructions = [...globals, ...stages.flatMap((s) => s.instructions)]
  const names = instructions.flatMap((i) => {
    if (i.keyword === 'ARG') return [i.args.split('=')[0]!]
    if (i.keyword === 'ENV') return Object.keys(envPairs(i.args))
    return []
  })
  t.ok(names.length > 0)
  for (const name of names) t.notMatch(name, /KEY|SECRET|TOKEN|PASSW|CREDENTIAL/i, name)
})

test('.dockerignore keeps secrets, dependencies and test material out of the context', async (t) => {
  const entries = new Set(read('.dockerignore').split(/\r?\n/)
    .map((line) => line.trim().replace(/^\/|\/$/g, ''))
    .filter((line) => line !== '' && !line.startsWith('#')))
  for (const entry of ['.env', '.env.*', 'secrets', 'node_modules', 'test', '.git', '.tap', 'coverage', 'bench', 'test-artifacts']) {
    t.ok(entries.has(entry), entry)
  }
  t.notOk([...entries].some((entry) => entry.startsWith('!')), 'no exception re-admits a file')
})
