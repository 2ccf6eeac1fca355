// The widget example's identity modes in headless Chromium, against a real proxy on another
// loopback origin: ?mode=visitor gets a visitor token from the page's own "site backend"
// (the example's GET /visitor-token, as the demo serves it) and sends it with the session
// and every message, fetching a new one as it nears its end; ?mode=altcha solves the
// proxy's ALTCHA challenge in the page with the real ALTCHA widget (v3, served from
// node_modules on the page's origin, under the page's strict CSP) and sends its payload
// once. The page shows the X-Quota-* headers. Nothing leaves loopback.
import { fileURLToPath } from 'node:url'
import { jwtVerify } from 'jose'
import type { Browser, Page, Request } from 'playwright-core'
import { before, t as root, test } from 'tap'
import type { Test } from 'tap'
import { ERRORS } from '../../src/http/errors.ts'
import { staticHandler } from '../../scripts/static-server.ts'
import type { Handler } from '../../scripts/static-server.ts'
import { ALTCHA_FILES } from '../../examples/widget/server/altcha-files.ts'
import { DEMO_SUBJECT, VISITOR_TOKEN_PATH, visitorTokenHandler } from '../../examples/widget/server/visitor-token.ts'
import { artifactPath, launchBrowser, serve } from '../helpers/browser.ts'
import { setup } from '../helpers/setup.ts'
import type { Harness } from '../helpers/setup.ts'

const WIDGET = fileURLToPath(new URL('../../examples/widget/', import.meta.url))
const SECRET = 'widget-e2e-visitor-secret-0123456789abcdef'
const ISSUER = 'https://shop.test'
const AUDIENCE = 'hottask-proxy'
const VISITORS = { VISITOR_JWT_SECRET: SECRET, VISITOR_JWT_ISSUER: ISSUER, VISITOR_JWT_AUDIENCE: AUDIENCE }
const ALTCHA = { BOT_CHECK: 'altcha', ALTCHA_HMAC_KEY: 'widget-e2e-altcha-hmac-key-0123456789ab' }
/** The site backend's token lifetime here; the page fetches a new one 60 s before its end. */
const TTL_S = 300

let browser: Browser
before(async () => { browser = await launchBrowser(root) })

interface Site extends Harness {
  pageOrigin: string
  proxyUrl: string
  /** How many visitor tokens the site backend has given. */
  minted: () => number
}

/**
 * The widget's folder on its own origin, with the example's site backend (GET
 * /visitor-token) and the ALTCHA widget's files, and a proxy on another origin that
 * verifies the site's visitor tokens. The page may fetch only itself and the proxy.
 */
async function startSite (t: Test, env: Record<string, string> = {}, secretOf: (nth: number) => string = () => SECRET): Promise<Site> {
  let handler = staticHandler(WIDGET)
  const { origin: pageOrigin } = await serve(t, (req, res) => handler(req, res))
  const harness = await setup(t, { CORS_ORIGINS: pageOrigin, UPSTREAM_RETRIES: '0', ...VISITORS, ...env })
  const proxyUrl = await harness.app.listen({ port: 0, host: '127.0.0.1' })
  let minted = 0
  const mint: Handler = (req, res) => {
    minted++
    visitorTokenHandler({ secret: secretOf(minted), issuer: ISSUER, audience: AUDIENCE, ttlSeconds: TTL_S })(req, res)
  }
  handler = staticHandler(WIDGET, { connectSrc: ["'self'", proxyUrl], files: ALTCHA_FILES, routes: { [VISITOR_TOKEN_PATH]: mint } })
  return { ...harness, pageOrigin, proxyUrl, minted: () => minted }
}

interface Opened { page: Page, errors: string[], requests: string[] }

/** Opens the widget page; collects console errors, page errors and CSP violations. */
async function open (t: Test, url: string, options: { fakeClock?: boolean } = {}): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 720, height: 760 } })
  t.teardown(() => page.close())
  const errors: string[] = []
  const requests: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  page.on('pageerror', (error) => { errors.push(String(error)) })
  page.on('request', (request) => { requests.push(request.url()) })
  if (options.fakeClock === true) await page.clock.install()
  await page.goto(url)
  // Time stands still from here on; only clock.runFor() moves it.
  if (options.fakeClock === true) await page.clock.pauseAt(Date.now() + 60_000)
  await page.getByRole('button', { name: 'Start chat' }).waitFor()
  return { page, errors, requests }
}

interface Sent { request: Request, status: number, body: string }

