// The benchmark's floor for a real proxy: Fastify + one undici pool doing only the
// forward and the envelope check, with no logging, validation, CORS, rate limit or
// metrics. Our proxy's throughput is reported as a ratio of this one's, so the ratio
// is the measured price of every feature we add on top.
// The streaming scenario's floor is its message route: the relay written the plain way.
// Env: HOTTASK_BASE_URL, HOTTASK_API_KEY, PORT, HOST, UPSTREAM_MAX_CONCURRENCY.
import Fastify from 'fastify'
import { Pool } from 'undici'

const SESSION_PATH = '/chat/Chatbot/GetSession'
const ASK_PATH = '/chat/Chat/ClientAsk'

interface Envelope { Success?: unknown, Code?: unknown, Data?: { SessionID?: unknown } | null }

const base = process.env.HOTTASK_BASE_URL ?? 'http://127.0.0.1:4010'
const key = process.env.HOTTASK_API_KEY ?? ''
const pool = new Pool(base, { connections: Number(process.env.UPSTREAM_MAX_CONCURRENCY ?? 128), pipelining: 1 })

const app = Fastify({ logger: false })

app.post('/sessions', async (request, reply) => {
  const { serialNumber } = request.body as { serialNumber?: unknown }
  const response = await pool.request({
    path: SESSION_PATH,
    method: 'POST',
    headers: { authorization: key, 'content-type': 'application/json' },
    body: JSON.stringify({ serialNumber })
  })
  const envelope = await response.body.json() as Envelope
  const id = envelope.Data?.SessionID
  if (response.statusCode !== 200 || envelope.Success !== true || envelope.Code !== 200 || typeof id !== 'number') {
    return reply.code(502).send({ error: 'bad upstream answer' })
  }
  return reply.code(201).send({ sessionId: id })
})

// The plain relay: ask upstream and hand its body to reply.send, which pipes it.
app.post('/sessions/:sessionId/messages', async (request, reply) => {
  const { content, stream } = request.body as { content?: unknown, stream?: unknown }
  const response = await pool.request({
    path: ASK_PATH,
    method: 'POST',
    headers: { authorization: key, 'content-type': 'application/json' },
    body: JSON.stringify({ sessionID: Number((request.params as { sessionId: string }).sessionId), content, stream })
  })
  reply.code(response.statusCode).header('content-type', response.headers['content-type'])
  return reply.send(response.body)
})

app.addHook('onClose', async () => { await pool.close() })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })

await app.listen({ port: Number(process.env.PORT ?? 3001), host: process.env.HOST ?? '127.0.0.1' })
