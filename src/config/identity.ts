// Who is calling, beyond client tokens: visitor tokens (JWTs the site's backend signs), the
// bot check of POST /sessions, and daily quotas per visitor. Resolved once at start, with
// one problem sentence per bad variable and never a value.
import { createPublicKey } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { readSecretFile, readTrimmed } from './key-file.ts'
import type { RawEnv } from './schema.ts'
import { hmacSecretProblem } from './secrets.ts'

export type VisitorKeySource =
  | { kind: 'jwks', url: string, cooldownMs: number }
  | { kind: 'public-key', key: KeyObject }
  | { kind: 'secret', secret: string }

export interface VisitorTokenConfig {
  keys: VisitorKeySource
  issuer: string
  audience: string
  maxTtlSeconds: number
  /** Browser-lane requests must carry a visitor token (or a client token). */
  required: boolean
}

export type BotCheckConfig =
  | { kind: 'off' }
  | { kind: 'turnstile', verifyUrl: string, secret: string, action: string | undefined, timeoutMs: number, onError: 'open' | 'closed' }
  /** `hmacKey` undefined: none was given, and the app makes a random one (one replica only). */
  | { kind: 'altcha', hmacKey: string | undefined, maxNumber: number, ttlSeconds: number, timeoutMs: number, onError: 'open' | 'closed' }

export interface QuotaConfig { sessions?: number, messages?: number, tokens?: number }

export interface IdentityConfig {
  visitors: VisitorTokenConfig | undefined
  botCheck: BotCheckConfig
  quotas: QuotaConfig
}

/** A value from its variable or its file (not both); `read` checks a file's text. */
function eitherOf (value: string | undefined, file: string | undefined, variable: string, problems: string[], read: (file: string) => { text?: string, problem?: string }): string | undefined {
  if (value !== undefined && file !== undefined) {
    problems.push(`${variable}, ${variable}_FILE: set one of them, not both`)
    return undefined
  }
  if (file === undefined) return value
  const { text, problem } = read(file)
  if (problem !== undefined) problems.push(problem)
  return text
}

const secretFile = (variable: string) => (file: string) => {
  const { secret, problem } = readSecretFile(file, `${variable}_FILE`)
  return { text: secret, problem }
}

/** An HMAC secret from its variable or file, at least 32 bytes. */
function hmacSecret (value: string | undefined, file: string | undefined, variable: string, problems: string[]): string | undefined {
  const secret = eitherOf(value, file, variable, problems, secretFile(variable))
  if (secret === undefined || file !== undefined) return secret
  const short = hmacSecretProblem(secret, variable)
  if (short !== undefined) problems.push(short)
  return short === undefined ? secret : undefined
}

/** A plain http: URL is only for local stand-ins, like the upstream's own. */
function secureUrl (url: string, variable: string, allowInsecure: boolean, problems: string[]): string {
  let parsed: URL | undefined
  try { parsed = new URL(url) } catch {}
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) problems.push(`${variable}: expected an https:// URL`)
  else if (parsed.protocol === 'http:' && !allowInsecure) problems.push(`${variable}: must be https:// (http:// only with HOTTASK_ALLOW_INSECURE_UPSTREAM=true, for local stand-ins)`)
  return url
}

function publicKeyOf (pem: string, variable: string, problems: string[]): KeyObject | undefined {
  // A private key would work (its public half is derived), but it must never sit here.
  if (pem.includes('PRIVATE KEY')) {
    problems.push(`${variable}: expected a public key, and this is a private key: keep it on the site's backend`)
    return undefined
  }
  try {
    const key = createPublicKey(pem)
    if (['rsa', 'rsa-pss', 'ec', 'ed25519'].includes(key.asymmetricKeyType ?? '')) return key
  } catch {}
  problems.push(`${variable}: expected a PEM public key (RSA, EC P-256/384/521 or Ed25519)`)
  return undefined
}

function visitorKeys (raw: RawEnv, problems: string[]): VisitorKeySource | undefined {
  const pem = eitherOf(raw.VISITOR_JWT_PUBLIC_KEY, raw.VISITOR_JWT_PUBLIC_KEY_FILE, 'VISITOR_JWT_PUBLIC_KEY', problems, (file) => readTrimmed(file, 'VISITOR_JWT_PUBLIC_KEY_FILE'))
  const given = [
    raw.VISITOR_JWKS_URL !== undefined,
    raw.VISITOR_JWT_PUBLIC_KEY !== undefined || raw.VISITOR_JWT_PUBLIC_KEY_FILE !== undefined,
    raw.VISITOR_JWT_SECRET !== undefined || raw.VISITOR_JWT_SECRET_FILE !== undefined
  ].filter(Boolean).length
  if (given > 1) {
    problems.push('VISITOR_JWKS_URL, VISITOR_JWT_PUBLIC_KEY, VISITOR_JWT_SECRET: set exactly one key source for visitor tokens')
    return undefined
  }
  if (raw.VISITOR_JWKS_URL !== undefined) {
    return { kind: 'jwks', url: secureUrl(raw.VISITOR_JWKS_URL, 'VISITOR_JWKS_URL', raw.HOTTASK_ALLOW_INSECURE_UPSTREAM, problems), cooldownMs: raw.VISITOR_JWKS_COOLDOWN_MS }
  }
  if (pem !== undefined) {
    const key = publicKeyOf(pem, 'VISITOR_JWT_PUBLIC_KEY', problems)
    return key === undefined ? undefined : { kind: 'public-key', key }
  }
  const secret = hmacSecret(raw.VISITOR_JWT_SECRET, raw.VISITOR_JWT_SECRET_FILE, 'VISITOR_JWT_SECRET', problems)
  return secret === undefined ? undefined : { kind: 'secret', secret }
}

