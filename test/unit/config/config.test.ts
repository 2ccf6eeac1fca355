import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { ConfigError, loadConfig } from '../../../src/config/config.ts'
import { refusalsOf } from '../../helpers/config-problems.ts'

const KEY = 'cfg-secret-key-0123456789'
/** Replicas (REDIS_URL) must share a session-token secret. */
const SECRET = 'session-token-secret-0123456789abcdef'

const problemsOf = refusalsOf(loadConfig)

test('defaults', async (t) => {
  t.same(loadConfig({ HOTTASK_API_KEY: KEY }, { openFilesLimit: 1024 }), {
    apiKey: KEY,
    apiKeyFile: undefined,
    baseUrl: 'https://usapi.hottask.com',
    host: '0.0.0.0',
    port: 3000,
    logLevel: 'info',
    upstreamTimeoutMs: 10000,
    bodyLimitBytes: 4096,
    cors: { origins: [], maxAgeSeconds: 600 },
    rateLimit: { max: 30, clientMax: 600, windowMs: 60000, onStoreError: 'open' },
    trustProxy: false,
    redisUrl: undefined,
    redisCa: undefined,
    clientTokens: [],
    clientTokensFile: undefined,
    requireClientToken: false,
    allowedSerialNumbers: undefined,
    defaultSerialNumber: undefined,
    server: { headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 72000, maxConnections: 448 },
    shutdown: { drainDelayMs: 0, timeoutMs: 15000 },
    nextApiKey: undefined,
    nextApiKeyFile: undefined,
    retry: { retries: 2, baseMs: 100, budgetPercent: 20, budgetMin: 3 },
    circuit: { failureThreshold: 5, cooldownMs: 10000 },
    chatbotCircuit: { failureThreshold: 3, cooldownMs: 60000, maxChatbots: 10000 },
    load: { maxConcurrency: 256, queueMax: 1024, maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0 },
    idempotency: { ttlMs: 86400000, maxKeys: 10000 },
    metrics: { port: 9464, host: '0.0.0.0' },
    sessionTokens: { secret: undefined, secretFile: undefined, previous: undefined, previousFile: undefined, ttlMs: 86400000 },
    visitors: undefined,
    botCheck: { kind: 'off' },
    quotas: { sessions: undefined, messages: undefined, tokens: undefined },
    messages: { maxChars: 4000, bodyLimitBytes: 32768, timeoutMs: 60000, streamIdleTimeoutMs: 30000, streamMaxMs: 300000, rateLimitMax: 20, maxConcurrency: 256, queueMax: 1024 }
  })
})

test('values from the environment, numbers parsed, base URL normalised', async (t) => {
  const config = loadConfig({
    HOTTASK_API_KEY: KEY,
    HOTTASK_BASE_URL: 'http://127.0.0.1:4010/',
    HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true',
    HOST: '127.0.0.1',
    PORT: '8080',
    LOG_LEVEL: 'debug',
    UPSTREAM_TIMEOUT_MS: '2500',
    BODY_LIMIT_BYTES: '1024',
    UNRELATED: 'ignored'
  })
  t.equal(config.baseUrl, 'http://127.0.0.1:4010')
  t.equal(config.port, 8080)
  t.equal(config.upstreamTimeoutMs, 2500)
  t.equal(config.bodyLimitBytes, 1024)
  t.equal(config.logLevel, 'debug')
})

test('empty values count as unset', async (t) => {
  const config = loadConfig({ HOTTASK_API_KEY: KEY, HOTTASK_API_KEY_FILE: '', PORT: '' })
  t.equal(config.port, 3000)
})

test('the key from a file, surrounding whitespace trimmed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
  const file = join(dir, 'key')
  writeFileSync(file, `\n  ${KEY}  \n`)
  const config = loadConfig({ HOTTASK_API_KEY_FILE: file })
  t.equal(config.apiKey, KEY)
  t.equal(config.apiKeyFile, file)
})

test('one clear problem per variable, never a value', async (t) => {
  const problems = problemsOf({
    HOTTASK_API_KEY: 'has a space ' + KEY,
    PORT: '99999',
    LOG_LEVEL: 'loud',
    UPSTREAM_TIMEOUT_MS: 'soon',
    BODY_LIMIT_BYTES: '1',
    HOTTASK_BASE_URL: 'ftp://x'
  })
  t.equal(problems.length, 6, problems.join('\n'))
  for (const name of ['HOTTASK_API_KEY', 'HOTTASK_BASE_URL', 'PORT', 'LOG_LEVEL', 'UPSTREAM_TIMEOUT_MS', 'BODY_LIMIT_BYTES']) {
    t.ok(problems.some((p) => p.startsWith(`${name}: expected`)), name)
  }
  t.notMatch(problems.join('\n'), KEY)
})

