// The demo widget (examples/widget/) in headless Chromium, served by the demo's own
// static server (strict CSP) on one loopback origin, calling a real proxy on another
// with a simulated upstream: the button creates a session, and a refusal shows the
// mapped problem and a Retry-After countdown that keeps the button disabled.
// Screenshots go to test-artifacts/; with UPDATE_DOCS_SCREENSHOT=1 the success one also
// replaces docs/widget.png, the picture the README shows.
import { copyFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { before, t as root, test } from 'tap'
import type { Test } from 'tap'
import { ERRORS } from '../../src/http/errors.ts'
import { staticHandler } from '../../scripts/static-server.ts'
import { artifactPath, launchBrowser, serve } from '../helpers/browser.ts'
import { setup } from '../helpers/setup.ts'
import type { Harness } from '../helpers/setup.ts'
import type { AppDeps } from '../../src/app.ts'
import { manualClock } from '../helpers/waiting.ts'

const WIDGET = fileURLToPath(new URL('../../examples/widget/', import.meta.url))
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/widget.png', import.meta.url))

let browser: Browser
before(async () => { browser = await launchBrowser(root) })

interface Widget extends Harness {
  pageOrigin: string
  proxyUrl: string
}

/**
 * The widget's folder on its own origin and a proxy listening on another, each allowing
 * the other: CORS_ORIGINS lists the page, the page's CSP connect-src lists the proxy.
 */
async function startWidget (t: Test, env: Record<string, string> = {}, deps: AppDeps = {}): Promise<Widget> {
  let handler = staticHandler(WIDGET)
  const { origin: pageOrigin } = await serve(t, (req, res) => handler(req, res))
  // No retries: a Retry-After that fits the deadline would otherwise be waited out upstream.
  const harness = await setup(t, { CORS_ORIGINS: pageOrigin, UPSTREAM_RETRIES: '0', ...env }, { deps })
  const proxyUrl = await harness.app.listen({ port: 0, host: '127.0.0.1' })
  handler = staticHandler(WIDGET, { connectSrc: [proxyUrl] })
  return { ...harness, pageOrigin, proxyUrl }
}

interface Opened { page: Page, errors: string[] }

/** Opens the widget page; collects console errors, page errors and CSP violations. */
async function open (t: Test, url: string, options: { fakeClock?: boolean } = {}): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: 720, height: 600 } })
  t.teardown(() => page.close())
  const errors: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()) })
  page.on('pageerror', (error) => { errors.push(String(error)) })
  const start = new Date('2026-01-01T12:00:00Z')
  if (options.fakeClock === true) await page.clock.install({ time: start })
  await page.goto(url)
  // Time stands still from here on; only clock.runFor() moves it.
  if (options.fakeClock === true) await page.clock.pauseAt(new Date(start.getTime() + 60_000))
  await page.getByRole('button', { name: 'Start chat' }).waitFor()
  return { page, errors }
}

/** Clicks the button and returns what the proxy answered to that click. */
async function clickStart (page: Page, proxyUrl: string): Promise<{ status: number, requestId: string | null, body: string }> {
  const answer = page.waitForResponse((res) => res.url() === `${proxyUrl}/sessions` && res.request().method() === 'POST')
  await page.getByRole('button', { name: 'Start chat' }).click()
  const res = await answer
  return { status: res.status(), requestId: await res.headerValue('x-request-id'), body: await res.text() }
}

const text = async (page: Page, selector: string): Promise<string> => (await page.locator(selector).textContent()) ?? ''

