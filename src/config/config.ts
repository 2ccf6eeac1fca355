// The service's configuration: one JSON schema over the environment, validated once
// before the app exists. Problems are reported one per variable, never with a value,
// because some of the values are secrets.
import envSchema from 'env-schema'
import { parseClientTokens, parseOrigins, parseTrustProxy, splitList } from './lists.ts'
import type { ClientToken, Parsed, TrustProxy } from './lists.ts'
import { parseBaseUrl } from './base-url.ts'
import { maxConnections, readOpenFilesLimit } from './connections.ts'
import { readKeyFile, readSecretFile } from './key-file.ts'
import { readClientTokensFile } from './client-tokens-file.ts'
import { readRedisCa } from './redis-tls.ts'
import { resolveIdentity } from './identity.ts'
import { resolveTracing } from './tracing.ts'
import type { TracingConfig } from './tracing.ts'
import type { IdentityConfig } from './identity.ts'
import { hmacSecretProblem, redisPasswordProblem } from './secrets.ts'
import { SERIAL_NUMBER } from './patterns.ts'
import { CONFIG_VARIABLES, schema, VARIABLES } from './schema.ts'
import type { RawEnv, VariableName } from './schema.ts'

export { CONFIG_VARIABLES }
export type { ClientToken, TrustProxy }
export type { BotCheckConfig, QuotaConfig, VisitorKeySource, VisitorTokenConfig } from './identity.ts'
export type { TracingConfig }

