// hottask-proxy demo widget: "Start chat" asks the proxy for a chat session from the
// browser; then each message is sent to that session and the chatbot's reply appears as
// it streams in. Refusals show the proxy's problem (and a Retry-After countdown).
//
// Plain browser JavaScript: no framework, no build step, no external resource, no inline
// script (the page works under a strict Content-Security-Policy). Copy `createSession`
// and `sendMessage` into your own widget; the rest of this file only renders outcomes.
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
// A reply's first byte may take a chatbot's thinking time (MESSAGE_TIMEOUT_MS, 60 s).
const MESSAGE_TIMEOUT_MS = 65_000

/**
 * Asks hottask-proxy for a new chat session.
 *
 * Resolves (never rejects) to one of:
 *   { ok: true, sessionId, sessionToken, requestId }
 *   { ok: false, status, title, detail, code, requestId, retryAfter }
 * where `retryAfter` is the number of seconds to wait before trying again, or null.
 * Keep `sessionToken` with the session: every message to it must carry it.
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
    return noAnswer(error, `${proxyUrl}/sessions`, sentRequestId)
  }

  // The proxy exposes X-Request-Id and Retry-After to scripts (Access-Control-Expose-Headers);
  // without that, cross-origin JavaScript could not read them.
  const requestId = response.headers.get('x-request-id') ?? sentRequestId

  if (response.status === 201) {
    // Success is {"sessionId": <integer>, "sessionToken": "<string>"}. Ids may grow beyond
    // 2^53 - 1, where JSON.parse would round them, so read the digits from the text itself.
    const text = await response.text()
    const digits = /"sessionId"\s*:\s*(\d+)/.exec(text)
    const body = JSON.parse(text)
    return { ok: true, sessionId: digits ? digits[1] : String(body.sessionId), sessionToken: body.sessionToken, requestId }
  }
  return await problemOf(response, requestId, 'The chat service could not start a session.')
}

/**
 * Sends one message to a session and streams the chatbot's reply: `onText(piece)` is
 * called with each piece of the reply as it arrives (once, with the whole reply, when
 * the proxy answers whole).
 *
 * Resolves (never rejects) to { ok: true, cut: false }, to { ok: true, cut: true } when
 * the stream broke off before its end (what arrived is all there is), or to a problem as
 * createSession gives. SESSION_TOKEN_EXPIRED, INVALID_SESSION_TOKEN and SESSION_NOT_FOUND
 * mean: start a new session.
 */
export async function sendMessage (proxyUrl, session, content, onText) {
  const sentRequestId = newRequestId()
  // The session token authorises this message; it is bound to this page's origin.
  const headers = { 'content-type': 'application/json', 'session-token': session.sessionToken }
  if (sentRequestId !== null) headers['x-request-id'] = sentRequestId
  const url = `${proxyUrl}/sessions/${session.sessionId}/messages`
  // The timeout is for the answer to begin: a streamed reply may then run for minutes.
  const waiting = new AbortController()
  const timer = setTimeout(() => waiting.abort(new DOMException('No answer in time', 'TimeoutError')), MESSAGE_TIMEOUT_MS)
  let response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ content, stream: true }),
      credentials: 'omit',
      signal: waiting.signal
    })
  } catch (error) {
    return noAnswer(error, url, sentRequestId)
  } finally {
    clearTimeout(timer)
  }
  const requestId = response.headers.get('x-request-id') ?? sentRequestId
  if (response.status !== 200) return await problemOf(response, requestId, 'The chat service could not send your message.')

  const type = (response.headers.get('content-type') ?? '').toLowerCase()
  // The proxy may answer whole (JSON) even to a streamed request.
  if (type.startsWith('application/json')) {
    onText((await response.json()).content)
    return { ok: true, cut: false, requestId }
  }
  // Otherwise the upstream's stream, relayed byte for byte. Its format is the upstream's:
  // server-sent events and JSON lines carry pieces of the reply; anything else is text.
  const pieces = type.startsWith('text/event-stream')
    ? eventPieces
    : type.startsWith('application/x-ndjson') ? linePieces : null
  const decoder = new TextDecoder()
  let buffered = ''
  try {
    for await (const chunk of response.body) {
      const text = decoder.decode(chunk, { stream: true })
      if (pieces === null) {
        onText(text)
        continue
      }
      buffered += text
      buffered = pieces(buffered, onText)
    }
  } catch {
    // The proxy cut the stream off (the upstream failed or went silent): no clean end.
    return { ok: true, cut: true, requestId }
  }
  return { ok: true, cut: false, requestId }
}

/** Server-sent events: each `data:` line of a complete event; returns what is left over. */
function eventPieces (text, onText) {
  const events = text.split(/\r?\n\r?\n/)
  const rest = events.pop()
  for (const event of events) {
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith('data:')) onText(pieceOf(line.slice(5).trimStart()))
    }
  }
  return rest
}

/** JSON lines: each complete line; returns what is left over. */
function linePieces (text, onText) {
  const lines = text.split('\n')
  const rest = lines.pop()
  for (const line of lines) if (line.trim() !== '') onText(pieceOf(line))
  return rest
}

