// `npm run demo`: the simulated upstream, the real proxy process wired to it, and the
// widget example page on its own origin, so a newcomer sees a session created — from
// curl and from a browser — without a key or a network.
// DEMO_PORT (default 3000) is the proxy's port, DEMO_WIDGET_PORT (default 3001) the
// widget page's; the simulator takes a free port. Everything listens on loopback only.
//
// The page's origin also plays the site's backend: GET /visitor-token signs visitor
// tokens with a secret made for this run, which the proxy verifies (VISITOR_JWT_*), and
// the ALTCHA widget's files are served from node_modules. DEMO_MODE says what the proxy
// asks of a browser (the demo also sets QUOTA_SESSIONS_PER_DAY and
// QUOTA_MESSAGES_PER_DAY unless they are set, so the page has quotas to show):
//   open     (default) nothing more: the page in any mode but altcha, and curl, work;
//   visitor  REQUIRE_VISITOR_TOKEN=true: only ?mode=visitor gets a session;
//   altcha   BOT_CHECK=altcha: ?mode=altcha (or a visitor token) gets a session.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { DEFAULT_SIM_KEY, startSimulator } from '../simulator/server.ts'
import { ALTCHA_FILES } from '../examples/widget/server/altcha-files.ts'
import { VISITOR_TOKEN_PATH, visitorTokenHandler } from '../examples/widget/server/visitor-token.ts'
import { startStaticServer } from './static-server.ts'

const HOST = '127.0.0.1'
const MODES = ['open', 'visitor', 'altcha'] as const
type Mode = typeof MODES[number]
/** The site's name in its tokens (VISITOR_JWT_ISSUER) and the proxy's (VISITOR_JWT_AUDIENCE). */
const ISSUER = 'hottask-demo-site'
const AUDIENCE = 'hottask-proxy'

const port = Number(process.env.DEMO_PORT ?? 3000)
const widgetPort = Number(process.env.DEMO_WIDGET_PORT ?? 3001)
const mode = (process.env.DEMO_MODE || 'open') as Mode
if (!MODES.includes(mode)) {
  process.stderr.write(`DEMO_MODE: expected one of ${MODES.join(', ')}\n`)
  process.exit(1)
}
const base = `http://${HOST}:${port}`
// Made for this run, shared by the site backend and the proxy only.
const visitorSecret = randomBytes(32).toString('base64url')

// The page on its own origin: its calls to the proxy are cross-origin, as on a real site.
// Its CSP lets it fetch only the proxy and its own origin (the visitor token).
const widget = await startStaticServer(fileURLToPath(new URL('../examples/widget/', import.meta.url)), {
  host: HOST,
  port: widgetPort,
  connectSrc: ["'self'", base],
  files: ALTCHA_FILES,
  routes: { [VISITOR_TOKEN_PATH]: visitorTokenHandler({ secret: visitorSecret, issuer: ISSUER, audience: AUDIENCE }) }
})
const upstream = await startSimulator({ key: DEFAULT_SIM_KEY })

const proxy = spawn(process.execPath, [fileURLToPath(new URL('../src/server.ts', import.meta.url))], {
  env: {
    QUOTA_SESSIONS_PER_DAY: '50',
    QUOTA_MESSAGES_PER_DAY: '500',
    ...process.env,
    // The demo never uses a real key or the real upstream, whatever ./.env says.
    HOTTASK_API_KEY: DEFAULT_SIM_KEY,
    HOTTASK_API_KEY_FILE: '',
    HOTTASK_BASE_URL: upstream.url,
    HOTTASK_ALLOW_INSECURE_UPSTREAM: 'true',
    HOST,
    PORT: String(port),
    // Exactly the widget page's origin may call from a browser.
    CORS_ORIGINS: widget.origin,
    // The site backend's tokens, and no other key source ('' is unset).
    VISITOR_JWT_SECRET: visitorSecret,
    VISITOR_JWT_SECRET_FILE: '',
    VISITOR_JWT_PUBLIC_KEY: '',
    VISITOR_JWT_PUBLIC_KEY_FILE: '',
    VISITOR_JWKS_URL: '',
    VISITOR_JWT_ISSUER: ISSUER,
    VISITOR_JWT_AUDIENCE: AUDIENCE,
    REQUIRE_VISITOR_TOKEN: String(mode === 'visitor'),
    BOT_CHECK: mode === 'altcha' ? 'altcha' : 'off',
    ALTCHA_HMAC_KEY: randomBytes(32).toString('base64url'),
    ALTCHA_HMAC_KEY_FILE: ''
  },
  // Its own process group: Ctrl+C reaches the demo, which forwards one SIGTERM (a second
  // signal would make the proxy exit at once).
  detached: true,
  stdio: ['ignore', 'pipe', 'inherit']
})

/** The page's URLs worth opening in this mode, each with what it shows. */
function pages (page: string): string[] {
  const visitor = `  ${page}&mode=visitor   (a visitor token from the site backend, ${widget.origin}${VISITOR_TOKEN_PATH})`
  if (mode === 'visitor') return [visitor, `  ${page}   (no token: refused VISITOR_TOKEN_REQUIRED)`]
  if (mode === 'altcha') return [`  ${page}&mode=altcha   (an ALTCHA challenge solved in the page)`, visitor, `  ${page}   (no bot check: refused BOT_CHECK_REQUIRED)`]
  return [
    `  ${page}`,
    `  ${page}&chatbot=sim-http-429-ra-30   (a refusal with Retry-After)`,
    visitor,
    '  (DEMO_MODE=visitor requires a visitor token; DEMO_MODE=altcha adds the bot check for ?mode=altcha)'
  ]
}

/** How to create a session from a terminal in this mode. */
function curl (): string[] {
  const create = (serialNumber: string, extra = ''): string =>
    `  curl -i -X POST ${base}/sessions -H 'content-type: application/json'${extra} -d '{"serialNumber":"${serialNumber}"}'`
  const withToken = [
    'Create a session with a visitor token from the site backend:',
    `  TOKEN=$(curl -s ${widget.origin}${VISITOR_TOKEN_PATH} | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')`,
    create('3254a9d0424c4806b9ea3d0763ccf123', ' -H "authorization: Bearer $TOKEN"')
  ]
  // Without an Origin header no visitor token is required; the bot check applies all the same.
  if (mode === 'altcha') return [...withToken, '  (without a token: refused BOT_CHECK_REQUIRED)']
  return [
    'Create a session:',
    create('3254a9d0424c4806b9ea3d0763ccf123'),
    'See a mapped upstream failure (any scenario of docs/simulator.md):',
    create('sim-code-404'),
    ...withToken
  ]
}

let announced = false
proxy.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk)
  if (!announced && chunk.toString().includes('Server listening')) {
    announced = true
    // `:` and `/` are allowed in a query: the URL stays readable.
    const page = `${widget.origin}/?proxy=${base}`
    process.stdout.write([
      '',
      `hottask-proxy demo (DEMO_MODE=${mode}): proxy on ${base}, simulated upstream on ${upstream.url}`,
      'Open the widget example in a browser (CORS_ORIGINS allows exactly its origin):',
      ...pages(page),
      ...curl(),
      'Press Ctrl+C to stop.',
      ''
    ].join('\n'))
  }
})

const stop = (): void => { proxy.kill('SIGTERM') }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
proxy.on('exit', (code) => {
  Promise.allSettled([upstream.close(), widget.close()]).finally(() => process.exit(code ?? 1))
})