/** Clicks Start chat; resolves with the page's POST /sessions and the proxy's answer. */
async function clickStart (page: Page, proxyUrl: string): Promise<Sent> {
  const answer = page.waitForResponse((res) => res.url() === `${proxyUrl}/sessions` && res.request().method() === 'POST', { timeout: 60_000 })
  await page.getByRole('button', { name: 'Start chat' }).click()
  const res = await answer
  return { request: res.request(), status: res.status(), body: await res.text() }
}

/** Types a message and sends it; resolves once its reply has ended. */
async function sendMessage (page: Page, proxyUrl: string, content: string): Promise<Sent> {
  const answer = page.waitForResponse((res) => res.url().startsWith(`${proxyUrl}/sessions/`) && res.request().method() === 'POST')
  const replies = await page.locator('.message.bot').count()
  await page.locator('#message').fill(content)
  await page.locator('#message').press('Enter')
  const res = await answer
  // A streamed reply's body is the page's to read: wait for its bubble to end instead.
  if (res.status() === 200) await page.locator('.message.bot:not([aria-busy])').nth(replies).waitFor()
  return { request: res.request(), status: res.status(), body: res.status() === 200 ? '' : await res.text() }
}

const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).textContent()) ?? ''
const bearerOf = (request: Request): string | undefined => /^Bearer (.+)$/.exec(request.headers().authorization ?? '')?.[1]
const QUOTA_TEXT = (remaining: number, limit: number): RegExp => new RegExp(`^${remaining} of ${limit} left today \\(renews in (\\d+ h \\d+ min|\\d+ min \\d+ s|\\d+ s)\\)$`)

test('visitor mode: a token from the site backend goes with the session and every message, and the quotas show', async (t) => {
  const { upstream, pageOrigin, proxyUrl, minted, logs } = await startSite(t, {
    REQUIRE_VISITOR_TOKEN: 'true', QUOTA_SESSIONS_PER_DAY: '3', QUOTA_MESSAGES_PER_DAY: '5'
  })
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=visitor`)
  t.equal(await text(page, '#mode'), 'Visitor token', 'the page names its mode')
  t.equal(await page.locator('#quota').isHidden(), true, 'no quota shown before the proxy told one')

  const started = await clickStart(page, proxyUrl)
  t.equal(started.status, 201, 'created')
  const token = bearerOf(started.request)
  t.ok(token, 'POST /sessions carried a bearer token')
  const { payload, protectedHeader } = await jwtVerify(token!, new TextEncoder().encode(SECRET), { issuer: ISSUER, audience: AUDIENCE })
  t.equal(protectedHeader.alg, 'HS256')
  t.equal(payload.sub, DEMO_SUBJECT, "the site's user")
  t.equal(payload.exp! - payload.iat!, TTL_S, 'short-lived')
  await page.locator('#session-id').waitFor()
  t.equal(await text(page, '#session-id'), /"sessionId":(\d+)/.exec(started.body)?.[1])
  t.match(await text(page, '#quota-sessions'), QUOTA_TEXT(2, 3), 'X-Quota-* of POST /sessions')

  const first = await sendMessage(page, proxyUrl, 'Hello from a known visitor')
  t.equal(first.status, 200)
  t.equal(bearerOf(first.request), token, 'the message carried the same token, still fresh')
  t.equal(await page.locator('.message.bot').first().textContent(), 'Echo: Hello from a known visitor')
  t.match(await text(page, '#quota-messages'), QUOTA_TEXT(4, 5), 'X-Quota-* of a streamed message')
  t.equal((await sendMessage(page, proxyUrl, 'And again')).status, 200)
  t.match(await text(page, '#quota-messages'), QUOTA_TEXT(3, 5), 'counted down')
  t.equal(minted(), 1, 'one token served all three requests')
  t.equal(upstream.count(), 3)
  const posts = logs.entries.filter((line) => line.msg === 'request completed' && (line.req as { method: string }).method === 'POST')
  t.equal(posts.length, 3)
  t.ok(posts.every((line) => typeof line.visitor === 'string' && line.visitor === posts[0]!.visitor), 'the proxy logged one visitor for all three')
  t.same(errors, [], 'no console error, no page error, no CSP violation')

  await page.mouse.move(0, 0)
  await page.screenshot({ path: artifactPath('widget-visitor.png'), fullPage: true })
})

test('visitor mode: a token near its end is replaced before the next request, and the session goes on', async (t) => {
  const { pageOrigin, proxyUrl, minted } = await startSite(t)
  // The page's clock moves by hand; the proxy's is real, and the new token is valid for it.
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=visitor`, { fakeClock: true })
  const started = await clickStart(page, proxyUrl)
  t.equal(started.status, 201)
  await page.locator('#chat').waitFor()
  await page.clock.runFor((TTL_S - 60 - 1) * 1000)
  const before = await sendMessage(page, proxyUrl, 'still fresh?')
  t.equal(bearerOf(before.request), bearerOf(started.request), 'more than 60 s left: the same token')
  await page.clock.runFor(2000)
  const after = await sendMessage(page, proxyUrl, 'and now?')
  t.equal(after.status, 200, 'the session goes on with the new token')
  t.not(bearerOf(after.request), bearerOf(started.request), 'less than 60 s left: a new token')
  t.equal(minted(), 2)
  t.same(errors, [])
})