test('the base URL must be a bare https origin that parses back exactly as written', async (t) => {
  const expected = ['HOTTASK_BASE_URL: expected an https origin such as https://usapi.hottask.com (no path, query or credentials)']
  for (const url of ['ftp://x.example', 'https://x.example/chat', 'https://x.example?a=1', 'https://u:p@x.example', 'not a url',
    'https://evil.example\\.usapi.hottask.com', 'https://usapi.hottask.com:99999', 'HTTPS://USAPI.HOTTASK.COM', 'https://usapi.hottask.com:443']) {
    t.same(problemsOf({ HOTTASK_API_KEY: KEY, HOTTASK_BASE_URL: url }), expected, url)
  }
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, HOTTASK_BASE_URL: 'https://usapi.hottask.com/' }).baseUrl, 'https://usapi.hottask.com', 'a trailing slash is fine')
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, HOTTASK_BASE_URL: 'https://eu.example:8443' }).baseUrl, 'https://eu.example:8443')
})

test('attack: the key never travels over plain http unless a local simulator is declared', async (t) => {
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, HOTTASK_BASE_URL: 'http://usapi.hottask.com' }), [/^HOTTASK_BASE_URL: must be https.*HOTTASK_ALLOW_INSECURE_UPSTREAM=true/])
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, HOTTASK_BASE_URL: 'http://127.0.0.1:4010', HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true' }).baseUrl, 'http://127.0.0.1:4010')
})

test('attack: a short secret, which would be guessable and corrupt every log line, is a start-up error', async (t) => {
  t.match(problemsOf({ HOTTASK_API_KEY: 'seven77' }), [/^HOTTASK_API_KEY: expected at least 8 visible ASCII characters.*corrupt/])
  t.equal(loadConfig({ HOTTASK_API_KEY: 'eight888' }).apiKey, 'eight888')
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, HOTTASK_API_KEY_NEXT: 'short' }), [/^HOTTASK_API_KEY_NEXT: expected at least 8/])
  const dir = mkdtempSync(join(tmpdir(), 'cfg-short-'))
  const file = join(dir, 'key')
  writeFileSync(file, 'abc\n')
  t.match(problemsOf({ HOTTASK_API_KEY_FILE: file }), [/^HOTTASK_API_KEY_FILE: the file must hold one key of at least 8/])
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS: 'svc:fifteen-chars' }), [/^CLIENT_TOKENS: entry 1 .*at least 16/])
  const redis = problemsOf({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET, REDIS_URL: 'redis://:x@127.0.0.1:6379/0' })
  t.same(redis, ['REDIS_URL: the password must have at least 8 characters (a shorter one is guessable, and scrubbing it from every log line by value would corrupt them)'])
  t.notMatch(redis.join(), ':x@', 'the URL is never echoed')
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET, REDIS_URL: 'redis://:pass%2Fword@127.0.0.1:6379/0' }).redisUrl, 'redis://:pass%2Fword@127.0.0.1:6379/0', 'eight characters once decoded')
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET, REDIS_URL: 'redis://127.0.0.1:6379/0' }).redisUrl, 'redis://127.0.0.1:6379/0', 'no password at all is fine')
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET, REDIS_URL: 'redis://[unclosed' }), ['REDIS_URL: expected a redis:// or rediss:// URL'], 'a URL that does not parse')
})

test('key problems', async (t) => {
  t.match(problemsOf({}), [/^HOTTASK_API_KEY: required/])
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, HOTTASK_API_KEY_FILE: '/x' }), [/set one of them, not both/])
  t.match(problemsOf({ HOTTASK_API_KEY_FILE: '/nonexistent/key' }), [/^HOTTASK_API_KEY_FILE: cannot read the file \(ENOENT\)/])
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
  const empty = join(dir, 'empty')
  writeFileSync(empty, '  \n')
  t.match(problemsOf({ HOTTASK_API_KEY_FILE: empty }), [/^HOTTASK_API_KEY_FILE: the file must hold one key/])
  const twoWords = join(dir, 'two')
  writeFileSync(twoWords, `${KEY} other`)
  const problems = problemsOf({ HOTTASK_API_KEY_FILE: twoWords })
  t.notMatch(problems.join('\n'), KEY)
})

