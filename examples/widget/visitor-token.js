// Visitor tokens in the page: the site's own backend (same origin, so its session cookie
// says who is signed in) gives a short-lived token, and the page sends it to the proxy as
// `Authorization: Bearer <token>` on POST /sessions and on every message. The proxy then
// counts limits and quotas per visitor, and binds the session to that visitor.
//
// A token is kept until it nears its end and fetched anew on the next request after
// that: an idle page asks the backend for nothing. The backend answers
// { "token": "<JWT>", "expiresIn": <seconds> }; the page counts from when it got it, so a
// wrong clock in the browser does not matter.

/** Fetch a new token once less than this is left (a short-lived one: once half its life has passed). */
const REFRESH_BEFORE_S = 60
const TIMEOUT_MS = 10_000

/**
 * A source of visitor tokens from `url` (the site's backend). `get()` resolves (never
 * rejects) to { ok: true, token } or to a problem the page can show, shaped as widget.js's;
 * `forget()` drops the token the proxy refused, so the next request fetches another.
 */
export function visitorTokens (url) {
  let current = null // { token, refreshAt }
  let pending = null

  async function fetchToken () {
    let answer
    try {
      // Same origin: the site's session cookie goes along, as it would on a real site.
      const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS) })
      answer = response.ok ? await response.json() : { status: response.status }
    } catch (error) {
      console.error('hottask-proxy: no visitor token from %s', url, error)
      answer = { status: 0 }
    }
    if (typeof answer.token !== 'string' || !Number.isFinite(answer.expiresIn)) return unavailable(answer.status ?? 0)
    const lifetimeS = answer.expiresIn
    current = { token: answer.token, refreshAt: Date.now() + Math.max(lifetimeS - REFRESH_BEFORE_S, lifetimeS / 2) * 1000 }
    return { ok: true, token: answer.token }
  }

  return {
    async get () {
      if (current !== null && Date.now() < current.refreshAt) return { ok: true, token: current.token }
      // Two requests at once share one fetch.
      pending ??= fetchToken().finally(() => { pending = null })
      return await pending
    },
    forget () { current = null }
  }
}

/** The bearer header of a token. */
export const bearer = (token) => ({ authorization: `Bearer ${token}` })

function unavailable (status) {
  return {
    ok: false,
    status,
    title: 'Not signed in to the chat',
    detail: 'This site could not vouch for you (no visitor token). Reload the page or sign in again.',
    code: 'VISITOR_TOKEN_UNAVAILABLE',
    requestId: null,
    retryAfter: null,
    quota: null
  }
}
