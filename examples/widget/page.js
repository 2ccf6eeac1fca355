// The widget example's page: reads its configuration, wires the button and the composer,
// renders outcomes. The calls to the proxy are widget.js's; what the page sends to say who
// it is depends on its mode (identity.js). All text is set with textContent, never
// innerHTML: a reply is the chatbot's words, which are data, not markup.
//
// Configuration, from this page's query string (defaults in brackets):
//   ?proxy=<origin of hottask-proxy>        [http://127.0.0.1:3000]
//   ?chatbot=<chatbot serialNumber>         [the demo chatbot]
//   ?mode=anonymous|visitor|altcha          [anonymous]
// In production you would hard-code them.
import { createSession, sendMessage } from './widget.js'
import { identityFor, MODES } from './identity.js'

const DEFAULT_PROXY = 'http://127.0.0.1:3000'
const DEFAULT_CHATBOT = '3254a9d0424c4806b9ea3d0763ccf123'

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
const quota = $('quota')
const BUTTON_LABEL = button.textContent
/** Problems that mean the session is over: a new one must be started. */
const SESSION_OVER = new Set(['SESSION_TOKEN_EXPIRED', 'INVALID_SESSION_TOKEN', 'SESSION_NOT_FOUND', 'SESSION_TOKEN_REQUIRED'])
let session = null

const params = new URLSearchParams(window.location.search)
const proxyUrl = proxyUrlOf(params.get('proxy') ?? DEFAULT_PROXY)
const chatbotId = params.get('chatbot') || DEFAULT_CHATBOT
const mode = params.get('mode') || 'anonymous'
$('proxy-url').textContent = proxyUrl ?? String(params.get('proxy'))
$('chatbot-id').textContent = chatbotId
showModes()

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

/** The modes, the current one marked, the others as links keeping the other parameters. */
function showModes () {
  const list = $('modes')
  for (const [name, label] of Object.entries(MODES)) {
    const item = el(list, 'li')
    if (name === mode) {
      el(item, 'strong', { id: 'mode' }, label).setAttribute('aria-current', 'page')
      continue
    }
    const url = new URL(window.location.href)
    url.searchParams.set('mode', name)
    el(item, 'a', { href: `${url.pathname}${url.search}` }, label)
  }
}

/** "7 s", "2 min 5 s", "11 h 40 min". */
function durationText (seconds) {
  if (seconds < 60) return `${seconds} s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`
}

/** The daily quota the proxy told with its last answer of this kind ('sessions' or 'messages'). */
function showQuota (kind, state) {
  if (state === null || state === undefined) return
  const text = `${state.remaining} of ${state.limit} left today` +
    (state.resetSeconds === null ? '' : ` (renews in ${durationText(state.resetSeconds)})`)
  const id = `quota-${kind}`
  const existing = $(id)
  if (existing !== null) existing.textContent = text
  else addField(quota, kind === 'sessions' ? 'Chats' : 'Messages', text, id)
  quota.hidden = false
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
    countdown.textContent = `You can try again in ${durationText(left)}.`
  }
  target.disabled = true
  target.textContent = 'Please wait'
  countdown.hidden = false
  tick()
  timer = setInterval(tick, 250)
}

/** Sends the composer's text and streams the reply into a new bubble. */
async function onSend (identity, event) {
  event.preventDefault()
  const content = input.value
  if (session === null || timer !== null || content.trim() === '') return
  input.value = ''
  send.disabled = true
  el(messages, 'li', { className: 'message user' }, content)
  const reply = el(messages, 'li', { className: 'message bot' })
  reply.setAttribute('aria-busy', 'true')
  const auth = await identity.forMessage()
  let outcome = auth
  if (auth.ok) {
    outcome = await sendMessage(proxyUrl, session, content, (piece) => {
      reply.textContent += piece
      messages.scrollTop = messages.scrollHeight
    }, auth.headers)
    identity.answered('message', outcome)
  }
  reply.removeAttribute('aria-busy')
  send.disabled = false
  showQuota('messages', outcome.quota)
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

async function onStart (identity) {
  if (timer !== null) return
  button.disabled = true
  button.textContent = 'Starting…'
  announce.textContent = ''
  result.setAttribute('aria-busy', 'true')
  const auth = await identity.forSession()
  let outcome = auth
  if (auth.ok) {
    outcome = await createSession(proxyUrl, chatbotId, auth.headers)
    identity.answered('session', outcome)
  }
  result.removeAttribute('aria-busy')
  button.disabled = false
  button.textContent = BUTTON_LABEL
  showQuota('sessions', outcome.quota)
  if (outcome.ok) {
    showSession(outcome)
    return
  }
  showProblem(outcome)
  if (outcome.retryAfter !== null && outcome.retryAfter > 0) waitBeforeRetry(outcome.retryAfter)
}

async function main () {
  if (proxyUrl === null) {
    button.disabled = true
    showProblem({ title: 'Invalid proxy URL', detail: 'The ?proxy= parameter must be an http(s) URL.', code: 'CONFIGURATION', status: 0, requestId: null })
    return
  }
  if (!Object.hasOwn(MODES, mode)) {
    button.disabled = true
    showProblem({ title: 'Invalid mode', detail: `The ?mode= parameter must be one of: ${Object.keys(MODES).join(', ')}.`, code: 'CONFIGURATION', status: 0, requestId: null })
    return
  }
  // Ready once the mode is (the bot check loads its widget first).
  button.disabled = true
  let identity
  try {
    identity = await identityFor(mode, { proxyUrl, botCheckContainer: $('bot-check') })
  } catch (error) {
    console.error('hottask-proxy: the %s mode could not start', mode, error)
    showProblem({ title: 'Bot check unavailable', detail: 'The bot check could not be loaded on this page.', code: 'CONFIGURATION', status: 0, requestId: null })
    return
  }
  button.disabled = false
  button.addEventListener('click', () => { onStart(identity) })
  composer.addEventListener('submit', (event) => { onSend(identity, event) })
  // Enter sends, Shift+Enter starts a new line.
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.shiftKey) return
    event.preventDefault()
    composer.requestSubmit()
  })
}

main()