test('access settings: origins, tokens, trust proxy, chatbot lists', async (t) => {
  const config = loadConfig({
    HOTTASK_API_KEY: KEY,
    CORS_ORIGINS: 'https://shop.example, http://127.0.0.1:8080,null',
    CORS_MAX_AGE: '120',
    CLIENT_TOKENS: 'billing:billing-token-0123456789,crm:crm-token-abcdefghijkl',
    REQUIRE_CLIENT_TOKEN: 'true',
    CLIENT_RATE_LIMIT_MAX: '50',
    TRUST_PROXY: '10.0.0.0/8, 192.168.1.1, ::1',
    REDIS_URL: 'redis://:password-1@127.0.0.1:6379/0',
    SESSION_TOKEN_SECRET: SECRET,
    RATE_LIMIT_ON_STORE_ERROR: 'closed',
    ALLOWED_SERIAL_NUMBERS: 'bot-a,bot_b',
    DEFAULT_SERIAL_NUMBER: 'bot-a'
  })
  t.same(config.cors, { origins: ['https://shop.example', 'http://127.0.0.1:8080', 'null'], maxAgeSeconds: 120 })
  t.same(config.clientTokens, [{ name: 'billing', token: 'billing-token-0123456789' }, { name: 'crm', token: 'crm-token-abcdefghijkl' }])
  t.equal(config.requireClientToken, true)
  t.equal(config.rateLimit.clientMax, 50)
  t.equal(config.rateLimit.onStoreError, 'closed')
  t.same(config.trustProxy, ['10.0.0.0/8', '192.168.1.1', '::1'])
  t.same(config.allowedSerialNumbers, ['bot-a', 'bot_b'])
  t.equal(config.defaultSerialNumber, 'bot-a')
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, TRUST_PROXY: '2' }).trustProxy, 2)
  t.same(loadConfig({ HOTTASK_API_KEY: KEY, CORS_ORIGINS: '*' }).cors.origins, ['*'])
})

test('access problems are named, tokens never printed', async (t) => {
  const token = 'short-secret'
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ CORS_ORIGINS: 'https://shop.example/' }, /^CORS_ORIGINS: each entry must be an exact origin/],
    [{ CORS_ORIGINS: '*,https://a.example' }, /^CORS_ORIGINS: `\*` must stand alone/],
    [{ CORS_ORIGINS: 'shop.example' }, /^CORS_ORIGINS/],
    [{ CLIENT_TOKENS: `svc:${token}` }, /^CLIENT_TOKENS: entry 1 must be name:token/],
    [{ CLIENT_TOKENS: 'no-colon-here-0123456789' }, /^CLIENT_TOKENS: entry 1/],
    [{ CLIENT_TOKENS: 'a:aaaaaaaaaaaaaaaaaaaa,a:bbbbbbbbbbbbbbbbbbbb' }, /^CLIENT_TOKENS: the name a appears twice/],
    [{ CLIENT_TOKENS: 'a:aaaaaaaaaaaaaaaaaaaa,b:aaaaaaaaaaaaaaaaaaaa' }, /^CLIENT_TOKENS: entry 2 repeats/],
    [{ REQUIRE_CLIENT_TOKEN: 'true' }, /^REQUIRE_CLIENT_TOKEN: needs CLIENT_TOKENS or CLIENT_TOKENS_FILE/],
    [{ REQUIRE_CLIENT_TOKEN: 'maybe' }, /^REQUIRE_CLIENT_TOKEN: expected/],
    [{ TRUST_PROXY: 'the-lb' }, /^TRUST_PROXY: expected/],
    [{ TRUST_PROXY: '10.0.0.0/99' }, /^TRUST_PROXY: expected/],
    [{ TRUST_PROXY: '10.0.0.0/8/1' }, /^TRUST_PROXY: expected/],
    [{ REDIS_URL: 'http://127.0.0.1:6379', SESSION_TOKEN_SECRET: SECRET }, /^REDIS_URL: expected/],
    [{ RATE_LIMIT_ON_STORE_ERROR: 'ajar' }, /^RATE_LIMIT_ON_STORE_ERROR: expected/],
    [{ ALLOWED_SERIAL_NUMBERS: 'ok,not ok' }, /^ALLOWED_SERIAL_NUMBERS: expected/],
    [{ DEFAULT_SERIAL_NUMBER: 'bot/1' }, /^DEFAULT_SERIAL_NUMBER: expected/],
    [{ DEFAULT_SERIAL_NUMBER: 'bot-c', ALLOWED_SERIAL_NUMBERS: 'bot-a' }, /^DEFAULT_SERIAL_NUMBER: must be one of ALLOWED_SERIAL_NUMBERS/],
    [{ UPSTREAM_TIMEOUT_MS: '20000' }, /^SHUTDOWN_TIMEOUT_MS: must be at least UPSTREAM_TIMEOUT_MS/],
    [{ HOTTASK_API_KEY_NEXT: 'next-key-0000', HOTTASK_API_KEY_NEXT_FILE: '/x' }, /^HOTTASK_API_KEY_NEXT, HOTTASK_API_KEY_NEXT_FILE: set one/],
    [{ HOTTASK_API_KEY_NEXT_FILE: '/nonexistent/next' }, /^HOTTASK_API_KEY_NEXT_FILE: cannot read/],
    [{ METRICS_PORT: 'x' }, /^METRICS_PORT: expected/],
    [{ CLIENT_HEADERS_TIMEOUT_MS: '20000', CLIENT_REQUEST_TIMEOUT_MS: '10000' }, /^CLIENT_REQUEST_TIMEOUT_MS: must be at least/]
  ]
  for (const [env, expected] of cases) {
    const problems = problemsOf({ HOTTASK_API_KEY: KEY, ...env })
    t.match(problems, [expected], JSON.stringify(env))
    t.notMatch(problems.join(' '), token)
  }
})