test('visitor mode: a token the proxy refuses is dropped, and the next try fetches another', async (t) => {
  // The site's first token is signed with a key the proxy does not know (a rotation gone wrong).
  const { upstream, pageOrigin, proxyUrl, minted } = await startSite(t, {}, (nth) => nth === 1 ? 'not-the-proxy-secret-0123456789abcdef' : SECRET)
  const { page } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=visitor`)
  const refused = await clickStart(page, proxyUrl)
  t.equal(refused.status, 401)
  await page.locator('#problem-code').waitFor()
  t.equal(await text(page, '#problem-code'), 'INVALID_VISITOR_TOKEN')
  const again = await clickStart(page, proxyUrl)
  t.equal(again.status, 201, 'created with a new token')
  t.not(bearerOf(again.request), bearerOf(refused.request))
  t.equal(minted(), 2)
  t.equal(upstream.count(), 1)
})

test('REQUIRE_VISITOR_TOKEN: the page without a token is refused, and says why', async (t) => {
  const { upstream, pageOrigin, proxyUrl, minted } = await startSite(t, { REQUIRE_VISITOR_TOKEN: 'true' })
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}`)
  t.equal(await text(page, '#mode'), 'Anonymous')
  const refused = await clickStart(page, proxyUrl)
  t.equal(refused.status, 401)
  t.equal(refused.request.headers().authorization, undefined, 'no token sent')
  await page.locator('#problem-code').waitFor()
  t.equal(await text(page, '#problem-code'), 'VISITOR_TOKEN_REQUIRED')
  t.equal(await text(page, '#problem-title'), ERRORS.VISITOR_TOKEN_REQUIRED.title)
  t.equal(upstream.count(), 0)
  t.equal(minted(), 0)
  t.same(errors.filter((e) => !e.includes('401')), [], 'no error besides the 401 itself')
})

