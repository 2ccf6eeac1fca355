// ClientAsk, simulated: POST /chat/Chat/ClientAsk answers a message whole, as the oldest
// public docs show (`Data: {messageid, content, totalToken}`), or streamed as server-sent
// events (a plausible format: the real one is not public). The reply echoes the content
// exactly, so tests see it pass byte for byte. A content starting with `sim:` picks a
// scenario instead; words after it are ignored, so tests can make contents unique.
import type { IncomingMessage, ServerResponse } from 'node:http'

export const ASK_PATH = '/chat/Chat/ClientAsk'

export type ChatScenario =
  | { kind: 'echo' }
  | { kind: 'chunks', count: number, gapMs: number }
  | { kind: 'slow-first', ms: number }
  | { kind: 'reset' }
  | { kind: 'silent' }
  | { kind: 'code', code: number }
  | { kind: 'http', status: number, retryAfter?: number }
  | { kind: 'json' }
  | { kind: 'type', contentType: string }
  | { kind: 'key' }
  | { kind: 'big-id' }
  | { kind: 'bad' }
  | { kind: 'hang' }

const int = (token: string | undefined): number | undefined =>
  token !== undefined && /^\d{1,6}$/.test(token) ? Number(token) : undefined

const TYPES: Record<string, string> = {
  ndjson: 'application/x-ndjson',
  text: 'text/plain; charset=utf-8',
  binary: 'application/vnd.hottask.stream',
  html: 'text/html'
}

/** `sim:<scenario>[ anything]`; anything else is an echo. */
export function chatScenarioOf (content: string): ChatScenario {
  if (!content.startsWith('sim:')) return { kind: 'echo' }
  const [word, a, b, c] = content.slice(4).split(/[\s]/)[0]!.split('-')
  switch (word) {
    case 'chunks': return { kind: 'chunks', count: int(a) ?? 5, gapMs: int(b) ?? 20 }
    case 'slow': return { kind: 'slow-first', ms: int(a) ?? 500 }
    case 'reset': return { kind: 'reset' }
    case 'silent': return { kind: 'silent' }
    case 'code': return { kind: 'code', code: int(a) ?? 500 }
    case 'http': return { kind: 'http', status: int(a) ?? 500, retryAfter: b === 'ra' ? int(c) : undefined }
    case 'json': return { kind: 'json' }
    case 'type': return { kind: 'type', contentType: TYPES[a ?? ''] ?? 'application/octet-stream' }
    case 'key': return { kind: 'key' }
    case 'big': return { kind: 'big-id' }
    case 'bad': return { kind: 'bad' }
    case 'hang': return { kind: 'hang' }
  }
  return { kind: 'echo' }
}

interface Ask { sessionID: unknown, content: unknown, stream: unknown }

const whole = (messageId: number | string, content: string): string =>
  `{"Data":{"messageid":${messageId},"content":${JSON.stringify(content)},"totalToken":${content.length + 7}},"Version":"1.0.0","Success":true,"Code":200,"Message":""}`

const failure = (code: number, message: string): string =>
  JSON.stringify({ Data: null, Version: '1.0.0', Success: false, Code: code, Message: message })

/** One server-sent event carrying a piece of the reply. */
const event = (piece: string): string => `data: ${JSON.stringify({ content: piece })}\n\n`

export interface ChatContext {
  nextMessageId: () => number
  key: string
}

/** Splits `text` into `count` pieces (by characters, so none is cut inside one). */
function pieces (text: string, count: number): string[] {
  const chars = Array.from(text)
  const size = Math.max(1, Math.ceil(chars.length / count))
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push(chars.slice(i * size, (i + 1) * size).join(''))
  return out
}

export function answerAsk (body: string, req: IncomingMessage, res: ServerResponse, context: ChatContext): void {
  let ask: Ask
  try {
    ask = JSON.parse(body) as Ask
  } catch {
    ask = { sessionID: undefined, content: undefined, stream: undefined }
  }
  const json = (status: number, text: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
    res.end(text)
  }
  if (typeof ask.sessionID !== 'number' || typeof ask.content !== 'string') return json(200, failure(400, 'sessionID and content are required.'))
  const content = ask.content
  const scenario = chatScenarioOf(content)
  const stream = ask.stream === true
  const streamed = (contentType: string, parts: string[], gapMs: number, after?: () => void): void => {
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', 'set-cookie': 'upstream=1' })
    let i = 0
    const next = (): void => {
      if (res.destroyed) return
      if (i < parts.length) {
        res.write(parts[i++])
        setTimeout(next, gapMs).unref()
        return
      }
      if (after !== undefined) return after()
      res.end()
    }
    next()
  }
  const reply = `Echo: ${content}`
  switch (scenario.kind) {
    case 'echo':
      if (!stream) return json(200, whole(context.nextMessageId(), content))
      return streamed('text/event-stream; charset=utf-8', [...pieces(reply, 4).map(event), 'data: [DONE]\n\n'], 10)
    case 'chunks':
      return streamed('text/event-stream; charset=utf-8', [...pieces(reply.padEnd(scenario.count * 4, '.'), scenario.count).map(event), 'data: [DONE]\n\n'], scenario.gapMs)
    case 'slow-first':
      setTimeout(() => answerAsk(JSON.stringify({ ...ask, content: 'plain reply' }), req, res, context), scenario.ms).unref()
      return
    case 'reset':
      return streamed('text/event-stream', [event('first'), event('second')], 20, () => req.socket.resetAndDestroy())
    case 'silent':
      return streamed('text/event-stream', [event('then nothing')], 0, () => {})
    case 'code':
      return json(200, failure(scenario.code, `Simulated error ${scenario.code}.`))
    case 'http':
      return json(scenario.status, failure(scenario.status, 'Simulated.'), scenario.retryAfter === undefined ? {} : { 'retry-after': String(scenario.retryAfter) })
    case 'json':
      return json(200, whole(context.nextMessageId(), 'not streamed after all'))
    case 'type':
      return streamed(scenario.contentType, ['raw-1 ', 'raw-2'], 5)
    case 'key': {
      // The key split across two chunks, as a careless upstream might echo it.
      const half = Math.floor(context.key.length / 2)
      return streamed('text/event-stream', [`data: key=${context.key.slice(0, half)}`, `${context.key.slice(half)} end\n\n`], 30)
    }
    case 'big-id':
      return json(200, whole('9007199254740993123', 'big'))
    case 'bad':
      return json(200, '{"Data":{"messageid":"12","content":5},"Success":true,"Code":200}')
    case 'hang':
  }
}