export interface Config extends IdentityConfig {
  apiKey: string
  apiKeyFile: string | undefined
  baseUrl: string
  host: string
  port: number
  logLevel: string
  upstreamTimeoutMs: number
  bodyLimitBytes: number
  cors: { origins: string[], maxAgeSeconds: number }
  rateLimit: { max: number, clientMax: number, windowMs: number, onStoreError: 'open' | 'closed' }
  trustProxy: TrustProxy
  redisUrl: string | undefined
  /** REDIS_TLS_CA_FILE's certificates (PEM); undefined: the system's CAs. */
  redisCa: string | undefined
  /** From CLIENT_TOKENS, or read from `clientTokensFile` (re-read on SIGHUP and on change). */
  clientTokens: ClientToken[]
  clientTokensFile: string | undefined
  requireClientToken: boolean
  /** Undefined: every chatbot id is allowed. */
  allowedSerialNumbers: string[] | undefined
  defaultSerialNumber: string | undefined
  /** Socket limits for slow clients, applied to the HTTP server. */
  server: { headersTimeoutMs: number, requestTimeoutMs: number, keepAliveTimeoutMs: number, maxConnections: number }
  shutdown: { drainDelayMs: number, timeoutMs: number }
  /** The failover key, from HOTTASK_API_KEY_NEXT or its file. */
  nextApiKey: string | undefined
  nextApiKeyFile: string | undefined
  retry: { retries: number, baseMs: number, budgetPercent: number, budgetMin: number }
  circuit: { failureThreshold: number, cooldownMs: number }
  /** Breakers for failures that are about one chatbot, and how many chatbots they (and the key evidence) remember. */
  chatbotCircuit: { failureThreshold: number, cooldownMs: number, maxChatbots: number }
  load: { maxConcurrency: number, queueMax: number, maxEventLoopDelayMs: number, maxHeapUsedBytes: number }
  idempotency: { ttlMs: number, maxKeys: number }
  /** The metrics listener: /metrics is never served on the main port. */
  metrics: { port: number, host: string }
  /**
   * The secrets that sign and verify session tokens. `secret` undefined: none was given,
   * and the app makes a random one (a single replica only: REDIS_URL requires one).
   */
  sessionTokens: { secret: string | undefined, secretFile: string | undefined, previous: string | undefined, previousFile: string | undefined, ttlMs: number }
  messages: {
    maxChars: number
    bodyLimitBytes: number
    timeoutMs: number
    streamIdleTimeoutMs: number
    streamMaxMs: number
    rateLimitMax: number
    maxConcurrency: number
    queueMax: number
  }
  /** OpenTelemetry tracing; undefined: off, and nothing of it is loaded. */
  tracing: TracingConfig | undefined
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
  const name = (issue.keyword === 'required' ? String(issue.params.missingProperty) : issue.instancePath.slice(1)) as VariableName
  return `${name}: expected ${VARIABLES[name].expected}`
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

/** The key, from the variable or the file; both set, or neither, is a problem. */
function resolveKey (key: string | undefined, file: string | undefined): { key?: string, problem?: string } {
  if (key !== undefined && file !== undefined) return { problem: 'HOTTASK_API_KEY, HOTTASK_API_KEY_FILE: set one of them, not both' }
  if (file !== undefined) return readKeyFile(file, 'HOTTASK_API_KEY_FILE')
  if (key === undefined) return { problem: 'HOTTASK_API_KEY: required (or set HOTTASK_API_KEY_FILE to a file holding the key)' }
  return { key }
}

const unset = (value: string | undefined): string | undefined => value === '' ? undefined : value

/** What the process is given by its host rather than its environment. */
export interface HostLimits {
  /** The soft open-files limit; undefined when the system does not tell it. */
  openFilesLimit: number | undefined
}

/** The rules that span several variables, checked once the schema has passed. */
function parseAccess (raw: RawEnv, problems: string[]) {
  const take = <T>(parsed: Parsed<T>, fallback: T): T => {
    if (parsed.problem !== undefined) problems.push(parsed.problem)
    return parsed.value ?? fallback
  }
  const origins = take(parseOrigins(raw.CORS_ORIGINS), [])
  const clientTokens = take(clientTokensOf(raw), [])
  const redisCa = take(readRedisCa(raw.REDIS_TLS_CA_FILE, raw.REDIS_URL), undefined)
  const trustProxy = take(parseTrustProxy(raw.TRUST_PROXY), false)
  const baseUrl = take(parseBaseUrl(raw.HOTTASK_BASE_URL, raw.HOTTASK_ALLOW_INSECURE_UPSTREAM), '')
  const redisProblem = redisPasswordProblem(raw.REDIS_URL)
  if (redisProblem !== undefined) problems.push(redisProblem)
  const allowed = splitList(raw.ALLOWED_SERIAL_NUMBERS)
  if (!allowed.every((id) => SERIAL_NUMBER.test(id))) problems.push(`ALLOWED_SERIAL_NUMBERS: expected ${VARIABLES.ALLOWED_SERIAL_NUMBERS.expected}`)
  if (raw.REQUIRE_CLIENT_TOKEN && clientTokens.length === 0) problems.push('REQUIRE_CLIENT_TOKEN: needs CLIENT_TOKENS or CLIENT_TOKENS_FILE to be set')
  const fallback = raw.DEFAULT_SERIAL_NUMBER
  if (fallback !== undefined && allowed.length > 0 && !allowed.includes(fallback)) {
    problems.push('DEFAULT_SERIAL_NUMBER: must be one of ALLOWED_SERIAL_NUMBERS')
  }
  // In-flight requests must be able to use their whole upstream deadline while draining.
  if (raw.SHUTDOWN_TIMEOUT_MS < raw.UPSTREAM_TIMEOUT_MS) problems.push('SHUTDOWN_TIMEOUT_MS: must be at least UPSTREAM_TIMEOUT_MS')
  if (raw.CLIENT_REQUEST_TIMEOUT_MS < raw.CLIENT_HEADERS_TIMEOUT_MS) problems.push('CLIENT_REQUEST_TIMEOUT_MS: must be at least CLIENT_HEADERS_TIMEOUT_MS')
  return { origins, clientTokens, redisCa, trustProxy, baseUrl, allowed: allowed.length > 0 ? allowed : undefined }
}

/** Client tokens from CLIENT_TOKENS or from CLIENT_TOKENS_FILE (not both; the file must hold one). */
function clientTokensOf (raw: RawEnv): Parsed<ClientToken[]> {
  if (raw.CLIENT_TOKENS_FILE === undefined) return parseClientTokens(raw.CLIENT_TOKENS)
  if (raw.CLIENT_TOKENS !== '') return { problem: 'CLIENT_TOKENS, CLIENT_TOKENS_FILE: set one of them, not both' }
  return readClientTokensFile(raw.CLIENT_TOKENS_FILE)
}

/** The optional next key, from its variable or its file (not both). */
function resolveNextKey (key: string | undefined, file: string | undefined, problems: string[]): string | undefined {
  if (key !== undefined && file !== undefined) {
    problems.push('HOTTASK_API_KEY_NEXT, HOTTASK_API_KEY_NEXT_FILE: set one of them, not both')
    return undefined
  }
  if (file === undefined) return key
  const read = readKeyFile(file, 'HOTTASK_API_KEY_NEXT_FILE')
  if (read.problem !== undefined) problems.push(read.problem)
  return read.key
}

/** A session-token secret from its variable or its file (not both). */
function resolveSecret (value: string | undefined, file: string | undefined, variable: string, problems: string[]): string | undefined {
  if (value !== undefined && file !== undefined) {
    problems.push(`${variable}, ${variable}_FILE: set one of them, not both`)
    return undefined
  }
  if (file !== undefined) {
    const read = readSecretFile(file, `${variable}_FILE`)
    if (read.problem !== undefined) problems.push(read.problem)
    return read.secret
  }
  if (value === undefined) return undefined
  const short = hmacSecretProblem(value, variable)
  if (short !== undefined) problems.push(short)
  return short === undefined ? value : undefined
}

function resolveSessionTokens (raw: RawEnv, problems: string[]): Config['sessionTokens'] {
  const secret = resolveSecret(raw.SESSION_TOKEN_SECRET, raw.SESSION_TOKEN_SECRET_FILE, 'SESSION_TOKEN_SECRET', problems)
  const previous = resolveSecret(raw.SESSION_TOKEN_SECRET_PREVIOUS, raw.SESSION_TOKEN_SECRET_PREVIOUS_FILE, 'SESSION_TOKEN_SECRET_PREVIOUS', problems)
  const given = raw.SESSION_TOKEN_SECRET !== undefined || raw.SESSION_TOKEN_SECRET_FILE !== undefined
  // Replicas with secrets of their own would refuse each other's tokens at random.
  if (!given && raw.REDIS_URL !== undefined) {
    problems.push('SESSION_TOKEN_SECRET: required with REDIS_URL (set it, or SESSION_TOKEN_SECRET_FILE, to the same secret on every replica)')
  }
  return { secret, secretFile: raw.SESSION_TOKEN_SECRET_FILE, previous, previousFile: raw.SESSION_TOKEN_SECRET_PREVIOUS_FILE, ttlMs: raw.SESSION_TOKEN_TTL_MS }
}

export function loadConfig (env: Record<string, string | undefined>, host: HostLimits = { openFilesLimit: readOpenFilesLimit() }): Config {
  const { raw, problems } = validate(env)
  // A key with a bad shape is already reported by the schema; do not report it twice.
  const keyShapeReported = problems.some((p) => p.startsWith('HOTTASK_API_KEY:'))
  const { key, problem } = resolveKey(unset(env.HOTTASK_API_KEY), unset(env.HOTTASK_API_KEY_FILE))
  if (problem !== undefined && !keyShapeReported) problems.push(problem)
  if (raw === undefined) throw new ConfigError(problems)
  const access = parseAccess(raw, problems)
  const nextKey = resolveNextKey(raw.HOTTASK_API_KEY_NEXT, raw.HOTTASK_API_KEY_NEXT_FILE, problems)
  const sessionTokens = resolveSessionTokens(raw, problems)
  const identity = resolveIdentity(raw, problems)
  const connections = maxConnections(raw.MAX_CONNECTIONS, host.openFilesLimit, raw.UPSTREAM_MAX_CONCURRENCY + raw.MESSAGE_MAX_CONCURRENCY)
  if (connections.problem !== undefined) problems.push(connections.problem)
  if (key === undefined || problems.length > 0) throw new ConfigError(problems)

  return {
    apiKey: key,
    apiKeyFile: raw.HOTTASK_API_KEY_FILE,
    baseUrl: access.baseUrl,
    host: raw.HOST,
    port: raw.PORT,
    logLevel: raw.LOG_LEVEL,
    upstreamTimeoutMs: raw.UPSTREAM_TIMEOUT_MS,
    bodyLimitBytes: raw.BODY_LIMIT_BYTES,
    cors: { origins: access.origins, maxAgeSeconds: raw.CORS_MAX_AGE },
    rateLimit: {
      max: raw.RATE_LIMIT_MAX,
      clientMax: raw.CLIENT_RATE_LIMIT_MAX,
      windowMs: raw.RATE_LIMIT_WINDOW_MS,
      onStoreError: raw.RATE_LIMIT_ON_STORE_ERROR
    },
    trustProxy: access.trustProxy,
    redisUrl: raw.REDIS_URL,
    redisCa: access.redisCa,
    clientTokens: access.clientTokens,
    clientTokensFile: raw.CLIENT_TOKENS_FILE,
    requireClientToken: raw.REQUIRE_CLIENT_TOKEN,
    allowedSerialNumbers: access.allowed,
    defaultSerialNumber: raw.DEFAULT_SERIAL_NUMBER,
    server: {
      headersTimeoutMs: raw.CLIENT_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: raw.CLIENT_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: raw.KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: connections.value ?? 0
    },
    shutdown: { drainDelayMs: raw.SHUTDOWN_DRAIN_DELAY_MS, timeoutMs: raw.SHUTDOWN_TIMEOUT_MS },
    nextApiKey: nextKey,
    nextApiKeyFile: raw.HOTTASK_API_KEY_NEXT_FILE,
    retry: {
      retries: raw.UPSTREAM_RETRIES,
      baseMs: raw.UPSTREAM_RETRY_BASE_MS,
      budgetPercent: raw.UPSTREAM_RETRY_BUDGET_PERCENT,
      budgetMin: raw.UPSTREAM_RETRY_BUDGET_MIN
    },
    circuit: { failureThreshold: raw.CIRCUIT_FAILURE_THRESHOLD, cooldownMs: raw.CIRCUIT_COOLDOWN_MS },
    chatbotCircuit: {
      failureThreshold: raw.CHATBOT_CIRCUIT_FAILURE_THRESHOLD,
      cooldownMs: raw.CHATBOT_CIRCUIT_COOLDOWN_MS,
      maxChatbots: raw.CHATBOT_CIRCUIT_MAX_CHATBOTS
    },
    load: {
      maxConcurrency: raw.UPSTREAM_MAX_CONCURRENCY,
      queueMax: raw.UPSTREAM_QUEUE_MAX,
      maxEventLoopDelayMs: raw.MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: raw.MAX_HEAP_USED_BYTES
    },
    idempotency: { ttlMs: raw.IDEMPOTENCY_TTL_MS, maxKeys: raw.IDEMPOTENCY_MAX_KEYS },
    metrics: { port: raw.METRICS_PORT, host: raw.METRICS_HOST ?? raw.HOST },
    sessionTokens,
    ...identity,
    messages: {
      maxChars: raw.MESSAGE_MAX_CHARS,
      bodyLimitBytes: raw.MESSAGE_BODY_LIMIT_BYTES,
      timeoutMs: raw.MESSAGE_TIMEOUT_MS,
      streamIdleTimeoutMs: raw.STREAM_IDLE_TIMEOUT_MS,
      streamMaxMs: raw.STREAM_MAX_MS,
      rateLimitMax: raw.MESSAGE_RATE_LIMIT_MAX,
      maxConcurrency: raw.MESSAGE_MAX_CONCURRENCY,
      queueMax: raw.MESSAGE_QUEUE_MAX
    },
    tracing: resolveTracing(raw)
  }
}
