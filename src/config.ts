// The service's configuration: one JSON schema over the environment, validated once
// before the app exists. Problems are reported one per variable, never with a value,
// because some of the values are secrets.
import { readFileSync } from 'node:fs'
import envSchema from 'env-schema'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

// What each variable expects, in words: the schema says it to Ajv, this says it to people.
const EXPECTED: Record<string, string> = {
  HOTTASK_API_KEY: 'visible ASCII characters, no spaces',
  HOTTASK_API_KEY_FILE: 'a path to a readable file',
  HOTTASK_BASE_URL: 'an http(s) origin such as https://usapi.hottask.com',
  HOST: 'a host name or address to listen on',
  PORT: 'an integer from 0 to 65535',
  LOG_LEVEL: LOG_LEVELS.join(', '),
  UPSTREAM_TIMEOUT_MS: 'an integer from 1 to 600000',
  BODY_LIMIT_BYTES: 'an integer from 16 to 1048576'
}

const schema = {
  type: 'object',
  properties: {
    HOTTASK_API_KEY: { type: 'string', pattern: '^[\\x21-\\x7e]+$' },
    HOTTASK_API_KEY_FILE: { type: 'string', minLength: 1 },
    // An http(s) origin: no credentials, path, query or fragment (a lone trailing slash is fine).
    HOTTASK_BASE_URL: { type: 'string', pattern: '^https?://[^/?#@\\s]+/?$', default: 'https://usapi.hottask.com' },
    HOST: { type: 'string', minLength: 1, default: '0.0.0.0' },
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    LOG_LEVEL: { type: 'string', enum: LOG_LEVELS, default: 'info' },
    UPSTREAM_TIMEOUT_MS: { type: 'integer', minimum: 1, maximum: 600000, default: 10000 },
    BODY_LIMIT_BYTES: { type: 'integer', minimum: 16, maximum: 1048576, default: 4096 }
  }
}

export const CONFIG_VARIABLES = Object.keys(schema.properties)

interface RawEnv {
  HOTTASK_API_KEY?: string
  HOTTASK_API_KEY_FILE?: string
  HOTTASK_BASE_URL: string
  HOST: string
  PORT: number
  LOG_LEVEL: string
  UPSTREAM_TIMEOUT_MS: number
  BODY_LIMIT_BYTES: number
}

export interface Config {
  apiKey: string
  apiKeyFile: string | undefined
  baseUrl: string
  host: string
  port: number
  logLevel: string
  upstreamTimeoutMs: number
  bodyLimitBytes: number
}

export class ConfigError extends Error {
  readonly problems: string[]

  constructor (problems: string[]) {
    super('Invalid configuration:\n' + problems.map((p) => `  - ${p}`).join('\n'))
    this.name = 'ConfigError'
    this.problems = problems
  }
}

interface AjvIssue { instancePath: string, keyword: string, params: Record<string, unknown> }

function describe (issue: AjvIssue): string {
  const name = issue.keyword === 'required'
    ? String(issue.params.missingProperty)
    : issue.instancePath.slice(1)
  return `${name}: expected ${EXPECTED[name] ?? 'a valid value'}`
}

/** The environment checked against the schema, or the problems it has. */
function validate (env: Record<string, string | undefined>): { raw?: RawEnv, problems: string[] } {
  // Empty strings mean "unset": that is how `.env` files and compose leave a variable blank.
  const data = Object.fromEntries(
    CONFIG_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => [name, env[name]])
  )
  try {
    return { raw: envSchema({ schema: structuredClone(schema), data, env: false, dotenv: false }) as unknown as RawEnv, problems: [] }
  } catch (error) {
    const issues = (error as { errors?: AjvIssue[] }).errors ?? []
    return { problems: [...new Set(issues.map(describe))] }
  }
}

const KEY_PATTERN = /^[\x21-\x7e]+$/

/** Reads a key file; a read failure or a bad value is a problem, never echoed. */
export function readKeyFile (path: string, variable: string): { key?: string, problem?: string } {
  let key: string
  try {
    key = readFileSync(path, 'utf8').trim()
  } catch (error) {
    return { problem: `${variable}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})` }
  }
  if (!KEY_PATTERN.test(key)) return { problem: `${variable}: the file must hold one key of ${EXPECTED.HOTTASK_API_KEY}` }
  return { key }
}

/** The key, from the variable or the file; both set, or neither, is a problem. */
function resolveKey (key: string | undefined, file: string | undefined): { key?: string, problem?: string } {
  if (key !== undefined && file !== undefined) return { problem: 'HOTTASK_API_KEY, HOTTASK_API_KEY_FILE: set one of them, not both' }
  if (file !== undefined) return readKeyFile(file, 'HOTTASK_API_KEY_FILE')
  if (key === undefined) return { problem: 'HOTTASK_API_KEY: required (or set HOTTASK_API_KEY_FILE to a file holding the key)' }
  return { key }
}

const unset = (value: string | undefined): string | undefined => value === '' ? undefined : value

export function loadConfig (env: Record<string, string | undefined>): Config {
  const { raw, problems } = validate(env)
  // A key with a bad shape is already reported by the schema; do not report it twice.
  const keyShapeReported = problems.some((p) => p.startsWith('HOTTASK_API_KEY:'))
  const { key, problem } = resolveKey(unset(env.HOTTASK_API_KEY), unset(env.HOTTASK_API_KEY_FILE))
  if (problem !== undefined && !keyShapeReported) problems.push(problem)
  if (raw === undefined || key === undefined || problems.length > 0) throw new ConfigError(problems)

  return {
    apiKey: key,
    apiKeyFile: raw.HOTTASK_API_KEY_FILE,
    baseUrl: new URL(raw.HOTTASK_BASE_URL).origin,
    host: raw.HOST,
    port: raw.PORT,
    logLevel: raw.LOG_LEVEL,
    upstreamTimeoutMs: raw.UPSTREAM_TIMEOUT_MS,
    bodyLimitBytes: raw.BODY_LIMIT_BYTES
  }
}