function resolveVisitors (raw: RawEnv, problems: string[]): VisitorTokenConfig | undefined {
  const keys = visitorKeys(raw, problems)
  const configured = keys !== undefined || raw.VISITOR_JWKS_URL !== undefined || raw.VISITOR_JWT_PUBLIC_KEY !== undefined ||
    raw.VISITOR_JWT_PUBLIC_KEY_FILE !== undefined || raw.VISITOR_JWT_SECRET !== undefined || raw.VISITOR_JWT_SECRET_FILE !== undefined
  if (!configured) {
    if (raw.REQUIRE_VISITOR_TOKEN) problems.push('REQUIRE_VISITOR_TOKEN: needs a key source (VISITOR_JWKS_URL, VISITOR_JWT_PUBLIC_KEY or VISITOR_JWT_SECRET)')
    return undefined
  }
  if (raw.VISITOR_JWT_ISSUER === undefined) problems.push('VISITOR_JWT_ISSUER: required with visitor tokens')
  if (raw.VISITOR_JWT_AUDIENCE === undefined) problems.push('VISITOR_JWT_AUDIENCE: required with visitor tokens')
  if (keys === undefined || raw.VISITOR_JWT_ISSUER === undefined || raw.VISITOR_JWT_AUDIENCE === undefined) return undefined
  return { keys, issuer: raw.VISITOR_JWT_ISSUER, audience: raw.VISITOR_JWT_AUDIENCE, maxTtlSeconds: raw.VISITOR_JWT_MAX_TTL_S, required: raw.REQUIRE_VISITOR_TOKEN }
}

function resolveBotCheck (raw: RawEnv, problems: string[]): BotCheckConfig {
  const timing = { timeoutMs: raw.BOT_CHECK_TIMEOUT_MS, onError: raw.BOT_CHECK_ON_ERROR }
  if (raw.BOT_CHECK === 'turnstile') {
    const verifyUrl = secureUrl(raw.TURNSTILE_VERIFY_URL, 'TURNSTILE_VERIFY_URL', raw.HOTTASK_ALLOW_INSECURE_UPSTREAM, problems)
    const secret = eitherOf(raw.TURNSTILE_SECRET, raw.TURNSTILE_SECRET_FILE, 'TURNSTILE_SECRET', problems, (file) => readTrimmed(file, 'TURNSTILE_SECRET_FILE'))
    if (secret === undefined || secret === '') {
      if (raw.TURNSTILE_SECRET_FILE === undefined || secret === '') problems.push('TURNSTILE_SECRET: required with BOT_CHECK=turnstile (or TURNSTILE_SECRET_FILE)')
      return { kind: 'off' }
    }
    return { kind: 'turnstile', verifyUrl, secret, action: raw.TURNSTILE_ACTION, ...timing }
  }
  if (raw.BOT_CHECK === 'altcha') {
    const hmacKey = hmacSecret(raw.ALTCHA_HMAC_KEY, raw.ALTCHA_HMAC_KEY_FILE, 'ALTCHA_HMAC_KEY', problems)
    const given = raw.ALTCHA_HMAC_KEY !== undefined || raw.ALTCHA_HMAC_KEY_FILE !== undefined
    // Replicas with keys of their own would refuse each other's challenges.
    if (!given && raw.REDIS_URL !== undefined) problems.push('ALTCHA_HMAC_KEY: required with REDIS_URL (set it, or ALTCHA_HMAC_KEY_FILE, to the same key on every replica)')
    return { kind: 'altcha', hmacKey, maxNumber: raw.ALTCHA_MAX_NUMBER, ttlSeconds: raw.ALTCHA_TTL_S, ...timing }
  }
  return { kind: 'off' }
}

export function resolveIdentity (raw: RawEnv, problems: string[]): IdentityConfig {
  return {
    visitors: resolveVisitors(raw, problems),
    botCheck: resolveBotCheck(raw, problems),
    quotas: { sessions: raw.QUOTA_SESSIONS_PER_DAY, messages: raw.QUOTA_MESSAGES_PER_DAY, tokens: raw.QUOTA_TOKENS_PER_DAY }
  }
}
