// What each target of the benchmark is: the script it runs, the environment it gets, the
// request it is sent and the status it should answer. Our proxy runs in production shape
// (NODE_ENV=production, LOG_LEVEL=info, rate limit on but high, CORS on, metrics on).
import { generateKeyPairSync } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'
import { PRODUCTION_ENV } from '../deploy/production.ts'
import { freePort, start } from './processes.ts'
import type { Child } from './processes.ts'
import type { UpstreamControl } from './upstream-stats.ts'

export { PRODUCTION_NODE_ARGS } from '../deploy/production.ts'

const script = (path: string): string => fileURLToPath(new URL(path, import.meta.url))
export const SIMULATOR = script('../simulator/main.ts')
export const SERVERS = {
  minimal: script('./peers/minimal-proxy.ts'),
  'http-proxy': script('./peers/http-proxy.ts'),
  ours: script('../src/server.ts')
}

export const SIM_KEY = 'sim-key-0123456789abcdef'

/** The simulated upstream's settings: loopback, the benchmark's key, `delayMs` before each answer. */
export function simulatorEnv (port: number, delayMs: number): Record<string, string> {
  return { SIM_PORT: String(port), SIM_HOST: '127.0.0.1', SIM_API_KEY: SIM_KEY, SIM_DELAY_MS: String(delayMs) }
}

/** One simulated upstream as a process of its own (the profiles' single upstream). */
export async function startSimulator (options: { cwd: string, delayMs: number, cpu: number | undefined }): Promise<Child> {
  const port = await freePort()
  return await start({ name: 'simulator', script: SIMULATOR, cwd: options.cwd, port, cpu: options.cpu, env: simulatorEnv(port, options.delayMs) })
}
export const SLOW_UPSTREAM_MS = 200
export const SLOW_POOL = 1000
export const ALLOWED_ORIGIN = 'https://shop.example'
export const DISALLOWED_ORIGIN = 'https://elsewhere.example'
export const BODY = JSON.stringify({ serialNumber: 'abc' })

export type ServerKind = keyof typeof SERVERS

export interface Target {
  id: string
  label: string
  url: string
  headers: Record<string, string>
  body: string
  expectedStatus: number
  /** A header that changes with every request (visitor tokens that are never reused). */
  rotatingHeader?: { name: string, values: string[] }
  /** The process whose memory is measured; none for the upstream called directly. */
  server?: Child
  upstream: UpstreamControl
}

export const LABELS: Record<ServerKind | 'direct', string> = {
  direct: 'direct (simulator)',
  minimal: 'minimal fastify+undici',
  'http-proxy': '@fastify/http-proxy',
  ours: 'hottask-proxy'
}

export const VISITOR_LABEL = 'hottask-proxy, visitor token (same each request)'
export const VISITOR_FRESH_LABEL = 'hottask-proxy, visitor token (new each request)'

/**
 * Our proxy in production shape; variables it does not know are ignored by it. Run it
 * with PRODUCTION_NODE_ARGS; `nodeOptions` (NODE_OPTIONS) is for profiling flags.
 */
export async function oursEnv (extra: Record<string, string>, nodeOptions?: string): Promise<Record<string, string>> {
  return {
    ...PRODUCTION_ENV,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    UPSTREAM_TIMEOUT_MS: '10000',
    RATE_LIMIT_MAX: '100000000',
    RATE_LIMIT_WINDOW_MS: '60000',
    CORS_ORIGINS: ALLOWED_ORIGIN,
    METRICS_PORT: String(await freePort()),
    ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
    ...extra
  }
}

/** The peers read HOTTASK_BASE_URL, HOTTASK_API_KEY, HOST, PORT and UPSTREAM_MAX_CONCURRENCY only. */
export function peerEnv (extra: Record<string, string>): Record<string, string> {
  return { NODE_ENV: 'production', ...extra }
}

/**
 * Visitor tokens for the `ours-visitor` targets: an RS256 key pair made for this run (the
 * common choice of identity providers' JWKS), the proxy's settings that verify with its
 * public half, one token for every request (`ours-visitor`: what a widget does, verified
 * once and then remembered) and FRESH_TOKENS tokens used in turn (`ours-visitor-fresh`:
 * more than the proxy remembers, so every request is one signature verification).
 */
export async function visitorIdentity (): Promise<{ env: Record<string, string>, authorization: string, fresh: string[] }> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const issuer = 'https://shop.example'
  const audience = 'hottask-proxy'
  const sign = async (sub: string) => await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject(sub).setIssuer(issuer).setAudience(audience)
    .setIssuedAt().setExpirationTime('12h').sign(privateKey)
  const fresh = await Promise.all(Array.from({ length: FRESH_TOKENS }, async (_, i) => `Bearer ${await sign(`bench-visitor-${i}`)}`))
  return {
    env: {
      VISITOR_JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      VISITOR_JWT_ISSUER: issuer,
      VISITOR_JWT_AUDIENCE: audience,
      VISITOR_JWT_MAX_TTL_S: String(13 * 3600),
      // Tokens of many visitors: the per-visitor rate limit must not be what answers.
      RATE_LIMIT_MAX: '100000000'
    },
    authorization: `Bearer ${await sign('bench-visitor')}`,
    fresh
  }
}

/** More tokens than the proxy remembers as verified (VERIFIED_MAX, 4096). */
export const FRESH_TOKENS = 5000