test('CLIENT_TOKENS_FILE: its tokens are the client tokens, with REQUIRE_CLIENT_TOKEN too', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'cfg-clients-')), 'tokens')
  writeFileSync(file, '# services\nbilling:billing-token-0123456789\n\ncrm:crm-token-abcdefghijkl\n')
  const config = loadConfig({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS_FILE: file, REQUIRE_CLIENT_TOKEN: 'true' })
  t.same(config.clientTokens, [{ name: 'billing', token: 'billing-token-0123456789' }, { name: 'crm', token: 'crm-token-abcdefghijkl' }])
  t.equal(config.clientTokensFile, file)
  t.equal(config.requireClientToken, true)
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS: '', CLIENT_TOKENS_FILE: file }).clientTokens.length, 2, 'a blank CLIENT_TOKENS is unset')
})

test('CLIENT_TOKENS_FILE: set with CLIENT_TOKENS, missing, empty or with a bad line is a start-up error that shows no token', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-clients-'))
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text)
    return join(dir, name)
  }
  const good = write('good', 'billing:billing-token-0123456789\n')
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS: 'crm:crm-token-abcdefghijkl', CLIENT_TOKENS_FILE: good }), ['CLIENT_TOKENS, CLIENT_TOKENS_FILE: set one of them, not both'])
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS_FILE: join(dir, 'missing') }), ['CLIENT_TOKENS_FILE: cannot read the file (ENOENT)'])
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS_FILE: write('empty', '') }), ['CLIENT_TOKENS_FILE: the file holds no name:token line'])
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS_FILE: write('comments', '# no tokens yet\n\n') }), ['CLIENT_TOKENS_FILE: the file holds no name:token line'])
  const bad = problemsOf({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS_FILE: write('bad', 'billing:billing-token-0123456789\ncrm:leaky-short\n') })
  t.same(bad, ['CLIENT_TOKENS_FILE: line 2 must be name:token with a name of A-Z a-z 0-9 . _ - and a token of at least 16 visible characters'])
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, CLIENT_TOKENS_FILE: write('jwt', 'web:aaaaaaaa.bbbbbbbb.cccccccc\n') }),
    ['CLIENT_TOKENS_FILE: line 1 has the shape of a JWT (three base64url parts joined by dots), which visitor tokens have: choose another token'])
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, REQUIRE_CLIENT_TOKEN: 'true' }), ['REQUIRE_CLIENT_TOKEN: needs CLIENT_TOKENS or CLIENT_TOKENS_FILE to be set'])
})

