// Visitor tokens, the bot check and quotas as the environment configures them: exactly one
// key source, what it requires, what is refused at start, and never a value in a problem.
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { loadConfig } from '../../../src/config/config.ts'
import { refusalsOf } from '../../helpers/config-problems.ts'

const KEY = 'cfg-secret-key-0123456789'
const HS = 'visitor-jwt-secret-0123456789abcdef!'
const VISITOR = { VISITOR_JWT_ISSUER: 'https://shop.example', VISITOR_JWT_AUDIENCE: 'hottask-proxy' }
const LIMITS = { openFilesLimit: 4096 }

const load = (env: Record<string, string>) => loadConfig({ HOTTASK_API_KEY: KEY, ...env }, LIMITS)

const problemsOf = refusalsOf(load)

function pem (type: 'rsa' | 'ec' | 'ed25519', namedCurve = 'P-256'): string {
  const { publicKey } = type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : type === 'ec' ? generateKeyPairSync('ec', { namedCurve }) : generateKeyPairSync('ed25519')
  return publicKey.export({ type: 'spki', format: 'pem' }).toString()
}

function file (text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'identity-')), 'value')
  writeFileSync(path, text)
  return path
}

test('nothing set: no visitor tokens, no bot check, no quotas', async (t) => {
  const config = load({})
  t.equal(config.visitors, undefined)
  t.same(config.botCheck, { kind: 'off' })
  t.same(config.quotas, { sessions: undefined, messages: undefined, tokens: undefined })
})

test('an HS256 secret, with issuer, audience and the defaults', async (t) => {
  t.same(load({ VISITOR_JWT_SECRET: HS, ...VISITOR }).visitors, {
    keys: { kind: 'secret', secret: HS }, issuer: 'https://shop.example', audience: 'hottask-proxy', maxTtlSeconds: 3600, required: false
  })
  t.same(load({ VISITOR_JWT_SECRET_FILE: file(`${HS}\n`), ...VISITOR, REQUIRE_VISITOR_TOKEN: 'true', VISITOR_JWT_MAX_TTL_S: '600' }).visitors,
    { keys: { kind: 'secret', secret: HS }, issuer: 'https://shop.example', audience: 'hottask-proxy', maxTtlSeconds: 600, required: true })
})

