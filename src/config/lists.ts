// Parsers for the list-valued variables. Each returns a value or a problem sentence
// that names the variable and never repeats a secret.
import { isIP } from 'node:net'
import { JWT_SHAPE } from './patterns.ts'
import { MIN_CLIENT_TOKEN_CHARS } from './secrets.ts'

export type Parsed<T> = { value: T, problem?: undefined } | { value?: undefined, problem: string }

export const splitList = (text: string): string[] => text.split(',').map((item) => item.trim()).filter((item) => item !== '')

/** Exact origins (`https://shop.example`, `http://127.0.0.1:8080`), `null`, or `*` alone. */
export function parseOrigins (text: string): Parsed<string[]> {
  const origins = splitList(text)
  if (origins.includes('*') && origins.length > 1) return { problem: 'CORS_ORIGINS: `*` must stand alone' }
  for (const origin of origins) {
    if (origin === '*' || origin === 'null') continue
    let parsed: URL | undefined
    try { parsed = new URL(origin) } catch {}
    if (parsed === undefined || parsed.origin !== origin) {
      return { problem: 'CORS_ORIGINS: each entry must be an exact origin such as https://shop.example (no path or trailing slash)' }
    }
  }
  return { value: origins }
}

export interface ClientToken { name: string, token: string }

const TOKEN_NAME = /^[A-Za-z0-9._-]{1,64}$/
const TOKEN = new RegExp(`^[\\x21-\\x2b\\x2d-\\x7e]{${MIN_CLIENT_TOKEN_CHARS},}$`)

/** One `name:token` entry as written, and how a problem names it (`entry 2`, `line 7`). */
export interface ClientTokenEntry { label: string, text: string }

/**
 * The rules of every client token, however it is given (CLIENT_TOKENS, CLIENT_TOKENS_FILE):
 * the first problem names the variable and the entry, never the token.
 */
export function parseClientTokenEntries (entries: ClientTokenEntry[], variable: string): Parsed<ClientToken[]> {
  const tokens: ClientToken[] = []
  for (const { label, text } of entries) {
    const colon = text.indexOf(':')
    const name = text.slice(0, colon)
    const token = text.slice(colon + 1)
    if (colon === -1 || !TOKEN_NAME.test(name) || !TOKEN.test(token)) {
      return { problem: `${variable}: ${label} must be name:token with a name of A-Z a-z 0-9 . _ - and a token of at least 16 visible characters` }
    }
    // A client token of a JWT's shape would be read one way or the other by chance, and
    // visitor tokens may be turned on later: such a token is never accepted.
    if (JWT_SHAPE.test(token)) {
      return { problem: `${variable}: ${label} has the shape of a JWT (three base64url parts joined by dots), which visitor tokens have: choose another token` }
    }
    if (tokens.some((other) => other.name === name)) return { problem: `${variable}: the name ${name} appears twice` }
    if (tokens.some((other) => other.token === token)) return { problem: `${variable}: ${label} repeats another entry's token` }
    tokens.push({ name, token })
  }
  return { value: tokens }
}

export function parseClientTokens (text: string): Parsed<ClientToken[]> {
  return parseClientTokenEntries(splitList(text).map((entry, index) => ({ label: `entry ${index + 1}`, text: entry })), 'CLIENT_TOKENS')
}

export type TrustProxy = boolean | number | string[]

function isAddressOrCidr (entry: string): boolean {
  const [address, bits, extra] = entry.split('/') as [string, string?, string?]
  const family = isIP(address)
  if (family === 0 || extra !== undefined) return false
  if (bits === undefined) return true
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)
}

/** `false` (default), `true`, a hop count, or addresses/CIDRs of trusted proxies. */
export function parseTrustProxy (text: string): Parsed<TrustProxy> {
  const value = text.trim()
  if (value === 'false' || value === '') return { value: false }
  if (value === 'true') return { value: true }
  if (/^\d{1,2}$/.test(value)) return { value: Number(value) }
  const entries = splitList(value)
  if (entries.length > 0 && entries.every(isAddressOrCidr)) return { value: entries }
  return { problem: 'TRUST_PROXY: expected `true`, `false`, a hop count, or comma-separated addresses/CIDRs' }
}
