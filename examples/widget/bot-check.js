// The bot check in the page, for a proxy with BOT_CHECK=altcha: the ALTCHA widget (v3)
// fetches a challenge from the proxy's GET /bot-check/challenge, solves it here (proof of
// work in Web Workers, no third party), and gives a payload that goes once in the
// Bot-Check-Token header of POST /sessions. The proxy accepts each solution once, so the
// widget is reset after every try.
//
// The widget's files come from this page's own origin (the demo serves them from
// node_modules/altcha): its "external" build, which needs no inline style or script, with
// the stylesheet and the SHA worker as files of their own. They are loaded only in this mode.
/* global Worker */
const SCRIPT = new URL('vendor/altcha.js', import.meta.url).href
const STYLESHEET = new URL('vendor/altcha.css', import.meta.url).href
const SHA_WORKER = new URL('vendor/altcha-sha-worker.js', import.meta.url).href

/**
 * Puts an ALTCHA widget into `container`, for challenges from `proxyUrl`. Resolves to
 * { solve, reset }: `solve()` resolves to a payload (the visitor may already have ticked
 * the box; otherwise the work starts now), or to null when no solution was found.
 */
export async function altchaBotCheck (container, proxyUrl) {
  const stylesheet = Object.assign(document.createElement('link'), { rel: 'stylesheet', href: STYLESHEET })
  document.head.append(stylesheet)
  await import(SCRIPT)
  // The external build has no worker of its own: one file serves the SHA family.
  for (const algorithm of ['SHA-256', 'SHA-384', 'SHA-512']) {
    globalThis.$altcha.algorithms.set(algorithm, () => new Worker(SHA_WORKER))
  }
  const widget = document.createElement('altcha-widget')
  // Attributes, not configure(): the element's methods exist only once it is connected.
  widget.setAttribute('challenge', `${proxyUrl}/bot-check/challenge`)
  widget.setAttribute('auto', 'off')
  container.append(widget)

  let verified = null
  widget.addEventListener('verified', (event) => { verified = event.detail.payload })
  widget.addEventListener('statechange', (event) => { if (event.detail.state !== 'verified') verified = null })
  // Resolves once a verification under way (the visitor ticked the box) has ended.
  const settled = () => new Promise((resolve) => {
    const listener = (event) => {
      if (event.detail.state === 'verifying') return
      widget.removeEventListener('statechange', listener)
      resolve()
    }
    widget.addEventListener('statechange', listener)
  })

  return {
    async solve () {
      if (widget.getState() === 'verifying') await settled()
      if (widget.getState() === 'verified' && verified !== null) return verified
      const result = await widget.verify()
      return result?.payload ?? null
    },
    reset () { widget.reset() }
  }
}

/** The problem shown when the widget could not get or solve a challenge (it says why too). */
export const UNSOLVED = {
  ok: false,
  status: 0,
  title: 'Bot check not passed',
  detail: 'The anti-bot check could not be completed. Please try again.',
  code: 'BOT_CHECK_UNSOLVED',
  requestId: null,
  retryAfter: null,
  quota: null
}