test('a JWKS URL must be https unless insecure stand-ins are allowed; its cooldown defaults to 30 s', async (t) => {
  t.same(load({ VISITOR_JWKS_URL: 'https://shop.example/.well-known/jwks.json', ...VISITOR }).visitors?.keys,
    { kind: 'jwks', url: 'https://shop.example/.well-known/jwks.json', cooldownMs: 30000 })
  t.same(problemsOf({ VISITOR_JWKS_URL: 'http://127.0.0.1:9/jwks', ...VISITOR }), ['VISITOR_JWKS_URL: must be https:// (http:// only with HOTTASK_ALLOW_INSECURE_UPSTREAM=true, for local stand-ins)'])
  t.equal(load({ VISITOR_JWKS_URL: 'http://127.0.0.1:9/jwks', HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true', VISITOR_JWKS_COOLDOWN_MS: '5', ...VISITOR }).visitors?.keys.kind, 'jwks')
  t.same(problemsOf({ VISITOR_JWKS_URL: 'https://', ...VISITOR }), ['VISITOR_JWKS_URL: expected an https:// URL'])
})

test('a PEM public key of each family is accepted; a private key or garbage is refused without echoing it', async (t) => {
  for (const key of [pem('rsa'), pem('ec'), pem('ed25519')]) {
    t.equal(load({ VISITOR_JWT_PUBLIC_KEY: key, ...VISITOR }).visitors?.keys.kind, 'public-key')
  }
  t.equal(load({ VISITOR_JWT_PUBLIC_KEY_FILE: file(pem('ed25519')), ...VISITOR }).visitors?.keys.kind, 'public-key')
  const privateKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const refused = problemsOf({ VISITOR_JWT_PUBLIC_KEY: privateKey, ...VISITOR })
  t.match(refused, [/^VISITOR_JWT_PUBLIC_KEY: expected a public key, and this is a private key/])
  t.notMatch(refused.join(), /MC4CAQ|BEGIN/, 'the key is never shown')
  t.same(problemsOf({ VISITOR_JWT_PUBLIC_KEY: 'not a key', ...VISITOR }), ['VISITOR_JWT_PUBLIC_KEY: expected a PEM public key (RSA, EC P-256/384/521 or Ed25519)'])
})

test('more than one key source, or none with REQUIRE_VISITOR_TOKEN, stops the start', async (t) => {
  const both = 'VISITOR_JWKS_URL, VISITOR_JWT_PUBLIC_KEY, VISITOR_JWT_SECRET: set exactly one key source for visitor tokens'
  t.same(problemsOf({ VISITOR_JWKS_URL: 'https://shop.example/jwks', VISITOR_JWT_SECRET: HS, ...VISITOR }), [both])
  t.same(problemsOf({ VISITOR_JWT_PUBLIC_KEY: pem('ed25519'), VISITOR_JWT_SECRET_FILE: file(HS), ...VISITOR }), [both])
  t.same(problemsOf({ VISITOR_JWT_SECRET: HS, VISITOR_JWT_SECRET_FILE: file(HS), ...VISITOR }), ['VISITOR_JWT_SECRET, VISITOR_JWT_SECRET_FILE: set one of them, not both'])
  t.same(problemsOf({ REQUIRE_VISITOR_TOKEN: 'true' }), ['REQUIRE_VISITOR_TOKEN: needs a key source (VISITOR_JWKS_URL, VISITOR_JWT_PUBLIC_KEY or VISITOR_JWT_SECRET)'])
})

test('issuer and audience are required with a key source; a short secret is refused', async (t) => {
  t.same(problemsOf({ VISITOR_JWT_SECRET: HS }), ['VISITOR_JWT_ISSUER: required with visitor tokens', 'VISITOR_JWT_AUDIENCE: required with visitor tokens'])
  t.same(problemsOf({ VISITOR_JWT_SECRET: HS, VISITOR_JWT_ISSUER: 'i' }), ['VISITOR_JWT_AUDIENCE: required with visitor tokens'])
  const short = problemsOf({ VISITOR_JWT_SECRET: 'x'.repeat(31), ...VISITOR })
  t.match(short, [/^VISITOR_JWT_SECRET: must hold at least 32 bytes/])
  t.equal(load({ VISITOR_JWT_SECRET: 'x'.repeat(32), ...VISITOR }).visitors?.keys.kind, 'secret', '32 bytes are enough')
})

test('attack: a client token of a JWT\'s shape would be read as a visitor token, so the start refuses it', async (t) => {
  const problems = problemsOf({ CLIENT_TOKENS: 'web:aaaaaaaa.bbbbbbbb.cccccccc,crm:crm-token-abcdefghijkl', VISITOR_JWT_SECRET: HS, ...VISITOR })
  t.same(problems, ['CLIENT_TOKENS: entry 1 has the shape of a JWT (three base64url parts joined by dots), which visitor tokens have: choose another token'])
  t.same(problemsOf({ CLIENT_TOKENS: 'web:aaaaaaaa.bbbbbbbb.cccccccc' }), [problems[0]], 'always, visitor tokens or not')
})

test('timers accept any positive integer up to Node\'s limit, and nothing beyond', async (t) => {
  const max = { VISITOR_JWKS_COOLDOWN_MS: '2147483647', BOT_CHECK_TIMEOUT_MS: '2147483647', VISITOR_JWT_MAX_TTL_S: '2147483', ALTCHA_TTL_S: '2147483' }
  t.equal(load({ ...max, VISITOR_JWT_SECRET: HS, ...VISITOR }).visitors?.maxTtlSeconds, 2147483)
  for (const [name, value] of [['VISITOR_JWKS_COOLDOWN_MS', '2147483648'], ['BOT_CHECK_TIMEOUT_MS', '0'], ['VISITOR_JWT_MAX_TTL_S', '2147484'], ['ALTCHA_TTL_S', '0']] as const) {
    t.match(problemsOf({ [name]: value }), [new RegExp(`^${name}: expected an integer from 1 to`)], `${name}=${value}`)
  }
})

test('BOT_CHECK=turnstile needs its secret; its URL must be https; the action is optional', async (t) => {
  t.same(load({ BOT_CHECK: 'turnstile', TURNSTILE_SECRET: 'ts-secret' }).botCheck, {
    kind: 'turnstile', verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify', secret: 'ts-secret', action: undefined, timeoutMs: 3000, onError: 'closed'
  })
  t.same(load({ BOT_CHECK: 'turnstile', TURNSTILE_SECRET_FILE: file('ts-secret\n'), TURNSTILE_ACTION: 'start_chat', BOT_CHECK_ON_ERROR: 'open', BOT_CHECK_TIMEOUT_MS: '500' }).botCheck,
    { kind: 'turnstile', verifyUrl: 'https://challenges.cloudflare.com/turnstile/v0/siteverify', secret: 'ts-secret', action: 'start_chat', timeoutMs: 500, onError: 'open' })
  t.same(problemsOf({ BOT_CHECK: 'turnstile' }), ['TURNSTILE_SECRET: required with BOT_CHECK=turnstile (or TURNSTILE_SECRET_FILE)'])
  t.same(problemsOf({ BOT_CHECK: 'turnstile', TURNSTILE_SECRET: 's', TURNSTILE_VERIFY_URL: 'http://127.0.0.1:9/v' }), ['TURNSTILE_VERIFY_URL: must be https:// (http:// only with HOTTASK_ALLOW_INSECURE_UPSTREAM=true, for local stand-ins)'])
  t.same(problemsOf({ BOT_CHECK: 'captcha' }), ['BOT_CHECK: expected `off`, `turnstile` or `altcha`'])
})

test('BOT_CHECK=altcha: a random key for one replica, a shared one required with REDIS_URL, at least 32 bytes', async (t) => {
  t.same(load({ BOT_CHECK: 'altcha' }).botCheck, { kind: 'altcha', hmacKey: undefined, maxNumber: 100000, ttlSeconds: 300, timeoutMs: 3000, onError: 'closed' })
  t.equal((load({ BOT_CHECK: 'altcha', ALTCHA_HMAC_KEY: HS }).botCheck as { hmacKey: string }).hmacKey, HS)
  t.same(problemsOf({ BOT_CHECK: 'altcha', REDIS_URL: 'redis://127.0.0.1:6379', SESSION_TOKEN_SECRET: HS }),
    ['ALTCHA_HMAC_KEY: required with REDIS_URL (set it, or ALTCHA_HMAC_KEY_FILE, to the same key on every replica)'])
  t.match(problemsOf({ BOT_CHECK: 'altcha', ALTCHA_HMAC_KEY: 'short' }), [/^ALTCHA_HMAC_KEY: must hold at least 32 bytes/])
})

test('quotas are read as given; zero is refused', async (t) => {
  t.same(load({ QUOTA_SESSIONS_PER_DAY: '5', QUOTA_MESSAGES_PER_DAY: '100', QUOTA_TOKENS_PER_DAY: '200000' }).quotas, { sessions: 5, messages: 100, tokens: 200000 })
  t.match(problemsOf({ QUOTA_MESSAGES_PER_DAY: '0' }), [/^QUOTA_MESSAGES_PER_DAY: expected an integer from 1/])
})

const MISSING = join(tmpdir(), 'identity-no-such-dir', 'value')
const REQUIRED = ['VISITOR_JWT_ISSUER: required with visitor tokens', 'VISITOR_JWT_AUDIENCE: required with visitor tokens']

test('a file that cannot be read is refused under its own variable\'s name', async (t) => {
  for (const name of ['VISITOR_JWT_SECRET_FILE', 'VISITOR_JWT_PUBLIC_KEY_FILE', 'TURNSTILE_SECRET_FILE', 'ALTCHA_HMAC_KEY_FILE']) {
    const env: Record<string, string> = name.startsWith('VISITOR') ? { [name]: MISSING, ...VISITOR } : { BOT_CHECK: name.startsWith('TURNSTILE') ? 'turnstile' : 'altcha', [name]: MISSING }
    const problems = problemsOf(env)
    t.equal(problems.length, 1, `${name}: one problem, the file's`)
    t.match(problems[0], new RegExp(`^${name}: `), name)
  }
})

test('a value and its file together are refused, named', async (t) => {
  const key = pem('ed25519')
  t.same(problemsOf({ VISITOR_JWT_PUBLIC_KEY: key, VISITOR_JWT_PUBLIC_KEY_FILE: file(key), ...VISITOR }), ['VISITOR_JWT_PUBLIC_KEY, VISITOR_JWT_PUBLIC_KEY_FILE: set one of them, not both'])
  t.same(problemsOf({ BOT_CHECK: 'turnstile', TURNSTILE_SECRET: 's', TURNSTILE_SECRET_FILE: file('s') }),
    ['TURNSTILE_SECRET, TURNSTILE_SECRET_FILE: set one of them, not both'])
})

test('a public key file counts as a key source: with a JWKS URL too, the start refuses both', async (t) => {
  t.same(problemsOf({ VISITOR_JWT_PUBLIC_KEY_FILE: file(pem('ec')), VISITOR_JWKS_URL: 'https://shop.example/jwks', ...VISITOR }),
    ['VISITOR_JWKS_URL, VISITOR_JWT_PUBLIC_KEY, VISITOR_JWT_SECRET: set exactly one key source for visitor tokens'])
})

test('an RSA-PSS public key is accepted; an X25519 key (for key agreement, not signatures) is refused', async (t) => {
  const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
  t.equal(load({ VISITOR_JWT_PUBLIC_KEY: pss, ...VISITOR }).visitors?.keys.kind, 'public-key')
  const x25519 = generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
  t.same(problemsOf({ VISITOR_JWT_PUBLIC_KEY: x25519, ...VISITOR }), ['VISITOR_JWT_PUBLIC_KEY: expected a PEM public key (RSA, EC P-256/384/521 or Ed25519)'])
})

test('a key source that is set but refused still asks for the issuer and audience', async (t) => {
  const refusals: Array<[Record<string, string>, RegExp]> = [
    [{ VISITOR_JWT_PUBLIC_KEY: 'not a key' }, /^VISITOR_JWT_PUBLIC_KEY: expected a PEM public key/],
    [{ VISITOR_JWT_PUBLIC_KEY_FILE: file('not a key') }, /^VISITOR_JWT_PUBLIC_KEY: expected a PEM public key/],
    [{ VISITOR_JWT_SECRET: 'short' }, /^VISITOR_JWT_SECRET: must hold at least 32 bytes/],
    [{ VISITOR_JWT_SECRET_FILE: MISSING }, /^VISITOR_JWT_SECRET_FILE: /]
  ]
  for (const [env, own] of refusals) {
    const name = Object.keys(env).join()
    const problems = problemsOf(env)
    t.match(problems, [own], name)
    t.same(problems.slice(1), REQUIRED, `${name}: and the issuer and audience`)
  }
})

test('BOT_CHECK=turnstile: an empty secret file is no secret', async (t) => {
  t.same(problemsOf({ BOT_CHECK: 'turnstile', TURNSTILE_SECRET_FILE: file('\n') }), ['TURNSTILE_SECRET: required with BOT_CHECK=turnstile (or TURNSTILE_SECRET_FILE)'])
})

test('BOT_CHECK=altcha with REDIS_URL: a shared key from the variable or from its file is enough', async (t) => {
  const redis = { BOT_CHECK: 'altcha', REDIS_URL: 'redis://127.0.0.1:6379', SESSION_TOKEN_SECRET: HS }
  t.equal((load({ ...redis, ALTCHA_HMAC_KEY: HS }).botCheck as { hmacKey: string }).hmacKey, HS)
  t.equal((load({ ...redis, ALTCHA_HMAC_KEY_FILE: file(`${HS}\n`) }).botCheck as { hmacKey: string }).hmacKey, HS)
})
