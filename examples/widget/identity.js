// Who the page says it is, by its mode (?mode=), for the proxy to judge:
//   anonymous  nothing but the page's origin (the proxy's CORS_ORIGINS), as before;
//   visitor    a visitor token from this site's backend on every request (visitor-token.js),
//              for a proxy with VISITOR_JWT_* (REQUIRE_VISITOR_TOKEN=true refuses anything less);
//   altcha     a solved bot check on POST /sessions (bot-check.js), for a proxy with
//              BOT_CHECK=altcha. A visitor token would skip the bot check.
import { altchaBotCheck, UNSOLVED } from './bot-check.js'
import { bearer, visitorTokens } from './visitor-token.js'

export const MODES = {
  anonymous: 'Anonymous',
  visitor: 'Visitor token',
  altcha: 'Bot check (ALTCHA)'
}
/** This site's backend: same origin as the page. */
export const VISITOR_TOKEN_URL = '/visitor-token'

const nothing = async () => ({ ok: true, headers: {} })

/**
 * The mode's headers: `forSession()` and `forMessage()` resolve to { ok: true, headers } or
 * to a problem to show; `answered(request, outcome)` is told each outcome of a request
 * ('session' or 'message') that went to the proxy.
 */
export async function identityFor (mode, { proxyUrl, botCheckContainer }) {
  if (mode === 'visitor') {
    const tokens = visitorTokens(VISITOR_TOKEN_URL)
    const headers = async () => {
      const token = await tokens.get()
      return token.ok ? { ok: true, headers: bearer(token.token) } : token
    }
    return {
      forSession: headers,
      forMessage: headers,
      // Refused (expired early by the proxy's clock, a rotated key): the next try gets a new one.
      answered (_request, outcome) { if (outcome.code === 'INVALID_VISITOR_TOKEN') tokens.forget() }
    }
  }
  if (mode === 'altcha') {
    botCheckContainer.hidden = false
    const check = await altchaBotCheck(botCheckContainer, proxyUrl)
    return {
      async forSession () {
        const payload = await check.solve()
        return payload === null ? UNSOLVED : { ok: true, headers: { 'bot-check-token': payload } }
      },
      forMessage: nothing,
      // A solution passes once, whatever came of it: the next chat needs a new one.
      answered (request) { if (request === 'session') check.reset() }
    }
  }
  return { forSession: nothing, forMessage: nothing, answered () {} }
}
