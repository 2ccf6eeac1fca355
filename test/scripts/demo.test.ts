// `npm run demo` as a newcomer runs it: the real script starting the simulator, the real
// proxy process and the widget page with its site backend, in each DEMO_MODE. The proxy
// must accept the site backend's visitor tokens (same secret, issuer and audience) and ask
// of a browser what the mode says; the page's origin serves the ALTCHA widget's files and
// its CSP lets it fetch only itself and the proxy.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import type { Test } from 'tap'
import { contentSecurityPolicy, startStaticServer } from '../../scripts/static-server.ts'
import { visitorTokenHandler } from '../../examples/widget/server/visitor-token.ts'
import { freePort } from '../helpers/ports.ts'
import { until } from '../helpers/waiting.ts'

const DEMO = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url))
const CHATBOT = '3254a9d0424c4806b9ea3d0763ccf123'

/** A loopback port free right now. */
interface Demo { proxy: string, site: string, output: () => string }

/** Runs the demo in `mode` until the test ends; resolves once it has printed its URLs. */
async function startDemo (t: Test, mode: string | undefined): Promise<Demo> {
  const [port, widgetPort] = [await freePort(), await freePort()]
  const child = spawn(process.execPath, [DEMO], {
    env: { PATH: process.env.PATH ?? '', DEMO_PORT: String(port), DEMO_WIDGET_PORT: String(widgetPort), METRICS_PORT: '0', ...(mode === undefined ? {} : { DEMO_MODE: mode }) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    // The demo forwards SIGTERM to the proxy (its own process group) and exits with it.
    child.kill('SIGTERM')
    await exited
  })
  await until(() => out.includes('Press Ctrl+C to stop.') || child.exitCode !== null, 'the demo printed its URLs', 20_000)
  if (child.exitCode !== null) throw new Error(`the demo exited:\n${out}`)
  return { proxy: `http://127.0.0.1:${port}`, site: `http://127.0.0.1:${widgetPort}`, output: () => out }
}

async function visitorToken (demo: Demo): Promise<string> {
  const res = await fetch(`${demo.site}/visitor-token`)
  const answer = await res.json() as { token: string, expiresIn: number }
  return answer.token
}

/** POST /sessions as the page would (its Origin), with `headers`. */
async function createSession (demo: Demo, headers: Record<string, string> = {}): Promise<{ status: number, code?: string, quota: string | null }> {
  const res = await fetch(`${demo.proxy}/sessions`, {
    method: 'POST',
    headers: { origin: demo.site, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ serialNumber: CHATBOT })
  })
  const body = await res.json() as { code?: string }
  return { status: res.status, code: body.code, quota: res.headers.get('x-quota-limit') }
}

test('the default mode: the page and curl get sessions as before, a visitor token works too, and quotas are set', async (t) => {
  const demo = await startDemo(t, undefined)
  t.match(demo.output(), `${demo.site}/?proxy=${demo.proxy}\n`, 'the anonymous page')
  t.match(demo.output(), `${demo.site}/?proxy=${demo.proxy}&mode=visitor`, 'the visitor-token page')
  t.notMatch(demo.output(), 'mode=altcha ', 'no ALTCHA page: no bot check in this mode')

  const page = await fetch(`${demo.site}/?proxy=${demo.proxy}`)
  t.equal(page.status, 200)
  t.equal(page.headers.get('content-security-policy'), contentSecurityPolicy(["'self'", demo.proxy]), 'fetches only itself and the proxy')
  await page.arrayBuffer()

  t.same(await createSession(demo), { status: 201, code: undefined, quota: '50' }, 'the anonymous page, with the demo\'s quota')
  const curl = await fetch(`${demo.proxy}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serialNumber: 'sim-code-404' }) })
  t.equal(curl.status, 404, 'curl sees a mapped upstream failure')
  await curl.arrayBuffer()
  t.equal((await createSession(demo, { authorization: `Bearer ${await visitorToken(demo)}` })).status, 201)
  t.equal((await fetch(`${demo.proxy}/bot-check/challenge`, { headers: { origin: demo.site } })).status, 404, 'no bot check')
})

test('DEMO_MODE=visitor: only a visitor token from the site backend gets a browser a session', async (t) => {
  const demo = await startDemo(t, 'visitor')
  t.match(demo.output(), `${demo.site}/?proxy=${demo.proxy}&mode=visitor`)
  const res = await fetch(`${demo.site}/visitor-token`)
  t.equal(res.headers.get('cache-control'), 'no-store')
  const answer = await res.json() as { token: string, expiresIn: number }
  t.equal(answer.expiresIn, 300)
  t.same(await createSession(demo), { status: 401, code: 'VISITOR_TOKEN_REQUIRED', quota: null })
  t.equal((await createSession(demo, { authorization: `Bearer ${answer.token}` })).status, 201, 'the proxy accepts the site\'s token')
})

test('DEMO_MODE=altcha: the bot check is on, its challenge served, the widget\'s files too; a visitor token skips it', async (t) => {
  const demo = await startDemo(t, 'altcha')
  t.match(demo.output(), `${demo.site}/?proxy=${demo.proxy}&mode=altcha`)
  t.same(await createSession(demo), { status: 403, code: 'BOT_CHECK_REQUIRED', quota: null })
  const challenge = await fetch(`${demo.proxy}/bot-check/challenge`, { headers: { origin: demo.site } })
  t.equal(challenge.status, 200)
  t.match(await challenge.json(), { parameters: { algorithm: 'SHA-256' }, signature: /^[0-9a-f]{64}$/ })
  for (const [path, type] of [['/vendor/altcha.js', 'text/javascript'], ['/vendor/altcha-sha-worker.js', 'text/javascript'], ['/vendor/altcha.css', 'text/css']] as const) {
    const file = await fetch(`${demo.site}${path}`)
    t.equal(file.status, 200, path)
    t.match(file.headers.get('content-type'), type)
    await file.arrayBuffer()
  }
  t.equal((await createSession(demo, { authorization: `Bearer ${await visitorToken(demo)}` })).status, 201)
})

test('an unknown DEMO_MODE stops the demo at once, naming the modes', async (t) => {
  const child = spawn(process.execPath, [DEMO], { env: { PATH: process.env.PATH ?? '', DEMO_MODE: 'closed' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  t.equal(code, 1)
  t.equal(err, 'DEMO_MODE: expected one of open, visitor, altcha\n')
})

test('the site backend answers 500, and no token, when it cannot sign', async (t) => {
  const server = await startStaticServer(fileURLToPath(new URL('../../examples/widget/', import.meta.url)), {
    routes: { '/visitor-token': visitorTokenHandler({ secret: '', issuer: 'site', audience: 'proxy' }) }
  })
  t.teardown(server.close)
  const res = await fetch(`${server.origin}/visitor-token`)
  t.equal(res.status, 500)
  t.equal(await res.text(), 'Could not sign a visitor token\n')
})