/** A piece of the reply: `{"content": "…"}` gives its content, `[DONE]` nothing, anything else itself. */
function pieceOf (data) {
  if (data === '[DONE]') return ''
  try {
    const value = JSON.parse(data)
    if (typeof value?.content === 'string') return value.content
  } catch { /* plain text */ }
  return data
}

// fetch rejects only when no HTTP answer reached this script: the proxy is down or
// unreachable, the timeout fired, or the browser hid the answer because this page's
// origin is not in the proxy's CORS_ORIGINS (the browser console says which). There is
// no status and no problem body to show.
function noAnswer (error, url, requestId) {
  console.error('hottask-proxy: no answer from %s', url, error)
  const timedOut = error instanceof DOMException && error.name === 'TimeoutError'
  return {
    ok: false,
    status: 0,
    title: timedOut ? 'No answer in time' : 'Chat service unreachable',
    detail: timedOut
      ? 'The chat service did not answer in time. Please try again.'
      : 'Could not reach the chat service. Check your connection and try again.',
    code: timedOut ? 'CLIENT_TIMEOUT' : 'NETWORK_ERROR',
    requestId,
    retryAfter: null
  }
}

// Every refusal is an RFC 9457 problem (Content-Type: application/problem+json): branch
// on `code`, show `title` and `detail` to people, quote `requestId` to support.
async function problemOf (response, requestId, fallback) {
  let problem = {}
  if ((response.headers.get('content-type') ?? '').includes('json')) {
    try { problem = await response.json() } catch { /* not JSON after all */ }
  }
  return {
    ok: false,
    status: response.status,
    title: typeof problem.title === 'string' ? problem.title : `HTTP ${response.status}`,
    detail: typeof problem.detail === 'string' ? problem.detail : fallback,
    code: typeof problem.code === 'string' ? problem.code : 'UNKNOWN',
    requestId: typeof problem.requestId === 'string' ? problem.requestId : requestId,
    // Sent with 429 RATE_LIMITED, 503 UPSTREAM_RATE_LIMITED, 503 OVERLOADED and 503
    // RATE_LIMIT_UNAVAILABLE: do not try again before it has passed.
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
// The page: reads its configuration, wires the button and the composer, renders
// outcomes. All text is set with textContent, never innerHTML: a reply is the chatbot's
// words, which are data, not markup.

const $ = (id) => document.getElementById(id)
const button = $('start')
const result = $('result')
const countdown = $('countdown')
const announce = $('announce')
const chat = $('chat')
const messages = $('messages')
const composer = $('composer')
const input = $('message')
const send = $('send')
const BUTTON_LABEL = button.textContent
/** Problems that mean the session is over: a new one must be started. */
const SESSION_OVER = new Set(['SESSION_TOKEN_EXPIRED', 'INVALID_SESSION_TOKEN', 'SESSION_NOT_FOUND', 'SESSION_TOKEN_REQUIRED'])
let session = null

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
  session = { sessionId: outcome.sessionId, sessionToken: outcome.sessionToken }
  messages.replaceChildren()
  chat.hidden = false
  input.focus()
}

function endSession () {
  session = null
  chat.hidden = true
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

/** Keeps `button` (Start chat, or Send) disabled until `seconds` have passed, showing the time left. */
function waitBeforeRetry (seconds, target = button) {
  const label = target.textContent === 'Please wait' ? BUTTON_LABEL : target.textContent
  const until = Date.now() + seconds * 1000
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000)
    if (left <= 0) {
      clearInterval(timer)
      timer = null
      countdown.hidden = true
      countdown.textContent = ''
      target.disabled = false
      target.textContent = label
      announce.textContent = 'You can try again now.'
      return
    }
    countdown.textContent = `You can try again in ${left} s.`
  }
  target.disabled = true
  target.textContent = 'Please wait'
  countdown.hidden = false
  tick()
  timer = setInterval(tick, 250)
}

/** Sends the composer's text and streams the reply into a new bubble. */
async function onSend (event) {
  event.preventDefault()
  const content = input.value
  if (session === null || timer !== null || content.trim() === '') return
  input.value = ''
  send.disabled = true
  el(messages, 'li', { className: 'message user' }, content)
  const reply = el(messages, 'li', { className: 'message bot' })
  reply.setAttribute('aria-busy', 'true')
  const outcome = await sendMessage(proxyUrl, session, content, (piece) => {
    reply.textContent += piece
    messages.scrollTop = messages.scrollHeight
  })
  reply.removeAttribute('aria-busy')
  send.disabled = false
  if (outcome.ok) {
    if (outcome.cut) el(messages, 'li', { className: 'message note' }, 'The answer was cut off. Please ask again.')
    return
  }
  reply.remove()
  showProblem(outcome)
  if (SESSION_OVER.has(outcome.code)) {
    // The token expired (or the session is gone): the visitor starts a new chat.
    endSession()
    announce.textContent = 'This chat has ended. Start a new chat to continue.'
    return
  }
  if (outcome.retryAfter !== null && outcome.retryAfter > 0) waitBeforeRetry(outcome.retryAfter, send)
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
  composer.addEventListener('submit', (event) => { onSend(event) })
  // Enter sends, Shift+Enter starts a new line.
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey) return
    event.preventDefault()
    composer.requestSubmit()
  })
}