test('attack: REDIS_URL with a password or user name in its query (ioredis reads ?password=) is refused, never echoed', async (t) => {
  const hidden = 'x' // too short for the length check, which reads only the user info
  for (const query of [`password=${hidden}`, 'username=default&password=abc', `sentinelPassword=${hidden}`, `PassWord=${hidden}`, 'db=0&sentinelUsername=u']) {
    const problems = problemsOf({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET, REDIS_URL: `redis://127.0.0.1:6379/0?${query}` })
    t.same(problems, ['REDIS_URL: a password or user name belongs in the URL\'s user info (redis://user:password@host), never in its query (?password=…), which is neither checked nor scrubbed from the logs'], query)
    t.notMatch(problems.join('\n'), /abc|=x|default/, `${query}: the value is not shown`)
  }
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET, REDIS_URL: 'redis://:password-1@127.0.0.1:6379/0?family=6' }).redisUrl,
    'redis://:password-1@127.0.0.1:6379/0?family=6', 'other query options are untouched')
})

test('REDIS_TLS_CA_FILE: read with a rediss:// URL; a start-up error without one, or without a certificate in it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-redis-ca-'))
  const notPem = join(dir, 'ca.pem')
  writeFileSync(notPem, 'not a certificate\n')
  const base = { HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET }
  t.same(problemsOf({ ...base, REDIS_URL: 'redis://127.0.0.1:6379/0', REDIS_TLS_CA_FILE: notPem }), ['REDIS_TLS_CA_FILE: needs a rediss:// REDIS_URL (the CA checks a TLS connection)'])
  t.same(problemsOf({ ...base, REDIS_TLS_CA_FILE: notPem }), ['REDIS_TLS_CA_FILE: needs a rediss:// REDIS_URL (the CA checks a TLS connection)'])
  t.same(problemsOf({ ...base, REDIS_URL: 'rediss://127.0.0.1:6380/0', REDIS_TLS_CA_FILE: notPem }), ['REDIS_TLS_CA_FILE: the file must hold one or more PEM certificates (-----BEGIN CERTIFICATE-----)'])
  t.same(problemsOf({ ...base, REDIS_URL: 'rediss://127.0.0.1:6380/0', REDIS_TLS_CA_FILE: join(dir, 'missing') }), ['REDIS_TLS_CA_FILE: cannot read the file (ENOENT)'])
  const config = loadConfig({ ...base, REDIS_URL: 'rediss://127.0.0.1:6380/0' })
  t.same([config.redisUrl, config.redisCa], ['rediss://127.0.0.1:6380/0', undefined], 'rediss:// alone: the system CAs')
})

test('failover key and metrics listener', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
  const next = join(dir, 'next')
  writeFileSync(next, 'next-key-0123456789\n')
  const config = loadConfig({ HOTTASK_API_KEY: KEY, HOTTASK_API_KEY_NEXT_FILE: next, METRICS_PORT: '9100', HOST: '10.0.0.5' })
  t.equal(config.nextApiKey, 'next-key-0123456789')
  t.same(config.metrics, { port: 9100, host: '10.0.0.5' })
  t.same(loadConfig({ HOTTASK_API_KEY: KEY, METRICS_PORT: '9100', METRICS_HOST: '127.0.0.1' }).metrics, { port: 9100, host: '127.0.0.1' })
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, HOTTASK_API_KEY_NEXT: 'n2-0123456789' }).nextApiKey, 'n2-0123456789')
})

test('a ConfigError lists its problems, one per line, under one heading', async (t) => {
  const error = new ConfigError(['PORT: expected an integer from 0 to 65535', 'LOG_LEVEL: expected fatal'])
  t.equal(error.name, 'ConfigError')
  t.equal(error.message, 'Invalid configuration:\n  - PORT: expected an integer from 0 to 65535\n  - LOG_LEVEL: expected fatal')
  t.same(error.problems, ['PORT: expected an integer from 0 to 65535', 'LOG_LEVEL: expected fatal'])
})

test('MAX_CONNECTIONS: as set, or sized from the open-files limit; one the limit cannot hold is a problem', async (t) => {
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, MAX_CONNECTIONS: '400' }, { openFilesLimit: 1024 }).server.maxConnections, 400)
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, UPSTREAM_MAX_CONCURRENCY: '16', MESSAGE_MAX_CONCURRENCY: '16' }, { openFilesLimit: 256 }).server.maxConnections, 160)
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY }, { openFilesLimit: undefined }).server.maxConnections, 10000)
  try {
    loadConfig({ HOTTASK_API_KEY: KEY, MAX_CONNECTIONS: '500' }, { openFilesLimit: 1024 })
    t.fail('expected a ConfigError')
  } catch (error) {
    t.match((error as ConfigError).problems, [/^MAX_CONNECTIONS: the open-files limit \(1024\) leaves room for at most 448/])
  }
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, MAX_CONNECTIONS: '15' }), [/^MAX_CONNECTIONS: expected an integer from 16/])
})

