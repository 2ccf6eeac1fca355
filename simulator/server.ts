// A faithful simulated hottask upstream: a real HTTP server on loopback that answers
// POST /chat/Chatbot/GetSession like the public docs, or fails on purpose as the
// serialNumber's scenario says, and POST /chat/Chat/ClientAsk (chat.ts). Tests, the demo
// and the benchmark talk to it over HTTP.
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { answerAsk, ASK_PATH } from './chat.ts'
import { envelope, scenarioOf } from './scenarios.ts'
import type { Scenario } from './scenarios.ts'

export const DEFAULT_SIM_KEY = 'sim-key-0123456789abcdef'
const SESSION_PATH = '/chat/Chatbot/GetSession'
const KEPT_REQUESTS = 1000

export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

export interface SimulatorOptions {
  port?: number
  host?: string
  /** The key(s) the simulator accepts in Authorization (several while a key rotates). */
  key?: string | string[]
  /** Added before every answer (the benchmark's slow mode). */
  delayMs?: number
}

export interface Simulator {
  url: string
  port: number
  /** The last requests received (at most 1000), oldest first. */
  requests: RecordedRequest[]
  /** Requests received since start or reset. */
  count: () => number
  /** Resolves once `count()` has reached `n`: tests wait for a request to arrive instead of sleeping. */
  received: (n: number) => Promise<void>
  /** From now on accept only these keys (a key revoked upstream while the proxy runs). */
  acceptKeys: (keys: string[]) => void
  stats: () => { requests: number, openConnections: number, peakConnections: number }
  reset: () => void
  close: () => Promise<void>
}

const ok = (sessionId: number | string): string =>
  `{"Data":{"SessionID":${sessionId}},"Version":"1.0.0","Success":true,"Code":200,"Message":""}`

function send (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
  res.end(body)
}

function readBody (req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

const MESSAGES: Record<number, string> = {
  400: 'The serialNumber parameter is invalid.',
  401: 'Invalid API key.',
  403: 'The API key may not access this chatbot.',
  404: 'Chatbot not found.',
  422: 'The chatbot is disabled.',
  429: 'Too many requests.'
}

export async function startSimulator (options: SimulatorOptions = {}): Promise<Simulator> {
  const keys = new Set([options.key ?? DEFAULT_SIM_KEY].flat())
  const delayMs = options.delayMs ?? 0
  const requests: RecordedRequest[] = []
  const failuresSeen = new Map<string, number>()
  const sockets = new Set<Socket>()
  let total = 0
  const waiting: Array<{ n: number, resolve: () => void }> = []
  let peak = 0
  let nextSessionId = 100001
  let nextMessageId = 375561

  function answer (scenario: Scenario, serialNumber: string, req: IncomingMessage, res: ServerResponse): void {
    switch (scenario.kind) {
      case 'success':
        return send(res, 200, ok(nextSessionId++))
      case 'code': {
        const headers: Record<string, string> = scenario.retryAfter === undefined ? {} : { 'retry-after': String(scenario.retryAfter) }
        return send(res, 200, envelope({ Code: scenario.code, Message: MESSAGES[scenario.code] ?? `Simulated error ${scenario.code}.` }), headers)
      }
      case 'http': {
        const headers: Record<string, string> = scenario.retryAfter === undefined ? {} : { 'retry-after': String(scenario.retryAfter) }
        if (scenario.code !== undefined) {
          return send(res, scenario.status, envelope({ Code: scenario.code, Message: MESSAGES[scenario.code] ?? 'Simulated error.' }), headers)
        }
        return send(res, scenario.status, `Simulated HTTP ${scenario.status} at internal-host-7.hottask.local`, { ...headers, 'content-type': 'text/plain' })
      }
      case 'body':
        return send(res, 200, scenario.body, { 'content-type': scenario.contentType })
      case 'huge':
        return send(res, 200, ok(nextSessionId++).replace('"Message":""', `"Message":"${'x'.repeat(100 * 1024)}"`))
      case 'big-id':
        return send(res, 200, ok('9007199254740993123'))
      case 'slow':
        setTimeout(() => answer({ kind: 'success' }, serialNumber, req, res), scenario.ms).unref()
        return
      case 'hang':
        return // never answers; the socket stays open until the client gives up
      case 'hang-body':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' })
        res.write('{"Data":{"Sess')
        return
      case 'reset':
        req.socket.resetAndDestroy()
        return
      case 'close':
        req.socket.end()
        return
      case 'redirect':
        return send(res, 302, '', { location: 'http://127.0.0.1:1/elsewhere' })
      case 'echo-key':
        return send(res, 200, envelope({ Code: 400, Message: `Bad\u0000 request\u001b[31m for key ${String(req.headers.authorization)}\r\nsecond line` }))
      case 'flaky': {
        const seen = failuresSeen.get(serialNumber) ?? 0
        failuresSeen.set(serialNumber, seen + 1)
        return answer(seen < scenario.times ? scenario.then : { kind: 'success' }, serialNumber, req, res)
      }
    }
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    if (req.url?.startsWith('/__sim/')) return control(req, res)
    total++
    for (const waiter of waiting.filter((w) => w.n <= total)) {
      waiting.splice(waiting.indexOf(waiter), 1)
      waiter.resolve()
    }
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
    if (requests.length > KEPT_REQUESTS) requests.shift()

    if (req.method !== 'POST' || (req.url !== SESSION_PATH && req.url !== ASK_PATH)) {
      return send(res, 404, 'Not Found', { 'content-type': 'text/plain' })
    }
    if (!keys.has(req.headers.authorization ?? '')) {
      return send(res, 401, envelope({ Code: 401, Message: MESSAGES[401] }))
    }
    if (req.url === ASK_PATH) {
      const reply = (): void => answerAsk(body, req, res, { nextMessageId: () => nextMessageId++, key: req.headers.authorization ?? '' })
      if (delayMs > 0) setTimeout(reply, delayMs)
      else reply()
      return
    }
    let serialNumber: unknown
    try {
      serialNumber = (JSON.parse(body) as { serialNumber?: unknown }).serialNumber
    } catch {}
    if (typeof serialNumber !== 'string' || serialNumber === '') {
      return send(res, 200, envelope({ Code: 400, Message: MESSAGES[400] }))
    }
    const scenario = scenarioOf(serialNumber)
    if (delayMs > 0 && scenario.kind === 'success') {
      setTimeout(() => answer(scenario, serialNumber, req, res), delayMs)
      return
    }
    answer(scenario, serialNumber, req, res)
  }

  /** Out-of-process observers (the benchmark, the demo) read counters over HTTP. */
  function control (req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/__sim/reset' && req.method === 'POST') simulator.reset()
    send(res, 200, JSON.stringify(simulator.stats()))
  }

  const server = createServer((req, res) => { handle(req, res).catch(() => res.destroy()) })
  server.keepAliveTimeout = 60000
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    peak = Math.max(peak, sockets.size)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const simulator: Simulator = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    count: () => total,
    acceptKeys: (accepted) => {
      keys.clear()
      for (const key of accepted) keys.add(key)
    },
    received: (n) => n <= total ? Promise.resolve() : new Promise((resolve) => { waiting.push({ n, resolve }) }),
    stats: () => ({ requests: total, openConnections: sockets.size, peakConnections: peak }),
    reset: () => {
      total = 0
      peak = sockets.size
      requests.length = 0
      failuresSeen.clear()
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  return simulator
}
