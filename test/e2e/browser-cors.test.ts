// The browser lane in real Chromium: a widget page on one loopback origin calls the
// proxy on another. A listed origin gets its session and can read X-Request-Id and
// Retry-After from JavaScript; an unlisted origin is blocked and never reaches upstream.
import type { Browser } from 'playwright-core'
import { before, t as root, test } from 'tap'
import type { Test } from 'tap'
import { launchBrowser, servePage } from '../helpers/browser.ts'
import { setup } from '../helpers/setup.ts'

let browser: Browser
before(async () => { browser = await launchBrowser(root) })

interface Outcome { status?: number, body?: string, requestId?: string | null, retryAfter?: string | null, limit?: string | null, error?: string }

const PAGE = '<!doctype html><meta charset="utf-8"><title>widget</title><p id="out">ready</p>'

/** Opens the page and runs the widget's fetch from it, as its own script would. */
async function callFrom (t: Test, pageUrl: string, proxyUrl: string): Promise<Outcome> {
  const page = await browser.newPage()
  t.teardown(() => page.close())
  await page.goto(pageUrl)
  const outcome = await page.evaluate(async (url: string) => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'widget-click-1' },
        body: JSON.stringify({ serialNumber: '3254a9d0424c4806b9ea3d0763ccf123' })
      })
      return {
        status: res.status,
        body: await res.text(),
        requestId: res.headers.get('x-request-id'),
        retryAfter: res.headers.get('retry-after'),
        limit: res.headers.get('x-ratelimit-limit')
      }
    } catch (error) {
      return { error: String(error) }
    }
  }, `${proxyUrl}/sessions`)
  return outcome
}

test('a listed origin gets a session and reads the exposed headers; a limited one reads Retry-After', async (t) => {
  const widget = await servePage(t, PAGE)
  const { app, upstream } = await setup(t, { CORS_ORIGINS: widget.origin, RATE_LIMIT_MAX: '2' })
  const proxyUrl = await app.listen({ port: 0, host: '127.0.0.1' })

  const first = await callFrom(t, widget.url, proxyUrl)
  t.equal(first.status, 201)
  t.match(JSON.parse(first.body ?? '{}'), { sessionId: Number })
  t.equal(first.requestId, 'widget-click-1', 'X-Request-Id is readable from JavaScript')
  t.equal(first.limit, '2', 'rate-limit headers are readable')
  t.equal((await callFrom(t, widget.url, proxyUrl)).status, 201)

  const limited = await callFrom(t, widget.url, proxyUrl)
  t.equal(limited.status, 429)
  t.equal(JSON.parse(limited.body ?? '{}').code, 'RATE_LIMITED')
  t.ok(Number(limited.retryAfter) > 0, 'Retry-After is readable from JavaScript')
  t.equal(upstream.count(), 2)
})

test('an unlisted origin is blocked by the browser and refused before the upstream', async (t) => {
  const listed = await servePage(t, PAGE)
  const other = await servePage(t, PAGE)
  const { app, upstream } = await setup(t, { CORS_ORIGINS: listed.origin })
  const proxyUrl = await app.listen({ port: 0, host: '127.0.0.1' })

  const outcome = await callFrom(t, other.url, proxyUrl)
  t.match(outcome.error, /TypeError: Failed to fetch/)
  t.equal(upstream.count(), 0, 'the key was never spent')
})
