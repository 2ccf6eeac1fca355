import Fastify from 'fastify'
import { test } from 'tap'
import { checkSessionPath, sessionTokenGuard } from '../../../src/guards/session-token.ts'
import { errorHandler } from '../../../src/http/error-handler.ts'
import { SessionTokens } from '../../../src/tokens/session-tokens.ts'

const tokens = new SessionTokens({ secret: 'guard-session-token-secret-0123456789abc', ttlMs: 60_000 })

async function app () {
  const fastify = Fastify()
  fastify.decorateRequest('clientName', null)
  fastify.decorateRequest('sessionChatbot', null)
  fastify.setErrorHandler(errorHandler(() => {}))
  fastify.post('/s/:sessionId', { onRequest: [checkSessionPath, sessionTokenGuard(tokens)] }, async (request) => ({ chatbot: request.sessionChatbot }))
  await fastify.ready()
  return fastify
}

test('the path check, then the token: required, verified for this session and caller', async (t) => {
  const fastify = await app()
  t.teardown(() => fastify.close())
  const token = tokens.issue({ sessionId: '42', serialNumber: 'bot-a', binding: { kind: 'origin', origin: 'https://a.example' } })
  const post = (id: string, headers: Record<string, string | string[]>) => fastify.inject({ method: 'POST', url: `/s/${id}`, headers })
  t.equal((await post('042', { 'session-token': token })).json().code, 'VALIDATION_FAILED')
  t.equal((await post('42', {})).json().code, 'SESSION_TOKEN_REQUIRED')
  t.equal((await post('42', { 'session-token': token })).json().code, 'INVALID_SESSION_TOKEN', 'no Origin is not that Origin')
  const ok = await post('42', { 'session-token': token, origin: 'https://a.example' })
  t.same(ok.json(), { chatbot: 'bot-a' }, 'the token names the chatbot for what follows')
  t.equal((await post('43', { 'session-token': token, origin: 'https://a.example' })).json().code, 'INVALID_SESSION_TOKEN')
})
