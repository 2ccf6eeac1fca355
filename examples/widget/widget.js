// hottask-proxy demo widget: one "Start chat" button that asks the proxy for a chat
// session from the browser, and shows the session id or the proxy's problem.
//
// Plain browser JavaScript: no framework, no build step, no external resource, no inline
// script (the page works under a strict Content-Security-Policy). Copy `createSession`
// into your own widget; the rest of this file only renders its outcome.
//
// Configuration, from this page's query string (defaults in brackets):
//   ?proxy=<origin of hottask-proxy>   [http://127.0.0.1:3000]
//   ?chatbot=<chatbot serialNumber>    [the demo chatbot]
// In production you would hard-code both, and the proxy's CORS_ORIGINS must list the
// origin of the page that calls it.

const DEFAULT_PROXY = 'http://127.0.0.1:3000'
const DEFAULT_CHATBOT = '3254a9d0424c4806b9ea3d0763ccf123'
// A little more than the proxy's own upstream deadline (UPSTREAM_TIMEOUT_MS, 10 s).
const REQUEST_TIMEOUT_MS = 15_000

/**
 * Asks hottask-proxy for a new chat session.
 *
 * Resolves (never rejects) to one of:
 *   { ok: true, sessionId, requestId }
 *   { ok: false, status, title, detail, code, requestId, retryAfter }
 * where `retryAfter` is the number of seconds to wait before trying again, or null.
 */