test('visitor mode: a spent daily quota shows QUOTA_EXCEEDED and waits until it renews', async (t) => {
  const { upstream, pageOrigin, proxyUrl } = await startSite(t, { QUOTA_SESSIONS_PER_DAY: '1' })
  const { page } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=visitor`)
  t.equal((await clickStart(page, proxyUrl)).status, 201)
  await page.locator('#session-id').waitFor()
  t.match(await text(page, '#quota-sessions'), QUOTA_TEXT(0, 1))
  const spent = await clickStart(page, proxyUrl)
  t.equal(spent.status, 429)
  await page.locator('#problem-code').waitFor()
  t.equal(await text(page, '#problem-code'), 'QUOTA_EXCEEDED')
  t.match(await text(page, '#quota-sessions'), QUOTA_TEXT(0, 1), 'the refusal tells the quota too')
  t.match(await page.getByRole('timer').textContent(), /^You can try again in (\d+ h \d+ min|\d+ min \d+ s|\d+ s)\.$/, 'until the next UTC midnight')
  t.equal(await page.locator('#start').isDisabled(), true)
  t.equal(upstream.count(), 1)
})

/** The ALTCHA payload the page sent: base64 of { challenge: { parameters, signature }, solution }. */
function payloadOf (request: Request): { challenge: { parameters: Record<string, unknown>, signature: string }, solution: { counter: number, derivedKey: string } } {
  const header = request.headers()['bot-check-token']
  if (header === undefined) throw new Error('no Bot-Check-Token sent')
  return JSON.parse(Buffer.from(header, 'base64').toString('utf8'))
}

test('altcha mode: the page solves the proxy\'s challenge with the ALTCHA widget and starts a chat; its payload passes once', async (t) => {
  const { upstream, pageOrigin, proxyUrl, minted } = await startSite(t, ALTCHA)
  const { page, errors, requests } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=altcha`)
  t.equal(await text(page, '#mode'), 'Bot check (ALTCHA)')
  await page.locator('altcha-widget').waitFor()
  const workers: string[] = []
  page.on('worker', (worker) => { workers.push(worker.url()) })

  const served = page.waitForResponse(`${proxyUrl}/bot-check/challenge`)
  const started = await clickStart(page, proxyUrl)
  const challenge = JSON.parse(await (await served).text()) as { parameters: Record<string, unknown>, signature: string }
  t.equal(started.status, 201, 'created')
  const sent = payloadOf(started.request)
  t.same(sent.challenge, challenge, 'the challenge the proxy served, as served')
  t.equal(sent.challenge.parameters.algorithm, 'SHA-256')
  t.ok(Number.isInteger(sent.solution.counter) && sent.solution.counter >= 0, `the counter found: ${sent.solution.counter}`)
  t.ok(sent.solution.derivedKey.startsWith(String(challenge.parameters.keyPrefix)), 'a key with the required prefix')
  t.ok(workers.length > 0 && workers.every((url) => url === `${pageOrigin}/vendor/altcha-sha-worker.js`), `solved by the widget's SHA workers, from the page's origin: ${workers.length}`)
  t.equal(started.request.headers().authorization, undefined, 'no visitor token in this mode')
  await page.locator('#session-id').waitFor()
  t.equal(await page.locator('#chat').isVisible(), true)
  t.equal(minted(), 0)
  t.same(errors, [], 'no console error, no page error, no CSP violation: the widget and its workers run under the page\'s CSP')
  t.same(requests.filter((url) => !url.startsWith(`${pageOrigin}/`) && !url.startsWith(`${proxyUrl}/`)), [], 'no third party: the page and the proxy only')
  t.ok(requests.includes(`${pageOrigin}/vendor/altcha.js`), 'the widget came from the page\'s origin')
  await page.mouse.move(0, 0)
  await page.screenshot({ path: artifactPath('widget-altcha.png'), fullPage: true })

  // Attack: the same payload again, from the same page.
  const replayed = await page.evaluate(async ({ url, token }) => {
    const res = await fetch(`${url}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'bot-check-token': token }, body: '{}' })
    return { status: res.status, code: ((await res.json()) as { code: string }).code }
  }, { url: proxyUrl, token: started.request.headers()['bot-check-token']! })
  t.same(replayed, { status: 403, code: 'BOT_CHECK_FAILED' }, 'a replayed payload is refused')

  // The widget was reset: the next chat solves a new challenge.
  const again = await clickStart(page, proxyUrl)
  t.equal(again.status, 201)
  t.not(payloadOf(again.request).challenge.signature, sent.challenge.signature, 'a new challenge')
  t.equal(upstream.count(), 2)
})

test('altcha mode: a box the visitor ticked first is the solution Start chat sends, done or under way', async (t) => {
  const { pageOrigin, proxyUrl } = await startSite(t, ALTCHA)
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=altcha`)
  let challenges = 0
  page.on('request', (request) => { if (request.url() === `${proxyUrl}/bot-check/challenge`) challenges++ })
  await page.locator('altcha-widget').getByText("I'm not a robot").click()
  await page.locator('altcha-widget [data-state="verified"]').waitFor({ timeout: 60_000 })
  const started = await clickStart(page, proxyUrl)
  t.equal(started.status, 201, 'created')
  t.equal(challenges, 1, 'solved once, when the box was ticked')

  // Ticked, and Start chat clicked while the work is still under way: it waits for that work.
  await page.locator('altcha-widget').getByText("I'm not a robot").click()
  // The widget takes at least 500 ms (its minDuration) before it says verified.
  t.equal(await page.locator('altcha-widget').evaluate((widget) => (widget as unknown as { getState: () => string }).getState()), 'verifying')
  const again = await clickStart(page, proxyUrl)
  t.equal(again.status, 201)
  t.equal(challenges, 2, 'one more challenge, solved once')
  t.same(errors, [])
})

test('BOT_CHECK=altcha: the anonymous page is refused BOT_CHECK_REQUIRED; a visitor token skips the check', async (t) => {
  const { upstream, pageOrigin, proxyUrl } = await startSite(t, ALTCHA)
  const anonymous = await open(t, `${pageOrigin}/?proxy=${proxyUrl}`)
  t.equal((await clickStart(anonymous.page, proxyUrl)).status, 403)
  await anonymous.page.locator('#problem-code').waitFor()
  t.equal(await text(anonymous.page, '#problem-code'), 'BOT_CHECK_REQUIRED')
  t.equal(await text(anonymous.page, '#problem-title'), ERRORS.BOT_CHECK_REQUIRED.title)
  t.equal(upstream.count(), 0)

  const visitor = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=visitor`)
  const started = await clickStart(visitor.page, proxyUrl)
  t.equal(started.status, 201, 'created')
  t.equal(started.request.headers()['bot-check-token'], undefined, 'no bot check sent')
})

test('an unknown ?mode= disables the button', async (t) => {
  const { pageOrigin, proxyUrl } = await startSite(t)
  const { page } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&mode=nope`)
  t.equal(await page.locator('#start').isDisabled(), true)
  t.equal(await text(page, '#problem-title'), 'Invalid mode')
})
