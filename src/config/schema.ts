// Every environment variable the service reads: its JSON schema for Ajv and, in words,
// what it expects for people. The README's configuration table is tested against it.

import { BASE_URL_EXPECTED } from './base-url.ts'
import { API_KEY_PATTERN, SERIAL_NUMBER_PATTERN } from './patterns.ts'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** The OTLP protocols the OpenTelemetry SDK speaks (its default: http/protobuf). */
const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const
/** OTEL_EXPORTER_OTLP_HEADERS' form, as the SDK parses it: `name=value` pairs, comma-separated. */
const OTLP_HEADERS = '^[^=,\\s]+=[^,]+(,[^=,\\s]+=[^,]+)*$'

/** The samplers OTEL_TRACES_SAMPLER may name (the SDK's default: parentbased_always_on). */
const TRACE_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const

/** Node's timer limit: every new *_MS variable may go up to it, every *_S variable to its seconds. */
const MAX_TIMER_MS = 2 ** 31 - 1
const MAX_TIMER_S = Math.floor(MAX_TIMER_MS / 1000)

interface IntegerSchema { type: 'integer', minimum: number, maximum: number }

// Overloads, so the type knows which integers have a default (and are never undefined).
function integer (minimum: number, maximum: number): { schema: IntegerSchema, expected: string }
function integer (minimum: number, maximum: number, fallback: number): { schema: IntegerSchema & { default: number }, expected: string }
function integer (minimum: number, maximum: number, fallback?: number) {
  return {
    schema: { type: 'integer', minimum, maximum, ...(fallback === undefined ? {} : { default: fallback }) },
    expected: `an integer from ${minimum} to ${maximum}`
  }
}

const list = (expected: string) => ({ schema: { type: 'string', default: '' }, expected }) as const

const apiKey = {
  schema: { type: 'string', pattern: API_KEY_PATTERN },
  expected: 'at least 8 visible ASCII characters, no spaces (a shorter key is guessable, and scrubbing it from every log line by value would corrupt them)'
} as const

