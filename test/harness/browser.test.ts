// The real-browser harness itself: a page on one loopback origin fetches from an API on
// another, and Chromium enforces CORS exactly as it would for a deployed web app.
import { statSync } from 'node:fs'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { before, t as root, test } from 'tap'
import type { Test } from 'tap'
import type { Browser, Page } from 'playwright-core'
import { artifactPath, launchBrowser, serve, servePage } from '../helpers/browser.ts'

const REQUEST_ID = 'req-harness-42'

// One browser for the whole file (a launch costs about a second); each test opens its
// own page, so no state is shared between tests.
let browser: Browser
before(async () => { browser = await launchBrowser(root) })

interface FetchResult {
  ok?: boolean
  status?: number
  requestId?: string | null
  contentType?: string | null
  body?: string
  error?: string
  message?: string
}

/** A page whose own script fetches `api` and shows and exposes (window.result) the outcome. */
function fetchingPage (api: string): string {
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>hottask-proxy browser harness</title>
<style>
  body { font: 16px/1.4 "Liberation Sans", Arial, sans-serif; margin: 24px; color: #111 }
  h1 { font-size: 22px; margin: 0 0 12px }
  pre { background: #eef3ff; border: 1px solid #99b; padding: 12px; font: 14px "Liberation Mono", monospace }
</style>
<h1>Browser harness: cross-origin fetch</h1>
<p>Page origin <code id="origin"></code>, API <code>${api}</code></p>
<pre id="result">pending</pre>
<script>
  document.getElementById('origin').textContent = location.origin
  window.result = (async () => {
    let out
    try {
      const res = await fetch(${JSON.stringify(api)})
      out = {
        ok: res.ok,
        status: res.status,
        requestId: res.headers.get('x-request-id'),
        contentType: res.headers.get('content-type'),
        body: await res.text()
      }
    } catch (error) {
      out = { error: error.name, message: error.message }
    }
    document.getElementById('result').textContent = JSON.stringify(out, null, 2)
    return out
  })()
</script>
</html>`
}

/** A cross-origin API that answers every request with `headers`, recording what it got. */
async function api (t: Test, headers: OutgoingHttpHeaders): Promise<{ url: string, requests: IncomingHttpHeaders[] }> {
  const requests: IncomingHttpHeaders[] = []
  const { origin } = await serve(t, (req, res) => {
    requests.push(req.headers)
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': REQUEST_ID, ...headers })
    res.end(JSON.stringify({ hello: 'browser' }))
  })
  return { url: `${origin}/data`, requests }
}

/** Opens the fetching page and waits for its script's result. */
async function runPage (t: Test, apiUrl: string): Promise<{ result: FetchResult, origin: string, page: Page }> {
  const { origin, url } = await servePage(t, fetchingPage(apiUrl))
  const page = await browser.newPage()
  t.teardown(() => page.close())
  await page.goto(url)
  // A string expression: tsconfig has no DOM lib, so browser-side code is not typed here.
  const result = await page.evaluate('window.result') as FetchResult
  return { result, origin, page }
}

test('an exposed header is readable from page JS on another origin', async (t) => {
  const server = await api(t, {
    'access-control-allow-origin': '*',
    'access-control-expose-headers': 'X-Request-Id'
  })
  const { result, origin, page } = await runPage(t, server.url)
  t.not(origin, new URL(server.url).origin, 'page and API are different origins')
  t.same(result, { ok: true, status: 200, requestId: REQUEST_ID, contentType: 'application/json', body: '{"hello":"browser"}' })
  t.equal(server.requests.length, 1)
  t.equal(server.requests[0]?.origin, origin, 'the browser sent the page origin')

  t.match(await page.textContent('#result'), REQUEST_ID, 'the result is rendered')
  const file = artifactPath('harness-browser.png')
  await page.screenshot({ path: file, fullPage: true })
  t.ok(statSync(file).size > 5000, `screenshot saved to ${file}`)
})

test('without Expose-Headers the response is readable but the header is hidden', async (t) => {
  const server = await api(t, { 'access-control-allow-origin': '*' })
  const { result } = await runPage(t, server.url)
  t.equal(result.ok, true)
  t.equal(result.requestId, null, 'X-Request-Id is not CORS-safelisted')
  t.equal(result.contentType, 'application/json', 'Content-Type is CORS-safelisted')
})

test('without CORS headers the fetch rejects with TypeError', async (t) => {
  const server = await api(t, {})
  const { result } = await runPage(t, server.url)
  t.equal(result.error, 'TypeError')
  t.equal(result.message, 'Failed to fetch')
  t.equal(server.requests.length, 1, 'the request reached the server; the browser withheld the response')
})

test('a missing chromium fails with how to install it', async (t) => {
  const saved = process.env.CHROMIUM_PATH
  t.teardown(() => {
    if (saved === undefined) delete process.env.CHROMIUM_PATH
    else process.env.CHROMIUM_PATH = saved
  })
  process.env.CHROMIUM_PATH = '/nonexistent/chromium'
  await t.rejects(launchBrowser(t), /chromium is not installed.*scripts\/ci\/install-system-packages\.sh/s)
})