test('Start chat shows the new session id', async (t) => {
  const { upstream, pageOrigin, proxyUrl } = await startWidget(t)
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}`)
  t.equal(await text(page, '#proxy-url'), proxyUrl, 'the page shows the proxy from ?proxy=')
  t.equal(await text(page, '#chatbot-id'), '3254a9d0424c4806b9ea3d0763ccf123', 'and the default chatbot')

  const answer = await clickStart(page, proxyUrl)
  t.equal(answer.status, 201)
  const sessionId = page.locator('#session-id')
  await sessionId.waitFor()
  t.match(await sessionId.textContent(), /^[1-9]\d*$/)
  t.equal(await sessionId.textContent(), /"sessionId":(\d+)/.exec(answer.body)?.[1], 'the id the proxy returned')
  t.match(await page.getByRole('status').textContent(), /Chat session started/, 'announced in the status region')

  // The widget sends its own request id; the proxy echoed it, sent it upstream and the page shows it.
  t.match(answer.requestId, /^widget-[0-9a-f-]{36}$/)
  t.equal(await text(page, '#request-id'), answer.requestId)
  t.equal(upstream.requests.at(-1)?.headers['x-request-id'], answer.requestId)
  t.same(JSON.parse(upstream.requests.at(-1)?.body ?? '{}'), { serialNumber: '3254a9d0424c4806b9ea3d0763ccf123' })
  t.equal(await page.getByRole('button', { name: 'Start chat' }).isEnabled(), true, 'ready for another chat')
  t.same(errors, [], 'no console error, no page error, no CSP violation')

  t.equal(await page.locator('#chat').isVisible(), true, 'the conversation opens')
  await page.mouse.move(0, 0) // no hover look on the button
  await page.screenshot({ path: artifactPath('widget-success.png'), fullPage: true })
})

/** Types a message and sends it with Enter; resolves with the proxy's answer to it once its headers are in. */
async function sendMessage (page: Page, proxyUrl: string, content: string) {
  const answer = page.waitForResponse((res) => res.url().startsWith(`${proxyUrl}/sessions/`) && res.request().method() === 'POST')
  await page.locator('#message').fill(content)
  await page.locator('#message').press('Enter')
  return await answer
}

test('a conversation: the reply streams into its bubble piece by piece', async (t) => {
  const { upstream, pageOrigin, proxyUrl } = await startWidget(t)
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}`)
  await clickStart(page, proxyUrl)
  await page.locator('#chat').waitFor()
  const first = await sendMessage(page, proxyUrl, 'Hello, can you help me?')
  t.equal(first.status(), 200)
  t.equal(await first.headerValue('content-type'), 'text/event-stream; charset=utf-8')
  const reply = page.locator('.message.bot').first()
  await page.locator('.message.bot:not([aria-busy])').first().waitFor()
  t.equal(await reply.textContent(), 'Echo: Hello, can you help me?', 'the pieces of the stream, joined')
  t.equal(await page.locator('.message.user').first().textContent(), 'Hello, can you help me?')
  const sent = upstream.requests.at(-1)!
  t.same(JSON.parse(sent.body), { sessionID: Number(/\/sessions\/(\d+)\//.exec(first.url())![1]), content: 'Hello, can you help me?', stream: true })

  // A slow stream: the bubble shows the first pieces while the rest is still coming.
  t.equal((await sendMessage(page, proxyUrl, 'sim:chunks-6-250 tell me more')).status(), 200)
  const streaming = page.locator('.message.bot[aria-busy="true"]')
  await streaming.filter({ hasText: /Echo: \S/ }).waitFor()
  const partial = await streaming.textContent()
  await page.locator('.message.bot:not([aria-busy])').nth(1).waitFor()
  const whole = await page.locator('.message.bot').nth(1).textContent()
  t.ok(partial !== null && partial.length > 0 && partial.length < whole!.length, `rendered "${partial}" before the whole "${whole}"`)
  t.ok(whole!.startsWith(partial!), 'the first pieces came first')
  t.same(errors, [], 'no console error, no page error, no CSP violation')

  await page.mouse.move(0, 0)
  await page.screenshot({ path: artifactPath('widget-conversation.png'), fullPage: true })
  if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
    mkdirSync(new URL('../../docs/', import.meta.url), { recursive: true })
    copyFileSync(artifactPath('widget-conversation.png'), DOCS_SCREENSHOT)
  }
})

test('an expired session token ends the chat and asks for a new one', async (t) => {
  const clock = manualClock()
  const { pageOrigin, proxyUrl } = await startWidget(t, { SESSION_TOKEN_TTL_MS: '60000' }, { now: clock.now })
  const { page } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}`)
  await clickStart(page, proxyUrl)
  await page.locator('#chat').waitFor()
  clock.advance(60_000)
  const answer = await sendMessage(page, proxyUrl, 'still there?')
  t.equal(answer.status(), 401)
  await page.locator('#problem-code').waitFor()
  t.equal(await text(page, '#problem-code'), 'SESSION_TOKEN_EXPIRED')
  t.equal(await text(page, '#problem-title'), ERRORS.SESSION_TOKEN_EXPIRED.title)
  t.equal(await page.locator('#chat').isHidden(), true, 'the conversation closes')
  t.equal(await text(page, '#announce'), 'This chat has ended. Start a new chat to continue.')
  t.equal(await page.locator('#start').isEnabled(), true, 'a new chat can start')
})

test('the per-session message limit: the problem, and Send waits out Retry-After', async (t) => {
  const { pageOrigin, proxyUrl } = await startWidget(t, { MESSAGE_RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW_MS: '5000' })
  const { page } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}`, { fakeClock: true })
  await clickStart(page, proxyUrl)
  await page.locator('#chat').waitFor()
  t.equal((await sendMessage(page, proxyUrl, 'one')).status(), 200)
  await page.locator('.message.bot:not([aria-busy])').first().waitFor()
  const limited = await sendMessage(page, proxyUrl, 'two')
  t.equal(limited.status(), 429)
  await page.locator('#problem-code').waitFor()
  t.equal(await text(page, '#problem-code'), 'RATE_LIMITED')
  const send = page.locator('#send')
  await page.getByRole('timer').waitFor()
  t.match(await page.getByRole('timer').textContent(), /^You can try again in [1-5] s\.$/)
  t.equal(await send.isDisabled(), true, 'no message before Retry-After has passed')
  t.equal(await page.locator('.message.bot').count(), 1, 'no empty bubble is left for the refused message')
  await page.clock.runFor(6000)
  t.equal(await send.isEnabled(), true)
  t.equal(await send.textContent(), 'Send')
})