export async function createSession (proxyUrl, serialNumber) {
  // Our own request id: the proxy echoes it in X-Request-Id, logs it on every line of
  // this request and sends it upstream, so a support ticket quoting it finds everything.
  // (Optional: without it the proxy makes one up and returns it the same way.)
  const sentRequestId = newRequestId()
  const headers = { 'content-type': 'application/json' }
  if (sentRequestId !== null) headers['x-request-id'] = sentRequestId

  let response
  try {
    // A cross-origin POST with a JSON body: the browser first sends a CORS preflight
    // (OPTIONS /sessions), which the proxy answers only for origins in CORS_ORIGINS.
    response = await fetch(`${proxyUrl}/sessions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ serialNumber }),
      // The proxy uses no cookies and never allows credentials: do not send any.
      credentials: 'omit',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)
    })
  } catch (error) {
    // fetch rejects only when no HTTP answer reached this script: the proxy is down or
    // unreachable, the timeout above fired, or the browser hid the answer because this
    // page's origin is not in the proxy's CORS_ORIGINS (the browser console says which).
    // There is no status and no problem body to show.
    console.error('hottask-proxy: no answer from %s/sessions', proxyUrl, error)
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError'
    return {
      ok: false,
      status: 0,
      title: timedOut ? 'No answer in time' : 'Chat service unreachable',
      detail: timedOut
        ? 'The chat service did not answer in time. Please try again.'
        : 'Could not reach the chat service. Check your connection and try again.',
      code: timedOut ? 'CLIENT_TIMEOUT' : 'NETWORK_ERROR',
      requestId: sentRequestId,
      retryAfter: null
    }
  }

  // The proxy exposes X-Request-Id and Retry-After to scripts (Access-Control-Expose-Headers);
  // without that, cross-origin JavaScript could not read them.
  const requestId = response.headers.get('x-request-id') ?? sentRequestId

  if (response.status === 201) {
    // Success is exactly {"sessionId": <integer>}. Ids may grow beyond 2^53 - 1, where
    // JSON.parse would round them, so read the digits from the text itself.
    const text = await response.text()
    const digits = /^\s*\{\s*"sessionId"\s*:\s*(\d+)\s*\}\s*$/.exec(text)
    return { ok: true, sessionId: digits ? digits[1] : String(JSON.parse(text).sessionId), requestId }
  }

  // Every refusal is an RFC 9457 problem (Content-Type: application/problem+json):
  // branch on `code`, show `title` and `detail` to people, quote `requestId` to support.
  let problem = {}
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try { problem = await response.json() } catch { /* not JSON after all */ }
  }
  return {
    ok: false,
    status: response.status,
    title: typeof problem.title === 'string' ? problem.title : `HTTP ${response.status}`,
    detail: typeof problem.detail === 'string' ? problem.detail : 'The chat service could not start a session.',
    code: typeof problem.code === 'string' ? problem.code : 'UNKNOWN',
    requestId: typeof problem.requestId === 'string' ? problem.requestId : requestId,
    // Sent with 429 RATE_LIMITED, 503 UPSTREAM_RATE_LIMITED and 503 RATE_LIMIT_UNAVAILABLE:
    // do not try again before it has passed.
    retryAfter: retryAfterSeconds(response.headers.get('retry-after'))
  }
}

/** A fresh request id matching the proxy's ^[A-Za-z0-9._-]{1,64}$, or null. */
function newRequestId () {
  // randomUUID exists only in secure contexts (https, or http on localhost/127.0.0.1).
  return typeof crypto.randomUUID === 'function' ? `widget-${crypto.randomUUID()}` : null
}

/** Retry-After as whole seconds from now (delta-seconds or an HTTP date), or null. */
function retryAfterSeconds (value) {
  if (value === null) return null
  if (/^\s*\d+\s*$/.test(value)) return Number(value)
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000))
}

// ---------------------------------------------------------------------------------
// The page: reads its configuration, wires the button, renders outcomes. All text is
// set with textContent, never innerHTML: a problem's `detail` may carry the upstream's
// own message, which is data, not markup.

const $ = (id) => document.getElementById(id)
const button = $('start')
const result = $('result')
const countdown = $('countdown')
const announce = $('announce')
const BUTTON_LABEL = button.textContent

const params = new URLSearchParams(window.location.search)
const proxyUrl = proxyUrlOf(params.get('proxy') ?? DEFAULT_PROXY)
const chatbotId = params.get('chatbot') || DEFAULT_CHATBOT
$('proxy-url').textContent = proxyUrl ?? String(params.get('proxy'))
$('chatbot-id').textContent = chatbotId

/** An http(s) URL without trailing slash, query or fragment, or null. */
function proxyUrlOf (value) {
  try {
    const url = new URL(value)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
  } catch {
    return null
  }
}

/** Appends a new `<tag>` with `props` and `text` to `parent`. */
function el (parent, tag, props = {}, text = '') {
  const node = document.createElement(tag)
  Object.assign(node, props)
  node.textContent = text
  parent.append(node)
  return node
}

function addField (list, label, value, id) {
  el(list, 'dt', {}, label)
  el(list, 'dd', id ? { id } : {}, value)
}

function showSession (outcome) {
  result.replaceChildren()
  result.className = 'result success'
  el(result, 'p', { className: 'result-title' }, 'Chat session started')
  const fields = el(result, 'dl', { className: 'fields' })
  addField(fields, 'Session id', outcome.sessionId, 'session-id')
  if (outcome.requestId) addField(fields, 'Request id', outcome.requestId, 'request-id')
  // In a real widget: hand outcome.sessionId to your chat client here.
}

function showProblem (outcome) {
  result.replaceChildren()
  result.className = 'result problem'
  el(result, 'p', { className: 'result-title', id: 'problem-title' }, outcome.title)
  el(result, 'p', { id: 'problem-detail' }, outcome.detail)
  const fields = el(result, 'dl', { className: 'fields' })
  addField(fields, 'Code', outcome.code, 'problem-code')
  if (outcome.status > 0) addField(fields, 'Status', String(outcome.status), 'problem-status')
  if (outcome.requestId) addField(fields, 'Request id', outcome.requestId, 'request-id')
}

let timer = null

/** Keeps the button disabled until `seconds` have passed, showing the time left. */
function waitBeforeRetry (seconds) {
  const until = Date.now() + seconds * 1000
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000)
    if (left <= 0) {
      clearInterval(timer)
      timer = null
      countdown.hidden = true
      countdown.textContent = ''
      button.disabled = false
      button.textContent = BUTTON_LABEL
      announce.textContent = 'You can try again now.'
      return
    }
    countdown.textContent = `You can try again in ${left} s.`
  }
  button.disabled = true
  button.textContent = 'Please wait'
  countdown.hidden = false
  tick()
  timer = setInterval(tick, 250)
}

async function onStart () {
  if (timer !== null || proxyUrl === null) return
  button.disabled = true
  button.textContent = 'Starting…'
  announce.textContent = ''
  result.setAttribute('aria-busy', 'true')
  const outcome = await createSession(proxyUrl, chatbotId)
  result.removeAttribute('aria-busy')
  button.disabled = false
  button.textContent = BUTTON_LABEL
  if (outcome.ok) {
    showSession(outcome)
    return
  }
  showProblem(outcome)
  if (outcome.retryAfter !== null && outcome.retryAfter > 0) waitBeforeRetry(outcome.retryAfter)
}

if (proxyUrl === null) {
  button.disabled = true
  showProblem({ title: 'Invalid proxy URL', detail: 'The ?proxy= parameter must be an http(s) URL.', code: 'CONFIGURATION', status: 0, requestId: null })
} else {
  button.addEventListener('click', () => { onStart() })
}
