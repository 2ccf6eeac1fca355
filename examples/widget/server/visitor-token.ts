// The site's backend, as much of it as the chat needs: GET /visitor-token gives the page a
// short-lived visitor token for its signed-in user, an HS256 JWT signed with the secret the
// proxy verifies with (VISITOR_JWT_SECRET), naming the proxy's VISITOR_JWT_ISSUER and
// VISITOR_JWT_AUDIENCE. A real site answers only a signed-in user (its session cookie
// says who) and writes that user's id into `sub`; the demo has one user, DEMO_SUBJECT.
// The page gets the lifetime in seconds, not a date: browser clocks are often wrong.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { SignJWT } from 'jose'

export const VISITOR_TOKEN_PATH = '/visitor-token'
export const DEMO_SUBJECT = 'demo-user'
/** Short: a stolen token is soon worthless, and the page fetches a new one as this one nears its end. */
export const DEFAULT_TTL_SECONDS = 300

export interface VisitorTokenOptions {
  /** At least 32 bytes, shared with the proxy only. */
  secret: string
  issuer: string
  audience: string
  subject?: string
  ttlSeconds?: number
  now?: () => number
}

/** What GET /visitor-token answers. */
export interface VisitorTokenAnswer {
  token: string
  /** Seconds the token is valid from now. */
  expiresIn: number
}

/** A visitor token for `options.subject`, valid for `options.ttlSeconds` from now. */
export async function mintVisitorToken (options: VisitorTokenOptions): Promise<VisitorTokenAnswer> {
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
  const issuedAt = Math.floor((options.now ?? Date.now)() / 1000)
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.subject ?? DEMO_SUBJECT)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ttlSeconds)
    // Every token its own, even two minted in the same second.
    .setJti(randomUUID())
    .sign(new TextEncoder().encode(options.secret))
  return { token, expiresIn: ttlSeconds }
}

/** The GET /visitor-token handler (same origin as the page: no CORS, so no other site reads it). */
export function visitorTokenHandler (options: VisitorTokenOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    mintVisitorToken(options).then((answer) => {
      const body = JSON.stringify(answer)
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    }, () => {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Could not sign a visitor token\n')
    })
  }
}