test('an upstream refusal shows the problem and counts Retry-After down before enabling the button', async (t) => {
  const { upstream, pageOrigin, proxyUrl } = await startWidget(t)
  // Playwright's fake clock drives the page's Date and timers: the countdown moves only
  // when the test says, and 7 s pass at once.
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&chatbot=sim-http-429-ra-7`, { fakeClock: true })

  const answer = await clickStart(page, proxyUrl)
  t.equal(answer.status, 503)
  const problem = JSON.parse(answer.body) as Record<string, unknown>
  t.equal(problem.code, 'UPSTREAM_RATE_LIMITED')

  await page.locator('#problem-title').waitFor()
  t.equal(await text(page, '#problem-title'), ERRORS.UPSTREAM_RATE_LIMITED.title)
  t.equal(await text(page, '#problem-detail'), ERRORS.UPSTREAM_RATE_LIMITED.detail)
  t.equal(await text(page, '#problem-code'), 'UPSTREAM_RATE_LIMITED')
  t.equal(await text(page, '#problem-status'), '503')
  t.equal(await text(page, '#request-id'), problem.requestId, "the problem's requestId")
  t.equal(problem.requestId, answer.requestId)
  t.equal(upstream.count(), 1)

  const button = page.locator('#start')
  const countdown = page.getByRole('timer')
  t.equal(await countdown.textContent(), 'You can try again in 7 s.', 'the countdown starts at Retry-After')
  t.equal(await button.isDisabled(), true, 'no retry before Retry-After has passed')
  t.equal(await button.getAttribute('aria-describedby'), 'countdown', 'the button is described by the countdown')
  await page.screenshot({ path: artifactPath('widget-problem.png'), fullPage: true })

  await page.clock.runFor(3000)
  t.equal(await countdown.textContent(), 'You can try again in 4 s.', 'a live countdown')
  t.equal(await button.isDisabled(), true)
  await page.clock.runFor(4000)
  t.equal(await countdown.isHidden(), true, 'the countdown ends')
  t.equal(await button.isEnabled(), true, 'the button is enabled again')
  t.equal(await button.textContent(), 'Start chat')
  t.equal(await text(page, '#announce'), 'You can try again now.', 'announced to screen readers')
  t.equal(await text(page, '#problem-title'), ERRORS.UPSTREAM_RATE_LIMITED.title, 'the problem stays visible')
  t.same(errors.filter((e) => !e.includes('503')), [], 'no error besides the 503 itself')
})

test('a problem without Retry-After leaves the button enabled; the upstream message is the detail', async (t) => {
  const { pageOrigin, proxyUrl } = await startWidget(t)
  const { page } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}&chatbot=sim-code-404`)

  const answer = await clickStart(page, proxyUrl)
  t.equal(answer.status, 404)
  const problem = JSON.parse(answer.body) as Record<string, string>
  await page.locator('#problem-title').waitFor()
  t.equal(await text(page, '#problem-title'), ERRORS.CHATBOT_NOT_FOUND.title)
  t.equal(await text(page, '#problem-detail'), problem.detail)
  t.ok(problem.detail, 'the detail is the upstream message')
  t.equal(await text(page, '#problem-code'), 'CHATBOT_NOT_FOUND')
  t.equal(await text(page, '#request-id'), problem.requestId)
  t.equal(await page.getByRole('timer').isHidden(), true, 'no countdown')
  t.equal(await page.locator('#start').isEnabled(), true)
})

test('a page origin missing from CORS_ORIGINS gets no answer, and says so', async (t) => {
  const { upstream, pageOrigin, proxyUrl } = await startWidget(t, { CORS_ORIGINS: 'http://127.0.0.1:1' })
  const { page, errors } = await open(t, `${pageOrigin}/?proxy=${proxyUrl}`)
  await page.getByRole('button', { name: 'Start chat' }).click()
  await page.locator('#problem-title').waitFor()
  t.equal(await text(page, '#problem-title'), 'Chat service unreachable')
  t.equal(await text(page, '#problem-code'), 'NETWORK_ERROR')
  t.match(await text(page, '#request-id'), /^widget-/, 'the id it sent, for support')
  t.equal(upstream.count(), 0, 'refused before the upstream')
  t.ok(errors.some((e) => /CORS/.test(e)), 'the console names CORS')
})

test('an invalid ?proxy= disables the button', async (t) => {
  const { pageOrigin } = await startWidget(t)
  const { page } = await open(t, `${pageOrigin}/?proxy=javascript:alert(1)`)
  t.equal(await page.locator('#start').isDisabled(), true)
  t.equal(await text(page, '#problem-title'), 'Invalid proxy URL')
})
