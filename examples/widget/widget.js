// hottask-proxy from the browser: `createSession` asks the proxy for a chat session, and
// `sendMessage` sends a message to it and streams the chatbot's reply. Both resolve to an
// outcome (never reject): the session, or the proxy's problem with its Retry-After.
//
// Plain browser JavaScript: no framework, no build step, no external resource, no inline
// script (the page works under a strict Content-Security-Policy). Copy this file into your
// own widget; page.js only renders outcomes, and visitor-token.js and bot-check.js show
// how a visitor token or a bot check is added. The proxy's CORS_ORIGINS must list the
// origin of the page that calls it.
// A little more than the proxy's own upstream deadline (UPSTREAM_TIMEOUT_MS, 10 s).
const REQUEST_TIMEOUT_MS = 15_000
// A reply's first byte may take a chatbot's thinking time (MESSAGE_TIMEOUT_MS, 60 s).
const MESSAGE_TIMEOUT_MS = 65_000

/**
 * Asks hottask-proxy for a new chat session.
 *
 * `authHeaders` are headers that say who is asking, when the proxy wants to know:
 * `{ authorization: 'Bearer <visitor token>' }` (visitor-token.js) or
 * `{ 'bot-check-token': '<solved challenge>' }` (bot-check.js).
 *
 * Resolves (never rejects) to one of:
 *   { ok: true, sessionId, sessionToken, requestId, quota }
 *   { ok: false, status, title, detail, code, requestId, retryAfter, quota }
 * where `retryAfter` is the number of seconds to wait before trying again, or null, and
 * `quota` the visitor's daily session quota ({ limit, remaining, resetSeconds }) when the
 * proxy has one. Keep `sessionToken` with the session: every message to it must carry it.
 */
export async function createSession (proxyUrl, serialNumber, authHeaders = {}) {
  // Our own request id: the proxy echoes it in X-Request-Id, logs it on every line of
  // this request and sends it upstream, so a support ticket quoting it finds everything.
  // (Optional: without it the proxy makes one up and returns it the same way.)
  const sentRequestId = newRequestId()
  const headers = { ...authHeaders, 'content-type': 'application/json' }
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
    return { ok: true, sessionId: digits ? digits[1] : String(body.sessionId), sessionToken: body.sessionToken, requestId, quota: quotaOf(response) }
  }
  return await problemOf(response, requestId, 'The chat service could not start a session.')
}

/**
 * Sends one message to a session and streams the chatbot's reply: `onText(piece)` is
 * called with each piece of the reply as it arrives (once, with the whole reply, when
 * the proxy answers whole).
 *
 * `authHeaders`: with visitor tokens, the same visitor's bearer token as for the session
 * (a fresh one is fine: the proxy checks who, not which token).
 *
 * Resolves (never rejects) to { ok: true, cut: false }, to { ok: true, cut: true } when
 * the stream broke off before its end (what arrived is all there is), or to a problem as
 * createSession gives; each with the daily message quota in `quota` when there is one.
 * SESSION_TOKEN_EXPIRED, INVALID_SESSION_TOKEN and SESSION_NOT_FOUND mean: start a new
 * session.
 */
export async function sendMessage (proxyUrl, session, content, onText, authHeaders = {}) {
  const sentRequestId = newRequestId()
  // The session token authorises this message; it is bound to this page's origin (and,
  // with visitor tokens, to the visitor).
  const headers = { ...authHeaders, 'content-type': 'application/json', 'session-token': session.sessionToken }
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
  const quota = quotaOf(response)

  const type = (response.headers.get('content-type') ?? '').toLowerCase()
  // The proxy may answer whole (JSON) even to a streamed request.
  if (type.startsWith('application/json')) {
    onText((await response.json()).content)
    return { ok: true, cut: false, requestId, quota }
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
    return { ok: true, cut: true, requestId, quota }
  }
  return { ok: true, cut: false, requestId, quota }
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
    retryAfter: null,
    quota: null
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
    retryAfter: retryAfterSeconds(response.headers.get('retry-after')),
    // 429 QUOTA_EXCEEDED tells the spent quota too.
    quota: quotaOf(response)
  }
}

/**
 * The visitor's daily quota from X-Quota-Limit, X-Quota-Remaining and X-Quota-Reset (seconds
 * until it renews, at UTC midnight), or null when the proxy sent none. The proxy exposes them
 * to scripts. POST /sessions tells the session quota; a message tells the message quota (or,
 * with a token quota alone, the tokens left).
 */
function quotaOf (response) {
  const limit = Number(response.headers.get('x-quota-limit') ?? NaN)
  const remaining = Number(response.headers.get('x-quota-remaining') ?? NaN)
  if (!Number.isSafeInteger(limit) || !Number.isSafeInteger(remaining)) return null
  const reset = Number(response.headers.get('x-quota-reset') ?? NaN)
  return { limit, remaining, resetSeconds: Number.isSafeInteger(reset) ? reset : null }
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
