// The shortest secret the service accepts, per kind. A short secret is guessable, and,
// since every log line is scrubbed of each secret by value, a one-character one would
// corrupt every line it happens to occur in.

export const MIN_API_KEY_CHARS = 8
export const MIN_CLIENT_TOKEN_CHARS = 16
export const MIN_HMAC_SECRET_BYTES = 32
export const MIN_REDIS_PASSWORD_CHARS = 8

/**
 * Query parameters ioredis (6) reads as credentials: it takes every parameter of the URL as a
 * connection option, so `?password=…` authenticates too, unseen by the length check and by
 * the log scrubber (which take the URL's user info). Compared without case, to be safe.
 */
const CREDENTIAL_PARAMETERS = new Set(['password', 'username', 'sentinelpassword', 'sentinelusername'])

/** REDIS_URL's password, if it has one, must be long enough and in the user info; the problem never shows it. */
export function redisPasswordProblem (redisUrl: string | undefined): string | undefined {
  if (redisUrl === undefined) return undefined
  let url: URL
  let password: string
  try {
    url = new URL(redisUrl)
    password = decodeURIComponent(url.password)
  } catch { return 'REDIS_URL: expected a redis:// or rediss:// URL' }
  if ([...url.searchParams.keys()].some((name) => CREDENTIAL_PARAMETERS.has(name.toLowerCase()))) {
    return 'REDIS_URL: a password or user name belongs in the URL\'s user info (redis://user:password@host), never in its query (?password=…), which is neither checked nor scrubbed from the logs'
  }
  if (password === '' || password.length >= MIN_REDIS_PASSWORD_CHARS) return undefined
  return `REDIS_URL: the password must have at least ${MIN_REDIS_PASSWORD_CHARS} characters (a shorter one is guessable, and scrubbing it from every log line by value would corrupt them)`
}

/** A session-token secret must hold at least MIN_HMAC_SECRET_BYTES bytes; the problem never shows it. */
export function hmacSecretProblem (secret: string, variable: string): string | undefined {
  if (Buffer.byteLength(secret) >= MIN_HMAC_SECRET_BYTES) return undefined
  return `${variable}: must hold at least ${MIN_HMAC_SECRET_BYTES} bytes (a random string such as the output of \`openssl rand -base64 48\`: a shorter one can be guessed, and then anyone can sign session tokens)`
}
