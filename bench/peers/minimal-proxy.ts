// The benchmark's floor for a real proxy: Fastify + one undici pool doing only the
// forward and the envelope check, with no logging, validation, CORS, rate limit or
// metrics. Our proxy's throughput is reported as a ratio of this one's, so the ratio
// is the measured price of every feature we add on top.
// Env: HOTTASK_BASE_URL, HOTTASK_API_KEY, PORT, HOST, UPSTREAM_MAX_CONCURRENCY.
import Fastify from 'fastify'
import { Pool } from 'undici'

const SESSION_PATH = '/chat/Chatbot/GetSession'

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

app.addHook('onClose', async () => { await pool.close() })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })

await app.listen({ port: Number(process.env.PORT ?? 3001), host: process.env.HOST ?? '127.0.0.1' })