test('session-token secrets: from a variable or a file, at least 32 bytes, one required with REDIS_URL, never echoed', async (t) => {
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET }).sessionTokens.secret, SECRET)
  const dir = mkdtempSync(join(tmpdir(), 'cfg-token-'))
  const file = join(dir, 'secret')
  writeFileSync(file, `  ${SECRET}\n`)
  const fromFile = loadConfig({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET_FILE: file, SESSION_TOKEN_SECRET_PREVIOUS: 'previous-secret-0123456789abcdefghij' })
  t.same(fromFile.sessionTokens, { secret: SECRET, secretFile: file, previous: 'previous-secret-0123456789abcdefghij', previousFile: undefined, ttlMs: 86400000 })
  const short = 'x'.repeat(31)
  const problems = problemsOf({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: short, SESSION_TOKEN_SECRET_PREVIOUS: short })
  t.match(problems, [/^SESSION_TOKEN_SECRET: must hold at least 32 bytes/, /^SESSION_TOKEN_SECRET_PREVIOUS: must hold at least 32 bytes/])
  t.notMatch(problems.join(), short)
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: 'é'.repeat(16) }).sessionTokens.secret, 'é'.repeat(16), '32 bytes, counted as bytes')
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET: SECRET, SESSION_TOKEN_SECRET_FILE: file }), ['SESSION_TOKEN_SECRET, SESSION_TOKEN_SECRET_FILE: set one of them, not both'])
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET_FILE: join(dir, 'absent') }), [/^SESSION_TOKEN_SECRET_FILE: cannot read the file \(ENOENT\)/])
  writeFileSync(join(dir, 'short'), short)
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, SESSION_TOKEN_SECRET_PREVIOUS_FILE: join(dir, 'short') }), [/^SESSION_TOKEN_SECRET_PREVIOUS_FILE: must hold at least 32 bytes/])
  t.same(problemsOf({ HOTTASK_API_KEY: KEY, REDIS_URL: 'redis://127.0.0.1:6379' }),
    ['SESSION_TOKEN_SECRET: required with REDIS_URL (set it, or SESSION_TOKEN_SECRET_FILE, to the same secret on every replica)'])
  t.equal(loadConfig({ HOTTASK_API_KEY: KEY }).sessionTokens.secret, undefined, 'one replica may go without: the app makes one')
})

test('message settings, and every *_MS variable takes any positive integer', async (t) => {
  const config = loadConfig({
    HOTTASK_API_KEY: KEY,
    MESSAGE_MAX_CHARS: '10',
    MESSAGE_BODY_LIMIT_BYTES: '100',
    MESSAGE_TIMEOUT_MS: '1',
    STREAM_IDLE_TIMEOUT_MS: '1',
    STREAM_MAX_MS: '1',
    MESSAGE_RATE_LIMIT_MAX: '3',
    MESSAGE_MAX_CONCURRENCY: '4',
    MESSAGE_QUEUE_MAX: '0',
    SESSION_TOKEN_TTL_MS: '1',
    RATE_LIMIT_WINDOW_MS: '1',
    CIRCUIT_COOLDOWN_MS: '1',
    KEEP_ALIVE_TIMEOUT_MS: '1',
    CLIENT_HEADERS_TIMEOUT_MS: '1',
    CLIENT_REQUEST_TIMEOUT_MS: '1',
    UPSTREAM_TIMEOUT_MS: '1',
    SHUTDOWN_TIMEOUT_MS: '1'
  }, { openFilesLimit: undefined })
  t.same(config.messages, { maxChars: 10, bodyLimitBytes: 100, timeoutMs: 1, streamIdleTimeoutMs: 1, streamMaxMs: 1, rateLimitMax: 3, maxConcurrency: 4, queueMax: 0 })
  t.equal(config.sessionTokens.ttlMs, 1)
  t.match(problemsOf({ HOTTASK_API_KEY: KEY, MESSAGE_TIMEOUT_MS: '0' }), [/^MESSAGE_TIMEOUT_MS: expected an integer from 1/])
})