export const VARIABLES = {
  HOTTASK_API_KEY: apiKey,
  HOTTASK_API_KEY_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  // An http(s) origin: no credentials, path, query or fragment (a lone trailing slash is fine).
  HOTTASK_BASE_URL: {
    schema: { type: 'string', pattern: '^https?://[^/?#@\\s]+/?$', default: 'https://usapi.hottask.com' },
    expected: BASE_URL_EXPECTED
  },
  HOTTASK_ALLOW_INSECURE_UPSTREAM: { schema: { type: 'boolean', default: false }, expected: '`true` or `false`' },
  HOST: { schema: { type: 'string', minLength: 1, default: '0.0.0.0' }, expected: 'a host name or address to listen on' },
  PORT: integer(0, 65535, 3000),
  LOG_LEVEL: { schema: { type: 'string', enum: LOG_LEVELS, default: 'info' }, expected: LOG_LEVELS.join(', ') },
  UPSTREAM_TIMEOUT_MS: integer(1, 600000, 10000),
  BODY_LIMIT_BYTES: integer(16, 1048576, 4096),
  CORS_ORIGINS: list('comma-separated exact origins (scheme://host[:port]), `null`, or `*` alone'),
  CORS_MAX_AGE: integer(0, 86400, 600),
  RATE_LIMIT_MAX: integer(1, 1000000000, 30),
  RATE_LIMIT_WINDOW_MS: integer(1, 86400000, 60000),
  CLIENT_RATE_LIMIT_MAX: integer(1, 1000000000, 600),
  TRUST_PROXY: { schema: { type: 'string', default: 'false' }, expected: '`true`, `false`, a hop count, or comma-separated addresses/CIDRs' },
  REDIS_URL: { schema: { type: 'string', pattern: '^rediss?://' }, expected: 'a redis:// or rediss:// URL' },
  REDIS_TLS_CA_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file of PEM certificates' },
  RATE_LIMIT_ON_STORE_ERROR: { schema: { type: 'string', enum: ['open', 'closed'], default: 'open' }, expected: '`open` or `closed`' },
  CLIENT_TOKENS: list('comma-separated name:token pairs; names of A-Z a-z 0-9 . _ -, tokens of at least 16 visible characters'),
  CLIENT_TOKENS_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  REQUIRE_CLIENT_TOKEN: { schema: { type: 'boolean', default: false }, expected: '`true` or `false`' },
  ALLOWED_SERIAL_NUMBERS: list('comma-separated chatbot ids'),
  CLIENT_HEADERS_TIMEOUT_MS: integer(1, 600000, 10000),
  CLIENT_REQUEST_TIMEOUT_MS: integer(1, 3600000, 30000),
  KEEP_ALIVE_TIMEOUT_MS: integer(1, 3600000, 72000),
  SHUTDOWN_DRAIN_DELAY_MS: integer(0, 300000, 0),
  SHUTDOWN_TIMEOUT_MS: integer(1, 3600000, 15000),
  HOTTASK_API_KEY_NEXT: apiKey,
  HOTTASK_API_KEY_NEXT_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  UPSTREAM_RETRIES: integer(0, 10, 2),
  UPSTREAM_RETRY_BASE_MS: integer(1, 60000, 100),
  UPSTREAM_RETRY_BUDGET_PERCENT: integer(0, 100, 20),
  UPSTREAM_RETRY_BUDGET_MIN: integer(0, 100000, 3),
  CIRCUIT_FAILURE_THRESHOLD: integer(1, 100000, 5),
  CIRCUIT_COOLDOWN_MS: integer(1, 3600000, 10000),
  CHATBOT_CIRCUIT_FAILURE_THRESHOLD: integer(1, 100000, 3),
  CHATBOT_CIRCUIT_COOLDOWN_MS: integer(1, 86400000, 60000),
  CHATBOT_CIRCUIT_MAX_CHATBOTS: integer(1, 10000000, 10000),
  UPSTREAM_MAX_CONCURRENCY: integer(1, 65536, 256),
  UPSTREAM_QUEUE_MAX: integer(0, 1000000, 1024),
  MAX_EVENT_LOOP_DELAY_MS: integer(0, 600000, 1000),
  MAX_HEAP_USED_BYTES: integer(0, 1099511627776, 0),
  IDEMPOTENCY_TTL_MS: integer(1, 604800000, 86400000),
  IDEMPOTENCY_MAX_KEYS: integer(1, 10000000, 10000),
  METRICS_PORT: integer(0, 65535, 9464),
  MAX_CONNECTIONS: integer(16, 1048576),
  METRICS_HOST: { schema: { type: 'string', minLength: 1 }, expected: 'a host name or address for the metrics listener' },
  SESSION_TOKEN_SECRET: { schema: { type: 'string' }, expected: 'at least 32 bytes (a random string: `openssl rand -base64 48`)' },
  SESSION_TOKEN_SECRET_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  SESSION_TOKEN_SECRET_PREVIOUS: { schema: { type: 'string' }, expected: 'at least 32 bytes' },
  SESSION_TOKEN_SECRET_PREVIOUS_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  SESSION_TOKEN_TTL_MS: integer(1, 31536000000, 86400000),
  MESSAGE_MAX_CHARS: integer(1, 1000000, 4000),
  MESSAGE_BODY_LIMIT_BYTES: integer(16, 16777216, 32768),
  MESSAGE_TIMEOUT_MS: integer(1, 3600000, 60000),
  STREAM_IDLE_TIMEOUT_MS: integer(1, 3600000, 30000),
  STREAM_MAX_MS: integer(1, 86400000, 300000),
  MESSAGE_RATE_LIMIT_MAX: integer(1, 1000000000, 20),
  MESSAGE_MAX_CONCURRENCY: integer(1, 65536, 256),
  MESSAGE_QUEUE_MAX: integer(0, 1000000, 1024),
  VISITOR_JWKS_URL: { schema: { type: 'string', pattern: '^https?://' }, expected: 'an https:// URL of a JSON Web Key Set' },
  VISITOR_JWKS_COOLDOWN_MS: integer(1, MAX_TIMER_MS, 30000),
  VISITOR_JWT_PUBLIC_KEY: { schema: { type: 'string' }, expected: 'a PEM public key (RSA, EC P-256/384/521 or Ed25519)' },
  VISITOR_JWT_PUBLIC_KEY_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  VISITOR_JWT_SECRET: { schema: { type: 'string' }, expected: 'at least 32 bytes (HS256)' },
  VISITOR_JWT_SECRET_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  VISITOR_JWT_ISSUER: { schema: { type: 'string', minLength: 1 }, expected: 'the `iss` your site\'s backend writes into visitor tokens' },
  VISITOR_JWT_AUDIENCE: { schema: { type: 'string', minLength: 1 }, expected: 'the `aud` your site\'s backend writes into visitor tokens' },
  VISITOR_JWT_MAX_TTL_S: integer(1, MAX_TIMER_S, 3600),
  REQUIRE_VISITOR_TOKEN: { schema: { type: 'boolean', default: false }, expected: '`true` or `false`' },
  BOT_CHECK: { schema: { type: 'string', enum: ['off', 'turnstile', 'altcha'], default: 'off' }, expected: '`off`, `turnstile` or `altcha`' },
  BOT_CHECK_TIMEOUT_MS: integer(1, MAX_TIMER_MS, 3000),
  BOT_CHECK_ON_ERROR: { schema: { type: 'string', enum: ['closed', 'open'], default: 'closed' }, expected: '`closed` or `open`' },
  TURNSTILE_VERIFY_URL: { schema: { type: 'string', pattern: '^https?://', default: 'https://challenges.cloudflare.com/turnstile/v0/siteverify' }, expected: 'an https:// URL' },
  TURNSTILE_SECRET: { schema: { type: 'string', minLength: 1 }, expected: 'the Turnstile widget\'s secret key' },
  TURNSTILE_SECRET_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  TURNSTILE_ACTION: { schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' }, expected: 'the action name the widget is rendered with (1-32 characters A-Z a-z 0-9 _ -)' },
  ALTCHA_HMAC_KEY: { schema: { type: 'string' }, expected: 'at least 32 bytes (a random string: `openssl rand -base64 48`)' },
  ALTCHA_HMAC_KEY_FILE: { schema: { type: 'string' }, expected: 'a path to a readable file' },
  ALTCHA_MAX_NUMBER: integer(1000, 100000000, 100000),
  ALTCHA_TTL_S: integer(1, MAX_TIMER_S, 300),
  QUOTA_SESSIONS_PER_DAY: integer(1, 1000000000),
  QUOTA_MESSAGES_PER_DAY: integer(1, 1000000000),
  QUOTA_TOKENS_PER_DAY: integer(1, 1000000000000),
  DEFAULT_SERIAL_NUMBER: { schema: { type: 'string', pattern: SERIAL_NUMBER_PATTERN }, expected: 'a chatbot id of 1-128 characters A-Z a-z 0-9 _ -' },
  // Tracing: the OpenTelemetry SDK reads these itself; they are checked here so that a typo
  // stops the start instead of silently falling back to the SDK's defaults.
  OTEL_EXPORTER_OTLP_ENDPOINT: { schema: { type: 'string', pattern: '^https?://[^\\s]+$' }, expected: 'the http(s):// base URL of an OTLP receiver (`/v1/traces` is appended)' },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { schema: { type: 'string', pattern: '^https?://[^\\s]+$' }, expected: 'the http(s):// URL traces are sent to, as it is' },
  OTEL_EXPORTER_OTLP_HEADERS: { schema: { type: 'string', pattern: OTLP_HEADERS }, expected: 'comma-separated `name=value` pairs (a backend\'s API key, for example)' },
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: { schema: { type: 'string', pattern: OTLP_HEADERS }, expected: 'comma-separated `name=value` pairs, for traces only' },
  OTEL_EXPORTER_OTLP_PROTOCOL: { schema: { type: 'string', enum: OTLP_PROTOCOLS }, expected: OTLP_PROTOCOLS.map((p) => `\`${p}\``).join(', ') },
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: { schema: { type: 'string', enum: OTLP_PROTOCOLS }, expected: OTLP_PROTOCOLS.map((p) => `\`${p}\``).join(', ') },
  OTEL_SDK_DISABLED: { schema: { type: 'boolean', default: false }, expected: '`true` or `false`' },
  OTEL_TRACES_EXPORTER: { schema: { type: 'string', enum: ['otlp', 'none'], default: 'otlp' }, expected: '`otlp` or `none`' },
  OTEL_SERVICE_NAME: { schema: { type: 'string', minLength: 1, default: 'hottask-proxy' }, expected: 'the service name traces carry' },
  OTEL_TRACES_SAMPLER: { schema: { type: 'string', enum: TRACE_SAMPLERS }, expected: TRACE_SAMPLERS.join(', ') },
  OTEL_TRACES_SAMPLER_ARG: { schema: { type: 'string', pattern: '^(0(\\.[0-9]+)?|1(\\.0+)?)$' }, expected: 'a sampling ratio from 0 to 1' },
  OTEL_BSP_SCHEDULE_DELAY: integer(0, MAX_TIMER_MS),
  OTEL_BSP_EXPORT_TIMEOUT: integer(1, MAX_TIMER_MS),
  OTEL_BSP_MAX_QUEUE_SIZE: integer(1, 1000000),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: integer(1, 1000000),
  OTEL_TRUST_INBOUND_TRACE: { schema: { type: 'boolean', default: false }, expected: '`true` or `false`' }
} as const

export type VariableName = keyof typeof VARIABLES

export const CONFIG_VARIABLES = Object.keys(VARIABLES) as VariableName[]

export const schema = {
  type: 'object',
  properties: Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, VARIABLES[name].schema]))
}

type Schema<K extends VariableName> = typeof VARIABLES[K]['schema']

/** The value Ajv leaves for a schema: an enum's members, a number, a boolean, or a string. */
type ValueOf<S> = S extends { enum: ReadonlyArray<infer E> } ? E
  : S extends { type: 'integer' } ? number
    : S extends { type: 'boolean' } ? boolean
      : string

type WithDefault = { [K in VariableName]: Schema<K> extends { default: unknown } ? K : never }[VariableName]

/** The environment once the schema has checked it and filled in the defaults (derived from VARIABLES). */
export type RawEnv =
  & { [K in WithDefault]: ValueOf<Schema<K>> }
  & { [K in Exclude<VariableName, WithDefault>]?: ValueOf<Schema<K>> }
