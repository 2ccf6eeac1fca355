// The off-the-shelf alternative: @fastify/http-proxy (reply-from over undici) forwarding
// POST /sessions to the upstream's session path with the key injected. It streams the
// upstream's answer back untouched: no envelope check, no logging.
// Env: HOTTASK_BASE_URL, HOTTASK_API_KEY, PORT, HOST, UPSTREAM_MAX_CONCURRENCY.
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const key = process.env.HOTTASK_API_KEY ?? ''

const app = Fastify({ logger: false })

await app.register(proxy, {
  upstream: process.env.HOTTASK_BASE_URL ?? 'http://127.0.0.1:4010',
  prefix: '/sessions',
  rewritePrefix: '/chat/Chatbot/GetSession',
  httpMethods: ['POST'],
  undici: { connections: Number(process.env.UPSTREAM_MAX_CONCURRENCY ?? 128), pipelining: 1 },
  replyOptions: {
    rewriteRequestHeaders: (_request, headers) => ({ ...headers, authorization: key })
  }
})

process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })

await app.listen({ port: Number(process.env.PORT ?? 3002), host: process.env.HOST ?? '127.0.0.1' })
